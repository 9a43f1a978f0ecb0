import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { ManualClock } from '../../shared/clock/manual-clock.js';
import { loadConfig, type Config } from '../../shared/config/config.js';
import { silentLogger, type Logger } from '../../shared/log/logger.js';
import { createHub, type RunningHub } from '../../services/create-hub.js';
import { signPbxRequest } from '../../services/api/auth.js';
import { answerClientErrors } from '../../services/api/client-errors.js';
import type { Resolver } from '../../services/publishers/ssrf-guard.js';
import type { SrvResolver } from '../../services/publishers/sip/srv.js';
import type { CalendarRandomness } from '../../services/calendars/create-calendars.js';

export const ADMIN_KEY = 'test-admin-key-0123456789abcdef';
export const OPERATOR_KEY = 'test-operator-key-0123456789abcdef';

/** Every request limit off (0), for tests that send far more at one instant than any client would. */
export const NO_REQUEST_LIMITS = {
  REQUEST_LIMIT_API_PER_MIN: '0',
  REQUEST_LIMIT_TENANT_API_PER_MIN: '0',
  REQUEST_LIMIT_PBX_EVENTS_PER_MIN: '0',
  REQUEST_LIMIT_HEARTBEATS_PER_MIN: '0',
  REQUEST_LIMIT_STREAMS_PER_MIN: '0',
  REQUEST_LIMIT_OPEN_STREAMS: '0',
  REQUEST_LIMIT_AUTH_FAILURES_PER_MIN: '0',
};

export interface TestHub extends RunningHub {
  clock: ManualClock;
  config: Config;
  dir: string;
  http: ReturnType<typeof request>;
  /** Admin-authorised request helpers. */
  put(path: string, body: unknown, key?: string): request.Test;
  post(path: string, body: unknown, key?: string): request.Test;
  get(path: string, key?: string): request.Test;
  del(path: string, key?: string): request.Test;
  /** Sends a signed PBX batch with the given key. */
  pbx(events: unknown[], key: PbxKey, opts?: { timestamp?: number; body?: string }): request.Test;
  /** Serves the app on loopback (`port` 0 picks a free one) and returns its base URL. */
  listen(port?: number): Promise<string>;
  /** Cuts every open connection of the server `listen` started (streams included), as a network failure would. */
  dropConnections(): void;
  stop(): Promise<void>;
}

export interface PbxKey {
  signingKeyId: string;
  secret: string;
}

export async function startTestHub(
  opts: { now?: string; env?: Record<string, string>; dir?: string; resolve?: Resolver; srvResolve?: SrvResolver; randomness?: CalendarRandomness; random?: () => number; log?: Logger } = {},
): Promise<TestHub> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'ph-test-'));
  const config = loadConfig({
    DATA_DIR: dir,
    BOOTSTRAP_TENANT: 'acme',
    BOOTSTRAP_ADMIN_KEY: ADMIN_KEY,
    OPERATOR_KEY: OPERATOR_KEY,
    ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    LOG_LEVEL: 'silent',
    ...opts.env,
  });
  const clock = new ManualClock(opts.now ?? '2026-03-02T09:30:00Z');
  const running = createHub({
    config,
    clock,
    log: opts.log ?? silentLogger,
    defaultMetrics: false,
    ...(opts.resolve ? { resolve: opts.resolve } : {}),
    // Never the machine's DNS: no SRV records unless the test plays them.
    srvResolve: opts.srvResolve ?? (async () => []),
    ...(opts.randomness ? { randomness: opts.randomness } : {}),
    ...(opts.random ? { random: opts.random } : {}),
  });
  await running.start();
  const http = request(running.app);
  let server: Server | undefined;
  const auth = (t: request.Test, key: string) => t.set('Authorization', `Bearer ${key}`);
  return {
    ...running,
    clock,
    config,
    dir,
    http,
    put: (path, body, key = ADMIN_KEY) => auth(http.put(path), key).send(body as object),
    post: (path, body, key = ADMIN_KEY) => auth(http.post(path), key).send(body as object),
    get: (path, key = ADMIN_KEY) => auth(http.get(path), key),
    del: (path, key = ADMIN_KEY) => auth(http.delete(path), key),
    pbx(events, key, o = {}) {
      const body = o.body ?? JSON.stringify({ events });
      const ts = String(o.timestamp ?? Math.floor(clock.now() / 1000));
      return http
        .post('/v1/pbx/events')
        .set('Content-Type', 'application/json')
        .set('X-Presence-Key-Id', key.signingKeyId)
        .set('X-Presence-Timestamp', ts)
        .set('X-Presence-Signature', signPbxRequest(key.secret, ts, body))
        .send(body);
    },
    async listen(port = 0) {
      server = running.app.listen(port, '127.0.0.1');
      answerClientErrors(server);
      await new Promise<void>((resolve) => server!.once('listening', () => resolve()));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
    dropConnections() {
      server?.closeAllConnections();
    },
    async stop() {
      server?.closeAllConnections();
      server?.close();
      await running.close();
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Creates a person with a desk phone, and a PBX key; returns the key. */
/** The keys of role-test suites: a supervisor, members for alice and bob, an external partner and a PBX. */
export const ROLE_KEYS = {
  supervisor: { role: 'supervisor' },
  bob: { role: 'member', personId: 'bob' },
  alice: { role: 'member', personId: 'alice' },
  external: { role: 'external' },
  pbx: { role: 'pbx' },
} as const;

/** Creates one API key per entry (name → role and person); resolves with their secrets by name. */
export async function createKeys(h: TestHub, specs: Record<string, { role: string; personId?: string }> = ROLE_KEYS): Promise<Record<string, string>> {
  const secrets: Record<string, string> = {};
  for (const [name, body] of Object.entries(specs)) secrets[name] = (await h.post('/v1/keys', { name, ...body }).expect(201)).body.secret;
  return secrets;
}

export async function seedAlice(h: TestHub, over: Record<string, unknown> = {}): Promise<PbxKey> {
  await h.put('/v1/people/alice', { name: 'Alice', extension: '1001', sipUri: 'sip:alice@example.test', teams: ['support'], ...over }).expect(201);
  await h.put('/v1/people/alice/devices/alice-desk', { kind: 'desk', contact: 'sip:alice@192.0.2.10' }).expect(201);
  const res = await h.post('/v1/keys', { name: 'pbx', role: 'pbx' }).expect(201);
  return { signingKeyId: res.body.signingKeyId, secret: res.body.secret };
}
