import { describe, expect, it } from 'vitest';
import { tagOf } from '../../shared/sip/address.js';
import { createRequest, parseCSeq, type SipRequest, type SipResponse } from '../../shared/sip/message.js';
import { parseSubscriptionState, Subscriber, type Notification, type SubscriberOptions } from '../../shared/sip/subscriber.js';
import { setup, T0, TARGET } from './helpers.js';

const WATCHER = 'sip:hub@example.test';
const RESOURCE = 'sip:1001@example.test';
const NOTIFIER_CONTACT = '<sip:presence@192.0.2.1:5070>';

interface NotifyOptions {
  state: string;
  body?: string;
  fromTag?: string;
  callId?: string;
  toTag?: string;
  event?: string;
  recordRoute?: string;
}

function harness(over: Partial<SubscriberOptions> = {}) {
  const h = setup();
  const notifications: Notification[] = [];
  const subscriber = new Subscriber({
    core: h.core,
    target: TARGET,
    subscriber: WATCHER,
    resource: RESOURCE,
    expiresSec: 600,
    backoff: { initialMs: 1_000, maxMs: 8_000, jitter: 0 },
    onNotify: (n) => notifications.push(n),
    ...over,
  });
  const last = () => h.transport.lastRequest('SUBSCRIBE');
  const subscribes = () => [...new Map(h.transport.requests('SUBSCRIBE').map((r) => [r.headers.get('via'), r])).values()];
  let notifyCSeq = 0;
  /** Injects a NOTIFY for the dialog of `subscribe` and returns the status it was answered with. */
  const notify = async (subscribe: SipRequest, o: NotifyOptions): Promise<number | undefined> => {
    notifyCSeq += 1;
    const request = createRequest('NOTIFY', 'sip:192.0.2.100:5060', [
      ['Via', `SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKn${notifyCSeq}`],
      ...(o.recordRoute ? [['Record-Route', o.recordRoute] as [string, string]] : []),
      ['From', `<${RESOURCE}>;tag=${o.fromTag ?? 'ntf'}`],
      ['To', `<${WATCHER}>;tag=${o.toTag ?? tagOf(subscribe.headers.get('from'))}`],
      ['Call-ID', o.callId ?? subscribe.headers.get('call-id') ?? ''],
      ['CSeq', `${notifyCSeq} NOTIFY`],
      ['Contact', NOTIFIER_CONTACT],
      ['Event', o.event ?? 'dialog'],
      ['Subscription-State', o.state],
      ['Content-Type', 'application/dialog-info+xml'],
    ], o.body ?? '');
    h.transport.inject(request);
    await h.clock.advance(0);
    const response = h.transport.sent
      .map((s) => s.message)
      .filter((m): m is SipResponse => m.kind === 'response')
      .find((m) => m.headers.get('cseq') === `${notifyCSeq} NOTIFY`);
    return response?.status;
  };
  const answer = async (status: number, headers: Array<[string, string]> = []) => {
    h.transport.respond(last(), status, headers);
    await h.clock.advance(0);
  };
  /** A 200 to the last SUBSCRIBE; FakeTransport tags it `fake-remote`, the tag the tests' NOTIFYs then use. */
  const accept = (expires = 600, extra: Array<[string, string]> = []) =>
    answer(200, [['Expires', String(expires)], ['Contact', NOTIFIER_CONTACT], ...extra]);
  return { ...h, subscriber, notifications, last, subscribes, notify, answer, accept };
}

describe('Subscriber (RFC 6665)', () => {
  it('sends SUBSCRIBE with Event, Expires, Accept and Contact', async () => {
    const h = harness();
    h.subscriber.start();
    await h.clock.advance(0);
    const s = h.last();
    expect(s.uri).toBe(RESOURCE);
    expect(s.headers.get('event')).toBe('dialog');
    expect(s.headers.get('expires')).toBe('600');
    expect(s.headers.get('accept')).toBe('application/dialog-info+xml');
    expect(s.headers.get('contact')).toBe('<sip:192.0.2.100:5060>');
    expect(tagOf(s.headers.get('to'))).toBeUndefined();
    expect(h.subscriber.status().state).toBe('subscribing');
  });

  it('handles a NOTIFY that arrives before the 200', async () => {
    const h = harness();
    h.subscriber.start();
    await h.clock.advance(0);
    const s = h.last();
    expect(await h.notify(s, { state: 'active;expires=600', body: '<dialog-info/>', fromTag: 'fake-remote' })).toBe(200);
    expect(h.notifications).toHaveLength(1);
    expect(h.notifications[0]).toMatchObject({ body: '<dialog-info/>', contentType: 'application/dialog-info+xml', subscriptionState: { value: 'active', expires: 600 } });
    expect(h.subscriber.status().state).toBe('active');
    await h.accept();
    expect(h.subscriber.status()).toMatchObject({ state: 'active', lastStatusCode: 200, subscriptionState: 'active' });
    expect(await h.notify(s, { state: 'active;expires=590', fromTag: 'fake-remote' })).toBe(200);
    expect(h.notifications).toHaveLength(2);
  });

  it('held, sends nothing of its own accord (a refresh, a re-subscription after its backoff, a first SUBSCRIBE); released, what fell due goes out once', async () => {
    const h = harness();
    h.subscriber.hold();
    h.subscriber.start();
    await h.clock.advance(0);
    expect(h.subscribes()).toHaveLength(0);
    h.subscriber.release();
    await h.clock.advance(0);
    const first = h.last();
    await h.accept();
    await h.notify(first, { state: 'active;expires=600', fromTag: 'fake-remote' });
    h.subscriber.hold();
    // Past the refresh (at 510 s), not the expiry: nothing; released, the refresh goes out in the dialog.
    await h.clock.advance(590_000);
    expect(h.subscribes()).toHaveLength(1);
    expect(h.subscriber.waiting).toBe(true);
    expect(h.subscriber.status().state).toBe('active');
    h.subscriber.release();
    await h.clock.advance(0);
    expect(h.subscribes()).toHaveLength(2);
    expect(h.last().headers.get('call-id')).toBe(first.headers.get('call-id'));
    expect(h.subscriber.waiting).toBe(false);
    await h.accept();
    // Held past the expiry (RFC 6665 §4.1.2.2: the notifier ends it then): no longer watching, and released, a new subscription.
    h.subscriber.hold();
    await h.clock.advance(700_000);
    expect(h.subscribes()).toHaveLength(2);
    expect(h.subscriber.status().state).toBe('backoff');
    expect(h.subscriber.waiting).toBe(true);
    h.subscriber.release();
    await h.clock.advance(0);
    expect(h.subscribes()).toHaveLength(3);
    expect(h.last().headers.get('call-id')).not.toBe(first.headers.get('call-id'));
    expect(h.last().headers.get('to')).not.toContain('tag=');
    // Refused while held: its re-subscription (after 1 s) waits too.
    h.subscriber.hold();
    await h.answer(503);
    await h.clock.advance(60_000);
    expect(h.subscribes()).toHaveLength(3);
    expect(h.subscriber.status().state).toBe('backoff');
    h.subscriber.release();
    await h.clock.advance(0);
    expect(h.subscribes()).toHaveLength(4);
    expect(h.last().headers.get('call-id')).not.toBe(first.headers.get('call-id'));
    // Disposed while held, nothing it had due goes out when released.
    h.subscriber.hold();
    await h.answer(503);
    await h.clock.advance(60_000);
    h.subscriber.dispose();
    h.subscriber.release();
    await h.clock.advance(60_000);
    expect(h.subscribes()).toHaveLength(4);
  });

  it('accepts 202 as well as 200', async () => {
    const h = harness();
    h.subscriber.start();
    await h.clock.advance(0);
    await h.answer(202, [['Expires', '600']]);
    expect(h.subscriber.status()).toMatchObject({ state: 'pending', lastStatusCode: 202 });
    expect(await h.notify(h.last(), { state: 'pending', fromTag: 'fake-remote' })).toBe(200);
    expect(h.subscriber.status().state).toBe('pending');
  });

  it('refreshes in the dialog before expiry: same Call-ID and tags, CSeq+1, remote target and route set', async () => {
    const h = harness();
    h.subscriber.start();
    await h.clock.advance(0);
    const first = h.last();
    await h.accept(600, [
      ['Record-Route', '<sip:p1.example.test;lr>'],
      ['Record-Route', '<sip:p2.example.test;lr>'],
    ]);
    await h.notify(first, { state: 'active;expires=600', fromTag: 'fake-remote' });
    await h.clock.advance(509_999);
    expect(h.subscribes()).toHaveLength(1);
    await h.clock.advance(1);
    const refresh = h.last();
    expect(h.subscriber.status().state).toBe('refreshing');
    expect(refresh.uri).toBe('sip:presence@192.0.2.1:5070');
    expect(refresh.headers.get('call-id')).toBe(first.headers.get('call-id'));
    expect(tagOf(refresh.headers.get('from'))).toBe(tagOf(first.headers.get('from')));
    expect(tagOf(refresh.headers.get('to'))).toBe('fake-remote');
    expect(parseCSeq(refresh.headers.get('cseq'))?.seq).toBe(2);
    expect(refresh.headers.getAll('route')).toEqual(['<sip:p2.example.test;lr>', '<sip:p1.example.test;lr>']);
    await h.accept(300);
    expect(h.subscriber.status()).toMatchObject({ state: 'active', expiresAt: T0 + 510_000 + 300_000 });
    await h.clock.advance(255_000);
    expect(parseCSeq(h.last().headers.get('cseq'))?.seq).toBe(3);
  });

  it('takes the route set in order from a NOTIFY that creates the dialog, and a shorter NOTIFY expires brings the refresh forward', async () => {
    const h = harness();
    h.subscriber.start();
    await h.clock.advance(0);
    const first = h.last();
    await h.notify(first, { state: 'active;expires=100', fromTag: 'fake-remote', recordRoute: '<sip:a;lr>, <sip:b;lr>' });
    await h.accept(600);
    await h.notify(first, { state: 'active;expires=60', fromTag: 'fake-remote' });
    await h.clock.advance(51_000);
    expect(h.last().headers.getAll('route')).toEqual(['<sip:a;lr>', '<sip:b;lr>']);
    expect(parseCSeq(h.last().headers.get('cseq'))?.seq).toBe(2);
  });

  it('re-subscribes with a new dialog after a terminated NOTIFY, after backoff', async () => {
    const h = harness();
    h.subscriber.start();
    await h.clock.advance(0);
    const first = h.last();
    await h.accept();
    expect(await h.notify(first, { state: 'terminated;reason=deactivated', fromTag: 'fake-remote' })).toBe(200);
    expect(h.notifications.at(-1)?.subscriptionState).toEqual({ value: 'terminated', reason: 'deactivated', expires: undefined, retryAfter: undefined });
    expect(h.subscriber.status()).toMatchObject({ state: 'backoff', subscriptionState: 'terminated', reason: 'deactivated' });
    await h.clock.advance(999);
    expect(h.subscribes()).toHaveLength(1);
    await h.clock.advance(1);
    const second = h.last();
    expect(h.subscribes()).toHaveLength(2);
    expect(second.headers.get('call-id')).not.toBe(first.headers.get('call-id'));
    expect(tagOf(second.headers.get('to'))).toBeUndefined();
    // NOTIFYs for the old dialog are now unknown.
    expect(await h.notify(first, { state: 'active', fromTag: 'fake-remote' })).toBe(481);
  });

  it('honours retry-after and does not re-subscribe after rejected', async () => {
    const h = harness();
    h.subscriber.start();
    await h.clock.advance(0);
    await h.accept();
    await h.notify(h.last(), { state: 'terminated;reason=probation;retry-after=30', fromTag: 'fake-remote' });
    await h.clock.advance(29_999);
    expect(h.subscribes()).toHaveLength(1);
    await h.clock.advance(1);
    expect(h.subscribes()).toHaveLength(2);
    await h.accept();
    await h.notify(h.last(), { state: 'terminated;reason=rejected', fromTag: 'fake-remote' });
    await h.clock.advance(3_600_000);
    expect(h.subscribes()).toHaveLength(2);
    expect(h.subscriber.status()).toMatchObject({ state: 'terminated', reason: 'rejected' });
  });

  it('answers 481 to NOTIFYs for unknown subscriptions or another remote tag, 489 to another event', async () => {
    const h = harness();
    h.subscriber.start();
    await h.clock.advance(0);
    const s = h.last();
    await h.accept();
    expect(await h.notify(s, { state: 'active', callId: 'other-call', fromTag: 'fake-remote' })).toBe(481);
    expect(await h.notify(s, { state: 'active', toTag: 'other-tag', fromTag: 'fake-remote' })).toBe(481);
    expect(await h.notify(s, { state: 'active', fromTag: 'forked' })).toBe(481);
    expect(await h.notify(s, { state: 'active', event: 'presence', fromTag: 'fake-remote' })).toBe(489);
    expect(h.notifications).toHaveLength(0);
  });

  it('re-subscribes with backoff after a timeout, and when no NOTIFY comes within Timer N', async () => {
    const h = harness();
    h.subscriber.start();
    await h.clock.advance(32_000);
    expect(h.subscriber.status()).toMatchObject({ state: 'backoff', lastStatusCode: 408, consecutiveFailures: 1 });
    await h.clock.advance(1_000);
    expect(h.subscribes()).toHaveLength(2);
    await h.accept();
    await h.clock.advance(32_000 - 1);
    expect(h.subscribes()).toHaveLength(2);
    await h.clock.advance(1);
    expect(h.subscriber.status()).toMatchObject({ state: 'backoff', consecutiveFailures: 1 });
    await h.clock.advance(1_000);
    expect(h.subscribes()).toHaveLength(3);
  });

  it('retries with Min-Expires after 423 and answers digest challenges', async () => {
    const h = harness({ credentials: { username: 'hub', password: 'pw' } });
    h.subscriber.start();
    await h.clock.advance(0);
    await h.answer(423, [['Min-Expires', '3600']]);
    expect(h.last().headers.get('expires')).toBe('3600');
    await h.answer(407, [['Proxy-Authenticate', 'Digest realm="example.test", nonce="n", qop="auth"']]);
    expect(h.last().headers.get('proxy-authorization')).toMatch(/^Digest username="hub"/);
    expect(parseCSeq(h.last().headers.get('cseq'))?.seq).toBe(3);
    await h.accept(3600);
    expect(h.subscriber.status().lastStatusCode).toBe(200);
  });

  it('starts a new subscription at once when a refresh gets 481', async () => {
    const h = harness();
    h.subscriber.start();
    await h.clock.advance(0);
    const first = h.last();
    await h.accept();
    await h.notify(first, { state: 'active', fromTag: 'fake-remote' });
    await h.clock.advance(510_000);
    await h.answer(481);
    expect(h.subscribes()).toHaveLength(3);
    expect(h.last().headers.get('call-id')).not.toBe(first.headers.get('call-id'));
  });

  it('unsubscribes with Expires 0 in the dialog and still answers the final NOTIFY', async () => {
    const h = harness();
    h.subscriber.start();
    await h.clock.advance(0);
    const first = h.last();
    await h.accept();
    await h.notify(first, { state: 'active', fromTag: 'fake-remote' });
    let done = false;
    void h.subscriber.unsubscribe().then(() => (done = true));
    await h.clock.advance(0);
    const bye = h.last();
    expect(bye.headers.get('expires')).toBe('0');
    expect(tagOf(bye.headers.get('to'))).toBe('fake-remote');
    expect(h.subscriber.status().state).toBe('unsubscribing');
    await h.answer(200, [['Expires', '0']]);
    expect(done).toBe(true);
    expect(await h.notify(first, { state: 'terminated;reason=timeout', fromTag: 'fake-remote' })).toBe(200);
    expect(h.notifications.at(-1)?.subscriptionState.value).toBe('terminated');
    await h.clock.advance(3_600_000);
    expect(h.subscribes()).toHaveLength(2);
    expect(h.subscriber.status().state).toBe('terminated');
  });

  it('keeps answering 200 when the callback throws', async () => {
    const h = harness({
      onNotify: () => {
        throw new Error('consumer bug');
      },
    });
    h.subscriber.start();
    await h.clock.advance(0);
    expect(await h.notify(h.last(), { state: 'active', fromTag: 'fake-remote' })).toBe(200);
  });
});

describe('Subscription-State', () => {
  it('parses value and parameters', () => {
    expect(parseSubscriptionState('Terminated;reason=giveup;retry-after=120')).toEqual({ value: 'terminated', reason: 'giveup', retryAfter: 120, expires: undefined });
    expect(parseSubscriptionState('active; expires=60')).toMatchObject({ value: 'active', expires: 60 });
    expect(parseSubscriptionState('')).toBeUndefined();
  });
});
