import express from 'express';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';

export interface Received {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | undefined>;
  body: string;
}

/** A local HTTP receiver on 127.0.0.1 that records requests and answers what the test says. */
export interface Receiver {
  url: string;
  received: Received[];
  /** Status codes to answer next, in order; afterwards 200. */
  answer: Array<number | { status: number; headers: Record<string, string> }>;
  waitFor(n: number, timeoutMs?: number): Promise<Received[]>;
  /** Closes idle keep-alive connections, so the next request connects (and resolves) anew. */
  dropConnections(): void;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const app = express();
  const received: Received[] = [];
  const answer: Receiver['answer'] = [];
  app.use(express.text({ type: () => true }));
  app.all('/{*rest}', (req, res) => {
    received.push({
      method: req.method,
      path: req.path,
      query: req.query as Record<string, string>,
      headers: req.headers as Record<string, string | undefined>,
      body: typeof req.body === 'string' ? req.body : '',
    });
    const a = answer.shift() ?? 200;
    if (typeof a === 'number') res.status(a).end();
    else res.status(a.status).set(a.headers).end();
  });
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise<void>((r) => server.once('listening', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    received,
    answer,
    async waitFor(n, timeoutMs = 15_000) {
      const end = Date.now() + timeoutMs;
      while (received.length < n) {
        if (Date.now() > end) throw new Error(`expected ${n} requests, got ${received.length}: ${JSON.stringify(received.map((r) => r.body))}`);
        await new Promise((r) => setTimeout(r, 5));
      }
      return received;
    },
    dropConnections() {
      server.closeIdleConnections();
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Polls `check` (real time) until it stops throwing; the generous bound only matters on a loaded machine. */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 15_000, everyMs = 5): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }
}
