import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../shared/clock/manual-clock.js';
import type { Person } from '../../shared/domain/directory.js';
import type { Presence } from '../../shared/domain/presence.js';
import type { AriTarget, WebhookTarget } from '../../shared/domain/target.js';
import type { HttpResult, HttpTargetClient } from '../../services/publishers/http-client.js';
import type { Delivery } from '../../services/publishers/sink.js';
import { AriSink } from '../../services/publishers/sinks/ari-sink.js';
import { WebhookSink } from '../../services/publishers/sinks/webhook-sink.js';

const T0 = Date.parse('2026-03-02T09:00:00Z');
const ALICE = { id: 'alice', tenantId: 't1', name: 'Alice', extension: '1001', teams: [], sensitive: false } as unknown as Person;
const state = (version: number, over: Partial<Presence>): Presence =>
  ({ personId: 'alice', availability: 'available', activity: 'available', routable: true, endpoints: [], explanation: [], since: T0, availabilitySince: T0, version, ...over }) as Presence;
const FREE = (v: number) => state(v, {});
const BUSY = (v: number) => state(v, { availability: 'busy', activity: 'in-meeting', routable: false, since: T0 + 1000, availabilitySince: T0 + 1000 });
const delivery = (presence: Presence): Delivery => ({ tenantId: 't1', personId: 'alice', person: ALICE, presence, version: presence.version });

/** Records every request; `timeOutNext` makes the next one reach the receiver and then time out, as a slow receiver's would. */
class Recording implements HttpTargetClient {
  readonly requests: Array<{ url: string; body?: string }> = [];
  timeOutNext = false;
  async request(_method: string, url: URL, _headers: Record<string, string>, body?: string): Promise<HttpResult> {
    this.requests.push({ url: url.toString(), ...(body === undefined ? {} : { body }) });
    if (this.timeOutNext) {
      this.timeOutNext = false;
      throw new Error('timed out');
    }
    return { status: 200, body: '' };
  }
  close(): void {}
}

describe('push sinks after a delivery that failed', () => {
  it('a webhook receiver that may have taken a rendering it did not acknowledge gets the next one, though that reads as the last acknowledged', async () => {
    const client = new Recording();
    const target = { id: 'hook', tenantId: 't1', kind: 'webhook', name: 'CRM', enabled: true, url: 'http://127.0.0.1:9/presence' } as WebhookTarget;
    const sink = new WebhookSink(target, 'whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0', client, new ManualClock(T0));
    await sink.deliver(delivery(FREE(1)));
    // A new extension, re-rendered; the receiver may have taken it; then the extension is put back.
    client.timeOutNext = true;
    await expect(sink.deliver({ ...delivery(FREE(1)), person: { ...ALICE, extension: '1002' }, rerender: T0 + 1 })).rejects.toThrow('timed out');
    await sink.deliver({ ...delivery(FREE(1)), rerender: T0 + 2 });
    // Once acknowledged, the same reading is held back again.
    await sink.deliver({ ...delivery(FREE(1)), rerender: T0 + 3 });
    expect(client.requests.map((r) => JSON.parse(r.body!).person.extension)).toEqual(['1001', '1002', '1001']);
  });

  it('sends no webhook for a state of someone whose record is gone (deleted as it was published): a body without person and presence breaks the documented schema, and the removal follows', async () => {
    const client = new Recording();
    const target = { id: 'hook', tenantId: 't1', kind: 'webhook', name: 'CRM', enabled: true, url: 'http://127.0.0.1:9/presence' } as WebhookTarget;
    const sink = new WebhookSink(target, 'whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0', client, new ManualClock(T0));
    const { person: _, ...gone } = delivery(BUSY(2));
    expect(await sink.deliver(gone)).toBe('unchanged');
    await sink.deliver({ tenantId: 't1', personId: 'alice', version: 3 });
    expect(client.requests.map((r) => JSON.parse(r.body!).type)).toEqual(['presence.removed']);
  });

  it('an Asterisk device a timed-out PUT may have set is set again, though the state matches the last acknowledged', async () => {
    const client = new Recording();
    const target = { id: 'ast', tenantId: 't1', kind: 'ari', name: 'Asterisk', enabled: true, baseUrl: 'http://127.0.0.1:9', username: 'u', deviceName: 'Stasis:p-{extension}' } as AriTarget;
    const sink = new AriSink(target, 'pw', client);
    await sink.deliver(delivery(FREE(1)));
    client.timeOutNext = true;
    await expect(sink.deliver(delivery(BUSY(2)))).rejects.toThrow('timed out');
    await sink.deliver(delivery(FREE(3)));
    await sink.deliver(delivery(FREE(4)));
    expect(client.requests.map((r) => new URL(r.url).searchParams.get('deviceState'))).toEqual(['NOT_INUSE', 'BUSY', 'NOT_INUSE']);
  });

  it("shows Asterisk a call of someone whose directory record could not be read as BUSY, as for a sensitive person", async () => {
    const client = new Recording();
    const target = { id: 'ast', tenantId: 't1', kind: 'ari', name: 'Asterisk', enabled: true, baseUrl: 'http://127.0.0.1:9', username: 'u', deviceName: 'Stasis:p-{personId}' } as AriTarget;
    const sink = new AriSink(target, 'pw', client);
    const call = state(1, { availability: 'busy', activity: 'on-call', routable: false });
    await sink.deliver(delivery(call));
    const { person: _, ...unread } = delivery(state(2, { availability: 'busy', activity: 'ringing', routable: false }));
    await sink.deliver(unread);
    expect(client.requests.map((r) => new URL(r.url).searchParams.get('deviceState'))).toEqual(['INUSE', 'BUSY']);
  });

  it("resets the device a previous owner set for someone, when their extension changes or they are removed", async () => {
    const client = new Recording();
    const target = { id: 'ast', tenantId: 't1', kind: 'ari', name: 'Asterisk', enabled: true, baseUrl: 'http://127.0.0.1:9', username: 'u', deviceName: 'Stasis:p-{extension}' } as AriTarget;
    const sink = new AriSink(target, 'pw', client);
    const bob = { ...ALICE, id: 'bob', extension: '1002' } as Person;
    sink.adopt('alice', ALICE);
    sink.adopt('bob', bob);
    // Where the ledger says a previous owner set carol's device, though her record is gone.
    sink.adopt('carol', undefined, 'Stasis:p-|1003');
    await sink.deliver({ ...delivery(FREE(1)), person: { ...ALICE, extension: '1009' }, rerender: T0 });
    await sink.deliver({ tenantId: 't1', personId: 'bob', version: 2 });
    await sink.deliver({ tenantId: 't1', personId: 'carol', version: 2 });
    expect(client.requests.map((r) => [new URL(r.url).pathname, new URL(r.url).searchParams.get('deviceState')])).toEqual([
      ['/ari/deviceStates/Stasis:p-1009', 'NOT_INUSE'],
      ['/ari/deviceStates/Stasis:p-1001', 'UNAVAILABLE'],
      ['/ari/deviceStates/Stasis:p-1002', 'UNAVAILABLE'],
      ['/ari/deviceStates/Stasis:p-%7C1003', 'UNAVAILABLE'],
    ]);
    // What the ledger keeps of each acknowledged delivery: the device a state was set on, none for a removal.
    expect(sink.addressOf({ ...delivery(FREE(1)), person: { ...ALICE, extension: '1009' } })).toBe('Stasis:p-1009');
    expect(sink.addressOf({ tenantId: 't1', personId: 'alice', version: 3 })).toBeUndefined();
  });
});
