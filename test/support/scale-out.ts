import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { signPbxRequest } from '../../services/api/auth.js';
import { makeTempDir } from './child-group.js';
import { startService, type ServiceProcess } from './service-process.js';
import { eventually } from './receiver.js';

export const ADMIN = 'scale-out-admin-key-0123456789abcdef';
/** People that take part in a script; `crowd` has many desk phones registered at once. */
export const CROWD = 'crowd';
const CROWD_DEVICES = 6;

/** One thing a source tells the hub about one person. */
export type Op =
  | { kind: 'pbx'; type: 'registered' | 'unregistered' | 'answered' | 'held' | 'resumed' | 'hangup' | 'dnd-on' | 'dnd-off'; tick: number; callId?: string }
  | { kind: 'heartbeat'; state: 'foreground' | 'background' | 'signed-out' }
  | { kind: 'manual'; activity: string }
  | { kind: 'clear' };

export interface Script {
  people: string[];
  /** Per person, in order. */
  ops: Map<string, Op[]>;
}

/** A deterministic mix of PBX events, heartbeats and manual changes (a small xorshift PRNG). */
export function buildScript(people: number, opsPerPerson: number, seed = 7): Script {
  let x = seed;
  const rnd = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  let tick = 0;
  const ids = Array.from({ length: people }, (_, i) => `p${String(i).padStart(3, '0')}`);
  const ops = new Map<string, Op[]>();
  for (const id of ids) {
    const list: Op[] = [{ kind: 'pbx', type: 'registered', tick: ++tick }];
    let call = 0;
    for (let i = 0; i < opsPerPerson; i++) {
      const r = rnd();
      if (r < 0.45) {
        const type = pick(['registered', 'unregistered', 'answered', 'held', 'resumed', 'hangup', 'dnd-on', 'dnd-off'] as const);
        if (type === 'answered') call++;
        list.push({ kind: 'pbx', type, tick: ++tick, ...(['answered', 'held', 'resumed', 'hangup'].includes(type) ? { callId: `c${call}` } : {}) });
      } else if (r < 0.75) list.push({ kind: 'heartbeat', state: pick(['foreground', 'foreground', 'background', 'signed-out'] as const) });
      else if (r < 0.92) list.push({ kind: 'manual', activity: pick(['away', 'break', 'dnd', 'available', 'focus']) });
      else list.push({ kind: 'clear' });
    }
    ops.set(id, list);
  }
  return { people: ids, ops };
}

export interface Tokens {
  pbx: { signingKeyId: string; secret: string };
  mobile: Map<string, string>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- test JSON
async function call(url: string, method: string, path: string, body?: unknown, key = ADMIN): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}
export { call as hubCall };

/** The directory the script needs: people with a desk phone and an app, the crowd, a PBX key. */
export async function setUpDirectory(url: string, script: Script, webhookUrl?: string): Promise<Tokens> {
  const ok = <R extends { status: number; body: unknown }>(r: R, what: string): R => {
    if (r.status >= 300) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body)}`);
    return r;
  };
  ok(await call(url, 'PUT', '/v1/tenant', { name: 'Acme', settings: { allowPrivateTargets: true, wrapUpSeconds: 0 } }), 'tenant');
  const mobile = new Map<string, string>();
  for (const id of [...script.people, CROWD]) {
    ok(await call(url, 'PUT', `/v1/people/${id}`, { name: id }), id);
    ok(await call(url, 'PUT', `/v1/people/${id}/devices/${id}-desk`, { kind: 'desk', contact: `sip:${id}@192.0.2.10` }), `${id} desk`);
    const app = ok(await call(url, 'PUT', `/v1/people/${id}/devices/${id}-app`, { kind: 'mobile' }), `${id} app`);
    mobile.set(id, app.body.token as string);
  }
  for (let i = 0; i < CROWD_DEVICES; i++) ok(await call(url, 'PUT', `/v1/people/${CROWD}/devices/${CROWD}-desk${i}`, { kind: 'desk', contact: `sip:${CROWD}${i}@192.0.2.10` }), 'crowd device');
  const key = ok(await call(url, 'POST', '/v1/keys', { name: 'pbx', role: 'pbx' }), 'pbx key');
  if (webhookUrl) ok(await call(url, 'PUT', '/v1/targets/hook', { kind: 'webhook', name: 'hook', url: `${webhookUrl}/hook`, coalesceMs: 0 }), 'target');
  return { pbx: { signingKeyId: key.body.signingKeyId, secret: key.body.secret }, mobile };
}

export async function sendPbx(url: string, tokens: Tokens, events: unknown[]): Promise<Response> {
  const body = JSON.stringify({ events });
  const ts = String(Math.floor(Date.now() / 1000));
  return fetch(`${url}/v1/pbx/events`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'X-Presence-Key-Id': tokens.pbx.signingKeyId,
      'X-Presence-Timestamp': ts,
      'X-Presence-Signature': signPbxRequest(tokens.pbx.secret, ts, body),
    },
    body,
  });
}

/** Sends one op; resolves with the HTTP status (the caller decides what counts as done). */
export async function sendOp(url: string, tokens: Tokens, person: string, op: Op, base: number): Promise<number> {
  switch (op.kind) {
    case 'pbx': {
      const e: Record<string, unknown> = { type: op.type, device: `${person}-desk`, at: base + op.tick };
      if (op.callId) e.callId = op.callId;
      return (await sendPbx(url, tokens, [e])).status;
    }
    case 'heartbeat':
      return (await call(url, 'POST', '/v1/heartbeat', { state: op.state }, tokens.mobile.get(person))).status;
    case 'manual':
      return (await call(url, 'PUT', `/v1/people/${person}/status`, { activity: op.activity })).status;
    case 'clear':
      return (await call(url, 'DELETE', `/v1/people/${person}/status`)).status;
  }
}

/**
 * Plays the script: people in parallel (at most `concurrency` at once), each person's ops in order,
 * spread over the replicas `urls()` gives (asked again per op, so a dead replica can be left out). A
 * 503 (the store is away) or a refused connection is retried on the next replica.
 */
export async function play(script: Script, urls: () => string[], tokens: Tokens, base: number, opts: { concurrency?: number; from?: number; to?: number } = {}): Promise<void> {
  const queue = [...script.people];
  let turn = 0;
  const worker = async () => {
    for (let person = queue.shift(); person; person = queue.shift()) {
      const ops = script.ops.get(person)!.slice(opts.from ?? 0, opts.to);
      for (const op of ops) {
        for (let attempt = 0; ; attempt++) {
          const live = urls();
          const url = live[turn++ % live.length]!;
          const status = await sendOp(url, tokens, person, op, base).catch(() => 0);
          if (status >= 200 && status < 300) break;
          if (attempt > 200) throw new Error(`${person}: ${JSON.stringify(op)} kept failing (${status})`);
          if (status !== 0 && status !== 503) throw new Error(`${person}: ${JSON.stringify(op)} answered ${status}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 6 }, worker));
}

/** The crowd's desk phones all register at once, each on another replica: a lost update loses a phone. */
export async function registerCrowd(urls: string[], tokens: Tokens, base: number): Promise<void> {
  const statuses = await Promise.all(
    Array.from({ length: CROWD_DEVICES }, (_, i) => sendPbx(urls[i % urls.length]!, tokens, [{ type: 'registered', device: `${CROWD}-desk${i}`, at: base + i }]).then((r) => r.status)),
  );
  if (statuses.some((s) => s !== 200)) throw new Error(`crowd registration answered ${statuses.join(', ')}`);
}

/** What must be equal between runs: everything but instants and versions. */
export interface Outcome {
  availability: string;
  activity: string;
  routable: boolean;
  source?: string;
  endpoints: string[];
}

export async function outcomes(url: string, people: readonly string[]): Promise<Record<string, Outcome | null>> {
  const out: Record<string, Outcome | null> = {};
  for (const id of people) {
    const r = await call(url, 'GET', `/v1/presence/${id}`);
    if (r.status === 404) {
      out[id] = null;
      continue;
    }
    if (r.status !== 200) throw new Error(`presence of ${id}: ${r.status}`);
    const p = r.body;
    out[id] = { availability: p.availability, activity: p.activity, routable: p.routable, source: p.source, endpoints: (p.endpoints as Array<{ id: string }>).map((e) => e.id).sort() };
  }
  return out;
}

export async function versions(url: string, people: readonly string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const id of people) {
    const r = await call(url, 'GET', `/v1/presence/${id}`);
    if (r.status === 200) out[id] = r.body.version as number;
  }
  return out;
}

export interface Hubs {
  procs: ServiceProcess[];
  env: Record<string, string>;
  start(): Promise<ServiceProcess>;
  /** Stops `p` gracefully and starts it again on the same data directory (the embedded store's restart). */
  restart(p: ServiceProcess): Promise<ServiceProcess>;
  stop(): Promise<void>;
}

/** `n` service processes sharing `redisUrl` (or one embedded one without it). */
export async function startHubs(n: number, redisUrl: string | undefined, extra: Record<string, string> = {}, nodeArgs: readonly string[] = []): Promise<Hubs> {
  const key = randomBytes(32).toString('base64');
  const env: Record<string, string> = {
    TZ: 'UTC',
    BOOTSTRAP_TENANT: 'acme',
    BOOTSTRAP_ADMIN_KEY: ADMIN,
    ENCRYPTION_KEY: key,
    // Long enough that nothing goes stale during a run, whatever the machine's load.
    HEARTBEAT_TTL_MS: String(3600_000),
    HEARTBEAT_BACKGROUND_TTL_MS: String(3600_000),
    PUBLISH_COALESCE_MS: '0',
    PUBLISH_RETRY_BASE_MS: '100',
    PUBLISH_RETRY_CAP_MS: '1000',
    PUBLISH_LEASE_MS: '3000',
    LOG_LEVEL: 'info',
    // The tests poll every person's state through one admin key, far above a person's pace: since request
    // limits are the deployment's (not each replica's), the default 3,000 a minute ran out mid-poll (a 429
    // read as a missing version). Tests of the limits set their own (`extra`).
    REQUEST_LIMIT_API_PER_MIN: '0',
    REQUEST_LIMIT_TENANT_API_PER_MIN: '0',
    ...(redisUrl ? { REDIS_URL: redisUrl, REDIS_PREFIX: 'ph:' } : {}),
    ...extra,
  };
  const procs: ServiceProcess[] = [];
  const dirs = new Map<ServiceProcess, string>();
  const start = async (dir = makeTempDir('ph-scale-')) => {
    const p = await startService({ ...env, DATA_DIR: dir }, nodeArgs);
    procs.push(p);
    dirs.set(p, dir);
    return p;
  };
  // One first, so the bootstrap tenant and key are written once.
  await start();
  await Promise.all(Array.from({ length: n - 1 }, () => start()));
  return {
    procs,
    env,
    start: () => start(),
    async restart(p) {
      await p.stop();
      procs.splice(procs.indexOf(p), 1);
      return start(dirs.get(p));
    },
    async stop() {
      await Promise.all(procs.map((p) => p.kill()));
    },
  };
}

/** Polls `check` until it stops throwing (real time, for processes). */
export const until = <T>(check: () => Promise<T>, timeoutMs: number, everyMs = 100): Promise<T> => eventually(check, timeoutMs, everyMs);

/** The replica holding the publish lease of the scale-out directory's webhook target (`hook`), if any. */
export async function hookOwner(redisUrl: string): Promise<string | null> {
  const c = new Redis(redisUrl);
  try {
    return await c.hget('ph:lease:publish:acme:hook', 'o');
  } finally {
    c.disconnect();
  }
}
