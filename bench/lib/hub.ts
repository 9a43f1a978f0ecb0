import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../shared/config/config.js';
import { personInputSchema, type Device, type Person } from '../../shared/domain/directory.js';
import { silentLogger } from '../../shared/log/logger.js';
import type { WriteOp } from '../../shared/store/port.js';
import { createHub, type RunningHub } from '../../services/create-hub.js';
import { pbxEventChanges } from '../../services/connectors/pbx/map.js';
import type { PbxEvent } from '../../services/connectors/pbx/schema.js';
import { OFFICE_HOURS, OFFICE_ZONE } from './people.js';

export const TENANT = 'bench';
export const ADMIN_KEY = 'bench-admin-key-0123456789abcdef';

/**
 * The load of a benchmark is one tenant's, far above the default request limits (120,000 PBX events a
 * minute is 2,000/s; the ingest and scale-out benches send 20–80 k/s). Limits stay on, so their cost is
 * measured, at values the load never reaches.
 */
export const BENCH_REQUEST_LIMITS = {
  REQUEST_LIMIT_API_PER_MIN: '1000000000',
  REQUEST_LIMIT_TENANT_API_PER_MIN: '1000000000',
  REQUEST_LIMIT_PBX_EVENTS_PER_MIN: '1000000000',
  REQUEST_LIMIT_HEARTBEATS_PER_MIN: '1000000000',
  REQUEST_LIMIT_STREAMS_PER_MIN: '1000000000',
  REQUEST_LIMIT_OPEN_STREAMS: '1000000000',
};

export interface BenchHub {
  running: RunningHub;
  dir: string;
  /** Listens on 127.0.0.1 with a plain `http.createServer(app)`; returns the base URL. */
  listen(): Promise<string>;
  stop(): Promise<void>;
}

/** A hub on the system clock, in a temporary DATA_DIR, silent, with the tenant `bench` and an admin key. */
export async function startBenchHub(env: Record<string, string> = {}): Promise<BenchHub> {
  const dir = mkdtempSync(join(tmpdir(), 'ph-bench-'));
  const config = loadConfig({
    DATA_DIR: dir,
    BOOTSTRAP_TENANT: TENANT,
    BOOTSTRAP_ADMIN_KEY: ADMIN_KEY,
    ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    LOG_LEVEL: 'silent',
    ...BENCH_REQUEST_LIMITS,
    ...env,
  });
  // Process metrics on, as in production (services/main.ts).
  const running = createHub({ config, log: silentLogger, defaultMetrics: true });
  await running.start();
  let server: Server | undefined;
  return {
    running,
    dir,
    async listen() {
      server = createServer(running.app);
      // Longer than any pause between a benchmark's phases, so a pooled connection is never closed under its client.
      server.keepAliveTimeout = 120_000;
      await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
    async stop() {
      server?.closeAllConnections();
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const personId = (i: number) => `p${i}`;
export const deskId = (i: number) => `d${i}`;
export const mobileId = (i: number) => `m${i}`;

export interface SeedOptions {
  /** Office hours in Berlin (adds the working-hours signal through the directory service, as PUT does). */
  hours?: boolean;
  desk?: boolean;
  mobile?: boolean;
  /** Index of the first person. */
  from?: number;
}

/**
 * Writes `count` people (p<i>, extension 1<i>) and their devices (desk d<i>, mobile m<i>) in bulk
 * transactions of the embedded store, the way `apply` does, then runs the same after-write hook as
 * `PUT /v1/people/:id` so working hours become a signal.
 */
/** Person `i` of the bench tenant, as the directory API would store it. */
export function benchPerson(i: number, hours = false): Person {
  const input = personInputSchema.parse({
    name: `Person ${i}`,
    extension: String(100000 + i),
    sipUri: `sip:p${i}@pbx.example.test`,
    mobileNumber: `+49301${String(i).padStart(7, '0')}`,
    timeZone: OFFICE_ZONE,
    teams: [`team-${i % 50}`],
    ...(hours ? { workingHours: OFFICE_HOURS } : {}),
  });
  return { ...input, id: personId(i), tenantId: TENANT };
}

const CYCLE = ['ringing', 'answered', 'hangup', 'registered'] as const;

/**
 * The PBX event cycle of bench/ingest.ts (ringing → answered → hangup → registered, so every event changes a
 * state) straight into `engine.apply`: batch `k` covers `size` of the `people` desk phones.
 */
export function engineCycle(h: BenchHub, people: number, size: number): (k: number) => Promise<void> {
  const { engine } = h.running.hub;
  const groups = people / size;
  let lastAt = 0;
  return async (k) => {
    const type = CYCLE[Math.floor(k / groups) % CYCLE.length]!;
    const at = (lastAt = Math.max(Date.now(), lastAt + 1));
    const work: Array<Promise<unknown>> = [];
    for (let j = 0; j < size; j++) {
      const i = (k % groups) * size + j;
      const e: PbxEvent = type === 'registered' ? { type, device: deskId(i), at, expiresSec: 3600, contact: `sip:d${i}@10.1.0.1;b=${k}` } : { type, device: deskId(i), at };
      work.push(engine.apply(TENANT, personId(i), pbxEventChanges(e, { id: deskId(i), kind: 'desk', contact: e.contact ?? `sip:d${i}@192.0.2.10` }, at, 0)));
    }
    await Promise.all(work);
  };
}

export const CYCLE_LENGTH = CYCLE.length;

export async function seedPeople(h: BenchHub, count: number, opts: SeedOptions = {}): Promise<void> {
  const { store, directory } = h.running.hub;
  const from = opts.from ?? 0;
  const CHUNK = 2000;
  for (let start = from; start < from + count; start += CHUNK) {
    const ops: WriteOp[] = [];
    const people: Person[] = [];
    for (let i = start; i < Math.min(from + count, start + CHUNK); i++) {
      const person = benchPerson(i, opts.hours);
      people.push(person);
      ops.push({ op: 'put', collection: 'people', doc: person });
      if (opts.desk ?? true) {
        const d: Device = { personId: person.id, kind: 'desk', contact: `sip:d${i}@192.0.2.10`, id: deskId(i), tenantId: TENANT };
        ops.push({ op: 'put', collection: 'devices', doc: d });
      }
      if (opts.mobile) {
        const d: Device = { personId: person.id, kind: 'mobile', id: mobileId(i), tenantId: TENANT, tokenHash: randomBytes(32).toString('hex'), tokenIssuedAt: Date.now() };
        ops.push({ op: 'put', collection: 'devices', doc: d });
      }
    }
    await store.directory.write(ops);
    if (opts.hours) for (const p of people) await directory.afterPersonWrite(p, undefined);
  }
}

/** A PBX signing key (`POST /v1/keys {"role":"pbx"}`): what a PBX signs with, and a bearer secret for reading. */
export async function pbxKey(h: BenchHub): Promise<{ keyId: string; secret: string }> {
  const { key, secret } = await h.running.hub.directory.createKey(TENANT, { name: 'pbx', role: 'pbx' });
  return { keyId: `${TENANT}/${key.id}`, secret };
}
