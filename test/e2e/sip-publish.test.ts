import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parsePidf } from '../../shared/sip/pidf.js';
import { describeWith } from '../support/components.js';
import { startTestHub, type PbxKey, type TestHub } from '../support/hub.js';
import { kamailioPerTest, seedAliceForKamailio, sipTargetOf, type RunningKamailio } from '../support/kamailio.js';
import { eventually } from '../support/receiver.js';
import { series } from '../support/metrics.js';
import { sipRelay } from '../support/sip-relay.js';
import { publishDialogStates, startWatcher, type Watcher } from '../support/sipp.js';

const activitiesOf = (body: string) => {
  const p = parsePidf(body);
  return p.ok ? { basic: p.value.basic, activities: p.value.activities, note: p.value.note } : undefined;
};

describeWith(['kamailio', 'sipp'], 'SIP PUBLISH to a real Kamailio, read back by a SIPp watcher', () => {
  let kam: RunningKamailio;
  let h: TestHub;
  let key: PbxKey;
  let watcher: Watcher | undefined;
  const watchers: Watcher[] = [];

  const watch = async () => {
    watcher = await startWatcher(kam, { user: 'alice', expires: 300 });
    watchers.push(watcher);
    return watcher;
  };
  /** The watcher's latest PIDF that Presence Hub published (our tuple id). */
  const latest = () => {
    const ours = watcher!.bodies().filter((b) => b.includes('presence-hub'));
    return ours.length ? activitiesOf(ours[ours.length - 1]!) : undefined;
  };
  const advance = async (ms: number, step = 500) => {
    for (let t = 0; t < ms; t += step) {
      await h.clock.advance(Math.min(step, ms - t));
      await new Promise((r) => setTimeout(r, 2));
    }
  };
  /** Lets protocol time pass in small steps until `check` holds: real answers need real time to arrive. */
  const until = (check: () => void | Promise<void>) =>
    eventually(async () => {
      await h.clock.advance(250);
      await check();
    }, 10_000);

  const kamailio = kamailioPerTest();
  beforeEach(async () => {
    kam = kamailio.kam;
    h = await startTestHub({ env: { SIP_HOST: '127.0.0.1', SIP_PORT: '0' } });
    key = await seedAliceForKamailio(h);
  });
  afterEach(async () => {
    for (const w of watchers.splice(0)) await w.stop().catch(() => {});
    await h.stop();
  });

  const addTarget = (over: Record<string, unknown> = {}) => h.put('/v1/targets/kam', sipTargetOf(kam, over)).expect(201);

  it('publishes on-the-phone, DND and back, with digest auth, as a watcher sees them', async () => {
    await watch();
    await addTarget();
    await eventually(() => expect(latest()).toMatchObject({ basic: 'open' }));
    await h.pbx([{ type: 'answered', device: 'alice-desk', at: h.clock.now(), callId: 'c1' }], key).expect(200);
    await eventually(() => expect(latest()).toMatchObject({ basic: 'closed', activities: ['on-the-phone'] }));
    await h.put('/v1/people/alice/status', { activity: 'dnd' }).expect(200);
    await eventually(() => expect(latest()).toMatchObject({ basic: 'closed', activities: ['busy'], note: 'Do not disturb' }));
    await h.del('/v1/people/alice/status').expect(200);
    await h.pbx([{ type: 'hangup', device: 'alice-desk', at: h.clock.now() + 1, callId: 'c1' }], key).expect(200);
    await eventually(() => expect(latest()).toMatchObject({ basic: 'open', activities: [] }));
    const status = (await h.get('/v1/targets/kam/status')).body;
    expect(status).toMatchObject({ state: 'healthy', details: { publications: { published: 1 } } });
  });

  it('recovers with a fresh PUBLISH after Kamailio restarts and forgets its ETags', async () => {
    await watch();
    await addTarget();
    await eventually(() => expect(latest()).toMatchObject({ basic: 'open' }));
    await h.put('/v1/people/alice/status', { activity: 'away' }).expect(200);
    await eventually(() => expect(latest()).toMatchObject({ activities: ['away'] }));
    await kam.restart();
    await watch(); // the old subscription died with Kamailio
    expect(latest()).toBeUndefined();
    // At the refresh (85% of the granted 120 s) Kamailio answers 412; the publisher starts over.
    await advance(100_000, 1000);
    await until(() => expect(latest()).toMatchObject({ basic: 'closed', activities: ['away'] }));
  });

  it("after Kamailio restarts, the first 412 has every publication checked at once: a state that did not change is back without waiting for its refresh", async () => {
    await h.put('/v1/people/bob', { name: 'Bob', sipUri: kam.aor('bob') }).expect(201);
    await h.put('/v1/people/bob/status', { activity: 'away' }).expect(200);
    await addTarget();
    await eventually(async () => expect((await h.get('/v1/targets/kam/status')).body.details.publications).toEqual({ published: 2 }));
    await kam.restart();
    const bob = await startWatcher(kam, { user: 'bob', expires: 300 });
    watchers.push(bob);
    const bobsLatest = () => bob.bodies().filter((b) => b.includes('presence-hub')).map(activitiesOf).pop();
    expect(bobsLatest()).toBeUndefined();
    // Alice's change meets a 412; Bob's publication, refreshed only at 85 % of 120 s, is checked now (no clock moves).
    await h.put('/v1/people/alice/status', { activity: 'dnd' }).expect(200);
    await eventually(() => expect(bobsLatest()).toMatchObject({ basic: 'closed', activities: ['away'] }));
    await eventually(async () => expect((await h.get('/v1/targets/kam/status')).body.details.publications).toEqual({ published: 2 }));
  });

  it('a target edited (here its transport) continues its publications by their etags, never one beside another: Kamailio would show the older of two, so the lamp would freeze', async () => {
    await watch();
    await addTarget();
    await eventually(() => expect(latest()).toMatchObject({ basic: 'open' }));
    await h.put('/v1/targets/kam', sipTargetOf(kam, { transport: 'tcp' })).expect(200);
    await eventually(async () => expect((await h.get('/v1/targets/kam/status')).body.details.publications).toEqual({ published: 1 }));
    await h.put('/v1/people/alice/status', { activity: 'away' }).expect(200);
    await eventually(() => expect(latest()).toMatchObject({ basic: 'closed', activities: ['away'] }));
    expect(watcher!.notifies().at(-1)!.body.match(/<tuple\b/g)).toHaveLength(1);
  });

  it('survives Kamailio being down: no crash, backoff, and the current state once it is back', async () => {
    await addTarget();
    await eventually(async () => expect((await h.get('/v1/targets/kam/status')).body.state).toBe('healthy'));
    await kam.kill();
    await h.put('/v1/people/alice/status', { activity: 'dnd' }).expect(200);
    await advance(40_000); // Timer F (32 s) runs out: 408
    await eventually(async () => expect((await h.get('/v1/targets/kam/status')).body.failed).toBeGreaterThan(0));
    await h.put('/v1/people/alice/status', { activity: 'break' }).expect(200);
    await advance(40_000);
    await kam.restart();
    await watch();
    await until(() => expect(latest()).toMatchObject({ activities: ['away'], note: 'On a break' }));
    expect((await h.get('/healthz')).status).toBe(200);
  });

  /**
   * `PresenceHubPbxSilent` watches a tenant with dialog subscriptions by the stamp of source pbx. Kamailio
   * answers a subscription to a line with no call (no presentity) with an empty NOTIFY (RFC 6665 §4.2.2:
   * "no meaningful state"), at every refresh: each must stamp, or a night of idle lines alerts.
   */
  it('an idle line\'s NOTIFYs (empty: no dialog) stamp source pbx, at the subscription and at each refresh', async () => {
    const stamp = async () => series((await h.get('/metrics').expect(200)).text, 'presence_source_last_signal_timestamp_seconds', { tenant: 'acme', source: 'pbx' });
    await advance(60_000);
    const subscribedAt = h.clock.now();
    await addTarget({ subscribeDialog: true });
    await eventually(() => expect((h.hub.pipeline.status('acme', 'kam')?.details as { dialogSubscriptions: Record<string, number> }).dialogSubscriptions).toEqual({ active: 1 }));
    await eventually(async () => expect(await stamp()).toBeGreaterThanOrEqual(subscribedAt / 1000));
    const first = (await stamp())!;
    await advance(120_000);
    await eventually(async () => expect(await stamp()).toBeGreaterThan(first));
    expect((await h.get('/v1/presence/alice')).body.activity).toBe('available');
  });

  it("a removal Kamailio did not answer, retried after the person was recreated under another id, removes only the old publication: watchers keep the new person's state", async () => {
    await watch();
    await addTarget();
    await h.put('/v1/people/alice/status', { activity: 'away' }).expect(200);
    await eventually(() => expect(latest()).toMatchObject({ activities: ['away'] }));
    // Kamailio stalls (every process stopped): what it is sent waits in its socket, unanswered.
    process.kill(-kam.pid, 'SIGSTOP');
    try {
      await h.del('/v1/people/alice').expect(204);
      await advance(40_000); // Timer F: the removal fails, and is retried on the target's backoff
      await eventually(async () => expect((await h.get('/v1/targets/kam/status')).body.failed).toBeGreaterThan(0));
      // Recreated under another id, the same presentity: its own initial PUBLISH.
      await h.put('/v1/people/alice2', { name: 'Alice', sipUri: 'sip:alice@example.test' }).expect(201);
      await h.put('/v1/people/alice2/status', { activity: 'dnd' }).expect(200);
    } finally {
      process.kill(-kam.pid, 'SIGCONT');
    }
    // Everything waiting goes out (the removal's retry by the old etag among it) until nothing waits.
    await until(async () => expect((await h.get('/v1/targets/kam/status')).body).toMatchObject({ state: 'healthy', waiting: 0 }));
    await until(() => expect(latest()).toMatchObject({ basic: 'closed', activities: ['busy'] }));
    await advance(10_000);
    // Kamailio holds the new publication alone: one tuple, the new state.
    const last = watcher!.notifies().at(-1)!.body;
    expect(last.match(/<tuple\b/g)).toHaveLength(1);
    expect(activitiesOf(last)).toMatchObject({ basic: 'closed', activities: ['busy'] });
    expect((await h.get('/v1/targets/kam/status')).body.details.publications).toEqual({ published: 1 });
  });

  describe('a person given a new SIP URI', () => {
    /** What Kamailio notifies once no publication of ours is left for the presentity: closed, without our person element. */
    const unpublished = (w: Watcher) => {
      const body = w.notifies().at(-1)?.body ?? '';
      return body.includes('<basic>closed</basic>') && !body.includes('p-presence-hub');
    };
    const ours = (w: Watcher) => w.bodies().filter((b) => b.includes('presence-hub')).map(activitiesOf).pop();
    const moveAlice = () => h.put('/v1/people/alice', { name: 'Alice', extension: '1001', sipUri: 'sip:alice2@example.test', teams: ['support'] }).expect(200);

    it("has the old presentity's publication removed: its watchers no longer see them, the new one's do", async () => {
      const old = await watch();
      const moved = await startWatcher(kam, { user: 'alice2', expires: 300 });
      watchers.push(moved);
      await addTarget();
      await h.put('/v1/people/alice/status', { activity: 'away' }).expect(200);
      await eventually(() => expect(latest()).toMatchObject({ activities: ['away'] }));
      await moveAlice();
      await eventually(() => expect(unpublished(old)).toBe(true));
      await eventually(() => expect(ours(moved)).toMatchObject({ basic: 'closed', activities: ['away'] }));
    });

    it('has it removed even when the removal went unanswered: the retry asks again, by its etag, long before it would lapse', async () => {
      const relay = await sipRelay(kam);
      try {
        const old = await watch();
        const moved = await startWatcher(kam, { user: 'alice2', expires: 300 });
        watchers.push(moved);
        await addTarget({ server: relay.server });
        await h.put('/v1/people/alice/status', { activity: 'away' }).expect(200);
        await eventually(() => expect(latest()).toMatchObject({ activities: ['away'] }));
        // The removal (Expires 0) is lost on the way, every retransmission of it: Timer F ends it unanswered.
        relay.dropPublishes((header) => header('Expires') === '0');
        await moveAlice();
        await advance(40_000);
        await eventually(async () => expect((await h.get('/v1/targets/kam/status')).body.failed).toBeGreaterThan(0));
        relay.dropPublishes(undefined);
        await until(async () => expect((await h.get('/v1/targets/kam/status')).body).toMatchObject({ state: 'healthy', waiting: 0 }));
        // Kamailio's own clock: the old publication (120 s) has not expired.
        await until(() => expect(unpublished(old)).toBe(true));
        await until(() => expect(ours(moved)).toMatchObject({ basic: 'closed', activities: ['away'] }));
        expect((await h.get('/v1/targets/kam/status')).body.details.publications).toEqual({ published: 1 });
      } finally {
        await relay.close();
      }
    });
  });

  it('reads the phone state back over the dialog package (BLF) and feeds it into the merge', async () => {
    const seen: string[] = [];
    h.hub.feed.subscribe('acme', (e) => e.presence && seen.push(e.presence.activity));
    await addTarget({ subscribeDialog: true });
    await eventually(() => expect((h.hub.pipeline.status('acme', 'kam')?.details as { dialogSubscriptions: Record<string, number> }).dialogSubscriptions).toEqual({ active: 1 }));
    expect((await h.get('/metrics')).text).toContain('presence_dialog_watches{tenant="acme",target="kam",health="watching"} 1');
    const results = await publishDialogStates(kam, { user: '1001', states: ['early'], direction: 'recipient', dialogId: 'call-1' });
    expect(results.map((r) => r.status)).toEqual([200]);
    await eventually(() => expect(seen).toContain('ringing'));
    await publishDialogStates(kam, { user: '1001', states: ['confirmed'], direction: 'recipient', dialogId: 'call-1' });
    await eventually(() => expect(seen).toContain('on-call'));
    expect((await h.get('/v1/presence/alice')).body).toMatchObject({ activity: 'on-call', source: 'pbx' });
    await publishDialogStates(kam, { user: '1001', states: ['terminated'], direction: 'recipient', dialogId: 'call-1' });
    await eventually(async () => expect((await h.get('/v1/presence/alice')).body.activity).toBe('available'));
    expect(seen.slice(seen.indexOf('ringing'))).toEqual(['ringing', 'on-call', 'available']);
  });
});
