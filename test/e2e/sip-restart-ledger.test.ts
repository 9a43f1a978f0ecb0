import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { parsePidf } from '../../shared/sip/pidf.js';
import { sqliteTables } from '../../shared/store/keys.js';
import { makeTempDir } from '../support/child-group.js';
import { describeWith } from '../support/components.js';
import { kamailioPerTest, sipTargetOf } from '../support/kamailio.js';
import { sipRelay, type SipRelay } from '../support/sip-relay.js';
import { eventually } from '../support/receiver.js';
import { hubCall } from '../support/scale-out.js';
import { startSipService, type ServiceProcess } from '../support/service-process.js';
import { startWatcher, type Watcher } from '../support/sipp.js';

const ADMIN = 'sip-restart-admin-key-0123456789abcdef';

/**
 * The real service on the embedded store publishes alice to a real Kamailio, dies (kill -9) or stops, and
 * starts again on the same data directory. Kamailio 5.6, given two publications with our tuple id, keeps
 * notifying the older one's document until it expires: a restart that published beside the old
 * publication would leave the watcher on the stale state. The restart continues the old publication by the
 * SIP-ETag its SQLite file kept instead.
 */
describeWith(['kamailio', 'sipp'], 'a restarted service continues its SIP publications from the embedded store (real Kamailio)', () => {
  const kamailio = kamailioPerTest();
  let svc: ServiceProcess | undefined;
  let watcher: Watcher | undefined;
  let relay: SipRelay | undefined;
  afterEach(async () => {
    await watcher?.stop().catch(() => {});
    await svc?.kill();
    await relay?.close();
    svc = watcher = relay = undefined;
  });

  /** Our tuples in the watcher's last NOTIFY, and the state the last of our documents shows. */
  const shown = () => {
    const last = watcher!.notifies().at(-1)?.body ?? '';
    const pidf = parsePidf(last);
    return { tuples: last.match(/<tuple\b/g)?.length ?? 0, ...(pidf.ok ? { activities: pidf.value.activities, note: pidf.value.note } : {}) };
  };

  it.each(['kill -9', 'a graceful stop'] as const)('after %s, the restart modifies the old publication by its SIP-ETag, so Kamailio shows the new state alone', async (ending) => {
    const kam = kamailio.kam;
    relay = await sipRelay(kam);
    const dir = makeTempDir('ph-sip-restart-');
    const env = { DATA_DIR: dir, ENCRYPTION_KEY: randomBytes(32).toString('base64') };
    svc = await startSipService(ADMIN, env);
    const call = (method: string, path: string, body?: unknown) => hubCall(svc!.url, method, path, body, ADMIN);
    expect((await call('PUT', '/v1/people/alice', { name: 'Alice', extension: '1001', sipUri: kam.aor('alice') })).status).toBe(201);
    expect((await call('PUT', '/v1/people/alice/status', { activity: 'away' })).status).toBe(200);
    watcher = await startWatcher(kam, { user: 'alice', expires: 300 });
    expect((await call('PUT', '/v1/targets/kam', sipTargetOf(kam, { server: relay.server, expiresSec: 300 }))).status).toBe(201);
    await eventually(() => expect(shown()).toMatchObject({ tuples: 1, activities: ['away'] }), 30_000);

    // What the SQLite file holds of the publication once the 200 is in: the etag the restart must use.
    const stored = () => {
      const db = new Database(join(dir, 'presence-hub.sqlite'), { readonly: true, fileMustExist: true });
      try {
        const row = db.prepare(`SELECT address FROM ${sqliteTables.delivered} WHERE target_id = 'kam' AND person_id = 'alice'`).get() as { address: string | null } | undefined;
        return row?.address ? (JSON.parse(row.address) as { etag: string }).etag : undefined;
      } finally {
        db.close();
      }
    };
    const etag = await eventually(() => {
      const e = stored();
      expect(e).toBeDefined();
      return e!;
    }, 10_000);

    if (ending === 'kill -9') await svc.kill();
    else expect(await svc.stop()).toBe(0);
    relay.clear();
    svc = await startSipService(ADMIN, env);
    // The first PUBLISH after the restart continues the stored publication (a modify: its document names
    // the new start), never an initial one beside it.
    await eventually(() => expect(relay!.ifMatches().length).toBeGreaterThan(0), 30_000);
    expect(relay.ifMatches()[0]).toBe(etag);

    expect((await call('PUT', '/v1/people/alice/status', { activity: 'dnd' })).status).toBe(200);
    await eventually(() => expect(shown()).toMatchObject({ tuples: 1, activities: ['busy'], note: 'Do not disturb' }), 30_000);
    expect(relay.ifMatches()).not.toContain(null);
  }, 120_000);
});
