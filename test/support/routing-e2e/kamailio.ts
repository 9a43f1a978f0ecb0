import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { findBinary } from './components.js';
import { startChild, tail, type Child } from './processes.js';

export const ROUTING_PROXY_CFG = resolve('kamailio/routing-proxy.cfg');

export interface RoutingProxy {
  port: number;
  process: Child;
  stop(): Promise<void>;
}

/** Sends an OPTIONS to the proxy until it answers 200, i.e. it listens and runs its request route. */
async function waitForOptions(port: number, proc: Child, timeoutMs = 10_000): Promise<void> {
  const socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  const local = socket.address().port;
  const answered = new Promise<void>((r) => socket.on('message', (m) => m.toString().startsWith('SIP/2.0 200') && r()));
  const deadline = Date.now() + timeoutMs;
  try {
    for (let i = 0; Date.now() < deadline; i++) {
      if (proc.child.exitCode !== null) throw new Error(`kamailio exited with ${proc.child.exitCode}\n${tail(proc)}`);
      const msg = [
        `OPTIONS sip:127.0.0.1:${port} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bK-probe-${i}`,
        'Max-Forwards: 70',
        `From: <sip:probe@127.0.0.1:${local}>;tag=probe${i}`,
        `To: <sip:127.0.0.1:${port}>`,
        `Call-ID: probe-${i}@127.0.0.1`,
        'CSeq: 1 OPTIONS',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
      socket.send(msg, port, '127.0.0.1');
      const ok = await Promise.race([answered.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 200))]);
      if (ok) return;
    }
    throw new Error(`kamailio did not answer OPTIONS on 127.0.0.1:${port}\n${tail(proc)}`);
  } finally {
    socket.close();
  }
}

/**
 * Starts Kamailio with the project's routing proxy config on 127.0.0.1:`port`, asking the routing API at
 * `hubUrl` with `hubKey`; runs in the foreground (-DD -E) with its pid, runtime and working files in a
 * temporary directory, and resolves once it answers SIP.
 */
export async function startRoutingProxy(opts: { port: number; hubUrl: string; hubKey: string }): Promise<RoutingProxy> {
  const kamailio = findBinary('kamailio');
  if (!kamailio) throw new Error('kamailio not found (run scripts/install-test-deps.sh)');
  const dir = mkdtempSync(join(tmpdir(), 'ph-kamailio-'));
  const proc = startChild(
    'kamailio',
    kamailio,
    ['-f', ROUTING_PROXY_CFG, '-l', `udp:127.0.0.1:${opts.port}`, '-DD', '-E', '-P', join(dir, 'kamailio.pid'), '-Y', dir, '-w', dir, '-m', '64', '-M', '8'],
    { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PRESENCE_HUB_URL: opts.hubUrl, PRESENCE_HUB_KEY: opts.hubKey } },
  );
  try {
    await waitForOptions(opts.port, proc);
  } catch (err) {
    await proc.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port: opts.port,
    process: proc,
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
