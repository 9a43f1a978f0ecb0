/**
 * A loopback webhook receiver run as a child process (see `WebhookReceiver` below), so its work does not
 * share the hub's event loop. Every delivery's Standard Webhooks signature is verified (HMAC-SHA256 over
 * id.timestamp.body, `verifyWebhook`) before it counts; it answers 204 without parsing the body.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { verifyWebhook } from '../../services/publishers/webhook-signature.js';

export interface ReceiverCounts {
  /** Deliveries with a valid signature, and with a bad one. */
  ok: number;
  bad: number;
  /** TCP connections accepted (the hub's client keeps up to 8 alive per target). */
  connections: number;
  /** Receiver CPU time so far, ms. */
  cpuMs: number;
}

type Request = { type: 'start'; secret: string } | { type: 'counts' } | { type: 'exit' };
type Reply = { type: 'listening'; url: string } | { type: 'counts'; counts: ReceiverCounts };

function child(): void {
  let secret = '';
  const counts = { ok: 0, bad: 0, connections: 0 };
  const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers = req.headers as Record<string, string | undefined>;
      const valid = verifyWebhook(secret, headers, Buffer.concat(chunks).toString('utf8'), Math.floor(Date.now() / 1000));
      if (valid) counts.ok++;
      else counts.bad++;
      res.writeHead(valid ? 204 : 400).end();
    });
  });
  server.on('connection', () => counts.connections++);
  process.on('message', (m: Request) => {
    if (m.type === 'exit') process.exit(0);
    if (m.type === 'counts') {
      const cpu = process.cpuUsage();
      process.send!({ type: 'counts', counts: { ...counts, cpuMs: (cpu.user + cpu.system) / 1000 } } satisfies Reply);
      return;
    }
    secret = m.secret;
    server.listen(0, '127.0.0.1', () => process.send!({ type: 'listening', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` } satisfies Reply));
  });
  process.on('disconnect', () => process.exit(0));
}

/** Drives the receiver child over IPC. */
export class WebhookReceiver {
  private readonly proc: ChildProcess;

  private constructor(proc: ChildProcess) {
    this.proc = proc;
  }

  static spawn(): WebhookReceiver {
    const proc = fork(fileURLToPath(import.meta.url), ['--child'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    return new WebhookReceiver(proc);
  }

  get pid(): number {
    return this.proc.pid!;
  }

  private ask<T extends Reply['type']>(msg: Request, type: T): Promise<Extract<Reply, { type: T }>> {
    return new Promise((resolve) => {
      const on = (m: Reply) => {
        if (m.type !== type) return;
        this.proc.off('message', on);
        resolve(m as Extract<Reply, { type: T }>);
      };
      this.proc.on('message', on);
      this.proc.send(msg);
    });
  }

  async start(secret: string): Promise<string> {
    return (await this.ask({ type: 'start', secret }, 'listening')).url;
  }

  async counts(): Promise<ReceiverCounts> {
    return (await this.ask({ type: 'counts' }, 'counts')).counts;
  }

  close(): void {
    if (this.proc.connected) this.proc.send({ type: 'exit' } satisfies Request);
  }
}

if (process.argv.includes('--child')) child();
