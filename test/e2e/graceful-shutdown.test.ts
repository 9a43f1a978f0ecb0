import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/ports.js';
import { startService, type ServiceProcess } from '../support/service-process.js';

const ADMIN = 'shutdown-admin-key-0123456789abcdef';

/** Resolves once a log line matches. */
function logged(svc: ServiceProcess, pattern: RegExp): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (svc.logs.some((l) => pattern.test(l))) {
        clearInterval(timer);
        resolve();
      }
    };
    const timer = setInterval(check, 20);
    check();
  });
}

describe('SIGTERM (what Kubernetes sends before it removes a pod)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ph-shutdown-'));
  // A grace longer than the test's timeout: the process must exit because nothing is left open.
  const env = { DATA_DIR: dir, BOOTSTRAP_TENANT: 'acme', BOOTSTRAP_ADMIN_KEY: ADMIN, ENCRYPTION_KEY: randomBytes(32).toString('base64'), SHUTDOWN_GRACE_MS: '600000' };
  let svc: ServiceProcess | undefined;
  afterAll(async () => {
    await svc?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses new connections, lets a request in flight finish and keeps its write, closes the keep-alive connection and exits 0', async () => {
    svc = await startService(env);
    const { port } = new URL(svc.url);
    const body = JSON.stringify({ name: 'Alice', extension: '1001' });
    const socket = connect(Number(port), '127.0.0.1');
    let response = '';
    socket.on('data', (d) => (response += d.toString()));
    const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    // Headers, then half the body once the server has read them (its 100 Continue says so): the request
    // is in flight when the signal arrives. A request still unread in the socket when it arrives is not.
    socket.write(
      `PUT /v1/people/alice HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${ADMIN}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\n\r\n`,
    );
    await new Promise<void>((resolve) => socket.once('data', () => resolve()));
    expect(response).toBe('HTTP/1.1 100 Continue\r\n\r\n');
    socket.write(body.slice(0, 10));
    const exited = svc.stop();
    await logged(svc, /shutting down/);
    await expect(fetch(`${svc.url}/healthz`)).rejects.toThrow();
    // Longer than closing the hub takes: the store must still be open for this request.
    await new Promise((r) => setTimeout(r, 500));
    socket.end(body.slice(10));
    await ended;
    expect(response).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 201 /);
    expect(await exited).toBe(0);

    svc = await startService(env);
    const res = await fetch(`${svc.url}/v1/people/alice`, { headers: { Authorization: `Bearer ${ADMIN}` } });
    expect(await res.json()).toMatchObject({ name: 'Alice', extension: '1001' });
  });

  it('exits at once when stopped during start-up (waiting for a Redis that is not there)', async () => {
    const unreachable = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', 'services/main.ts'], {
      env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', ...env, REDIS_URL: `redis://127.0.0.1:${unreachable}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    // Start-up waits up to 10 s for Redis; the first failed connection attempt is logged meanwhile.
    for (let i = 0; i < 300 && !/redis connection failed/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
    expect(out).toMatch(/redis connection failed/);
    child.kill('SIGTERM');
    // Without the early handler the signal is ignored and start-up fails after its 10 s wait (exit 1).
    expect(await exited).toBe(0);
    expect(out).toMatch(/stopping during start-up/);
  }, 30_000);
});
