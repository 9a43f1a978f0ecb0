import type { ServerResponse } from 'node:http';
import { ConfigError, loadConfig } from '../shared/config/config.js';
import { createLogger } from '../shared/log/logger.js';
import { answerClientErrors } from './api/client-errors.js';
import { createHub } from './create-hub.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  // Until the server listens there is nothing to drain: a stop asked for during start-up (Redis not
  // reachable yet, say) exits at once instead of being ignored, as it would be by PID 1 in a container.
  let stop = (signal: string): void => {
    log.info({ signal }, 'stopping during start-up');
    process.exit(0);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  const running = createHub({ config, log });
  try {
    await running.start();
  } catch (err) {
    // Redis not reachable within its start-up wait, say: said in the log's JSON like every other line,
    // and the orchestrator starts the process again.
    log.fatal({ err: (err as Error).message }, 'cannot start');
    process.exit(1);
  }
  // Express 5 hands a failed listen (the port taken, say) to this callback, not to an 'error' event.
  const server = running.app.listen(config.port, config.host, (err?: Error) => {
    if (err) {
      log.fatal({ err: err.message, host: config.host, port: config.port }, 'cannot listen');
      void running.close().finally(() => process.exit(1));
      return;
    }
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    log.info({ host: config.host, port, store: running.hub.store.kind }, 'presence hub listening');
  });
  answerClientErrors(server);

  let stopping = false;
  // While stopping, a keep-alive connection is closed as soon as its request is answered.
  server.on('request', (_req, res: ServerResponse) =>
    res.on('finish', () => {
      if (stopping) setImmediate(() => server.closeIdleConnections());
    }),
  );
  stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    // Requests in flight finish before the store closes under them. Open streams never end on their
    // own: after the grace period every connection is cut, and clients resume on another replica.
    const drained = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const force = setTimeout(() => server.closeAllConnections(), config.shutdownGraceMs);
    force.unref();
    void drained
      .then(() => running.close())
      .then(() => {
        log.info('stopped');
        process.exit(0);
      });
  };
}

main().catch((err: unknown) => {
  process.stderr.write(`fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
