import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWith } from '../support/components.js';
import { startKamailio, type RunningKamailio } from '../support/kamailio.js';
import { dialogInfo, pidf } from '../support/sip-bodies.js';
import {
  placeCall,
  publish,
  publishDialogStates,
  publishUpdate,
  startUas,
  startWatcher,
  summarize,
  type Watcher,
} from '../support/sipp.js';

// Proves the harness against the real Kamailio and SIPp; later suites build on it.
describeWith(['kamailio', 'sipp'], 'harness: kamailio presence server driven by sipp', () => {
  let kam: RunningKamailio;
  const watchers: Watcher[] = [];
  const watch = async (...args: Parameters<typeof startWatcher>) => {
    const w = await startWatcher(...args);
    watchers.push(w);
    return w;
  };

  beforeAll(async () => {
    kam = await startKamailio();
  });
  afterAll(async () => {
    await Promise.all(watchers.map((w) => w.stop()));
    await kam?.stop();
  });

  it('answers an authenticated PUBLISH with 200 and a SIP-ETag', async () => {
    const res = await publish(kam, { user: 'alice', body: pidf({ entity: kam.aor('alice') }) });
    expect(res.status, summarize(res.messages)).toBe(200);
    expect(res.exitCode).toBe(0);
    expect(res.etag).toMatch(/^a\.\d+\.\d+\.\d+\.\d+$/);
    expect(res.expires).toBe(600);
    // The digest round trip really happened.
    expect(res.messages.filter((m) => m.status === 407)).toHaveLength(1);
  });

  it('does not accept a PUBLISH with a wrong password or an unknown user', async () => {
    const body = pidf({ entity: kam.aor('alice') });
    const wrongPassword = await publish(kam, { user: 'alice', body, credentials: { user: 'hub', password: 'nope' } });
    expect(wrongPassword.status, summarize(wrongPassword.messages)).toBe(403);
    expect(wrongPassword.exitCode).not.toBe(0);
    expect(wrongPassword.etag).toBeUndefined();
    const otherUser = await publish(kam, { user: 'alice', body, credentials: { user: 'mallory', password: 's3cret' } });
    expect(otherUser.status).toBe(403);
  });

  it('notifies a presence watcher with the published <basic>open</basic>', async () => {
    const watcher = await watch(kam, { user: 'bob' });
    const res = await publish(kam, { user: 'bob', body: pidf({ entity: kam.aor('bob'), tupleId: 't-smoke', note: 'harness' }) });
    expect(res.status, summarize(res.messages)).toBe(200);
    const notify = await watcher.waitFor((body) => body.includes('<basic>open</basic>'));
    expect(notify.header('Event')).toBe('presence');
    expect(notify.header('Content-Type')).toBe('application/pidf+xml');
    expect(notify.body).toContain('t-smoke');
    expect(watcher.bodies().some((b) => b.includes('<note>harness</note>'))).toBe(true);
    const stopped = await watcher.stop();
    expect(stopped.exitCode, stopped.output.join('\n')).toBe(0);
    // It unsubscribed: the last NOTIFY it got says so.
    expect(stopped.messages.filter((m) => m.method === 'NOTIFY').at(-1)?.header('Subscription-State')).toMatch(/^terminated/);
  });

  it('carries PBX dialog-info (early, confirmed, terminated) to an Event: dialog watcher', async () => {
    const watcher = await watch(kam, { user: 'carol', event: 'dialog' });
    const steps = await publishDialogStates(kam, { user: 'carol', states: ['early', 'confirmed', 'terminated'], dialogId: 'call-1' });
    expect(steps.map((s) => s.status), steps.map((s) => summarize(s.messages)).join('\n--\n')).toEqual([200, 200, 200]);
    for (const state of ['early', 'confirmed', 'terminated']) {
      const notify = await watcher.waitFor((body) => body.includes(`<state>${state}</state>`));
      expect(notify.header('Content-Type')).toBe('application/dialog-info+xml');
    }
    expect(watcher.bodies().every((b) => b.includes('urn:ietf:params:xml:ns:dialog-info'))).toBe(true);
  });

  it('takes PUBLISH over TCP as well', async () => {
    const body = dialogInfo({ entity: kam.aor('dave'), version: 1, dialogs: [{ id: 'tcp-1', state: 'confirmed' }] });
    const res = await publish(kam, { user: 'dave', event: 'dialog', body, transport: 'tcp' });
    expect(res.status, summarize(res.messages)).toBe(200);
    expect(res.messages[0]?.transport).toBe('TCP');
  });

  it('restarts on the same port and forgets its ETags', async () => {
    const first = await publish(kam, { user: 'erin', body: pidf({ entity: kam.aor('erin') }) });
    expect(first.etag).toBeDefined();
    const port = kam.port;
    const pid = kam.pid;
    await kam.restart();
    expect(kam.port).toBe(port);
    expect(kam.pid).not.toBe(pid);
    const stale = await publishUpdate(kam, { user: 'erin', etag: first.etag!, body: pidf({ entity: kam.aor('erin') }) });
    expect(stale.status, summarize(stale.messages)).toBe(412);
    const again = await publish(kam, { user: 'erin', body: pidf({ entity: kam.aor('erin') }) });
    expect(again.status).toBe(200);
  });

  it('comes back on the same port after kill -9', async () => {
    const port = kam.port;
    await kam.kill();
    expect(kam.running).toBe(false);
    await kam.restart();
    expect(kam.port).toBe(port);
    const res = await publish(kam, { user: 'frank', body: pidf({ entity: kam.aor('frank') }) });
    expect(res.status).toBe(200);
  });
});

describeWith(['sipp'], 'harness: sipp phone that answers calls', () => {
  it('answers INVITE with 180 and 200 and the caller hangs up', async () => {
    const uas = await startUas({ ringMs: 50 });
    try {
      const call = await placeCall(uas, { callee: 'alice' });
      expect(call.status, summarize(call.messages)).toBe(200);
      expect(call.exitCode).toBe(0);
      const done = await uas.done;
      expect(done.exitCode, summarize(done.messages)).toBe(0);
      const received = done.messages.filter((m) => m.direction === 'received').map((m) => m.method);
      expect(received).toEqual(['INVITE', 'ACK', 'BYE']);
      expect(done.messages.filter((m) => m.direction === 'sent').map((m) => m.status)).toEqual([100, 180, 200, 200]);
    } finally {
      await uas.stop();
    }
  });
});
