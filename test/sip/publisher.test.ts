import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../shared/sip/backoff.js';
import { SipTransportError } from '../../shared/sip/errors.js';
import { parseCSeq } from '../../shared/sip/message.js';
import { Publisher, type PublisherOptions } from '../../shared/sip/publisher.js';
import { setup, T0, TARGET } from './helpers.js';

const AOR = 'sip:alice@example.test';

function harness(over: Partial<PublisherOptions> = {}) {
  const h = setup();
  const publisher = new Publisher({
    core: h.core,
    target: TARGET,
    presentity: AOR,
    expiresSec: 120,
    backoff: { initialMs: 1_000, maxMs: 8_000, jitter: 0.5 },
    ...over,
  });
  /** Instants (ms after T0) at which a new PUBLISH transaction started (retransmissions excluded). */
  const starts: number[] = [];
  const send = h.transport.send.bind(h.transport);
  const seen = new Set<string>();
  h.transport.send = (message, to) => {
    const branch = message.headers.get('via') ?? '';
    if (message.kind === 'request' && !seen.has(branch)) {
      seen.add(branch);
      starts.push(h.clock.now() - T0);
    }
    return send(message, to);
  };
  const last = () => h.transport.lastRequest('PUBLISH');
  const count = () => new Set(h.transport.requests('PUBLISH').map((r) => r.headers.get('via'))).size;
  const answer = async (status: number, headers: Array<[string, string]> = []) => {
    h.transport.respond(last(), status, headers);
    await h.clock.advance(0);
  };
  const ok = (etag: string, expires = 120) =>
    answer(200, [
      ['SIP-ETag', etag],
      ['Expires', String(expires)],
    ]);
  const publishAndSettle = async (body: string, etag = 'e1') => {
    publisher.publish(body);
    await h.clock.advance(0);
    await ok(etag);
  };
  return { ...h, publisher, starts, last, count, answer, ok, publishAndSettle };
}

describe('Publisher (RFC 3903)', () => {
  it('sends an initial PUBLISH with the body and keeps the SIP-ETag of the 200', async () => {
    const h = harness();
    h.publisher.publish('<presence/>');
    await h.clock.advance(0);
    expect(h.publisher.status().state).toBe('publishing');
    const initial = h.last();
    expect(initial.uri).toBe(AOR);
    expect(initial.headers.get('from')).toMatch(/^<sip:alice@example\.test>;tag=/);
    expect(initial.headers.get('to')).toBe(`<${AOR}>`);
    expect(initial.headers.get('event')).toBe('presence');
    expect(initial.headers.get('expires')).toBe('120');
    expect(initial.headers.get('content-type')).toBe('application/pidf+xml');
    expect(initial.headers.has('sip-if-match')).toBe(false);
    expect(initial.body).toBe('<presence/>');

    await h.ok('a.1', 90);
    expect(h.publisher.status()).toEqual({
      state: 'published',
      etag: 'a.1',
      expiresAt: T0 + 90_000,
      server: TARGET,
      lastStatusCode: 200,
      lastSuccessAt: T0,
      consecutiveFailures: 0,
    });
  });

  it('refreshes at 85% of the granted Expires with SIP-If-Match and the full body', async () => {
    const h = harness();
    await h.publishAndSettle('<presence>v1</presence>', 'a.1');
    await h.clock.advance(101_999);
    expect(h.count()).toBe(1);
    await h.clock.advance(1);
    expect(h.publisher.status().state).toBe('refreshing');
    const refresh = h.last();
    expect(refresh.headers.get('sip-if-match')).toBe('a.1');
    expect(refresh.body).toBe('<presence>v1</presence>');
    expect(refresh.headers.get('content-type')).toBe('application/pidf+xml');
    expect(refresh.headers.get('expires')).toBe('120');
    expect(parseCSeq(refresh.headers.get('cseq'))?.seq).toBe(2);
    expect(refresh.headers.get('call-id')).toBe(h.transport.requests('PUBLISH')[0]?.headers.get('call-id'));

    await h.ok('a.2', 60);
    await h.clock.advance(51_000);
    expect(h.last().headers.get('sip-if-match')).toBe('a.2');
    expect(h.starts).toEqual([0, 102_000, 153_000]);
  });

  it('after a modify refreshes at 85% of the latest grant, later or sooner than the one before', async () => {
    const h = harness();
    await h.publishAndSettle('v1', 'a.1');
    await h.clock.advance(50_000);
    h.publisher.publish('v2');
    await h.clock.advance(0);
    await h.ok('a.2');
    await h.clock.advance(60_000);
    expect(h.starts).toEqual([0, 50_000]);
    await h.clock.advance(42_000);
    expect(h.starts).toEqual([0, 50_000, 152_000]);
    expect(h.last().headers.get('sip-if-match')).toBe('a.2');
    await h.ok('a.3');
    h.publisher.publish('v3');
    await h.clock.advance(0);
    await h.ok('a.4', 20);
    await h.clock.advance(16_999);
    expect(h.starts).toEqual([0, 50_000, 152_000, 152_000]);
    await h.clock.advance(1);
    expect(h.starts).toEqual([0, 50_000, 152_000, 152_000, 169_000]);
    expect(h.publisher.status().state).toBe('refreshing');
  });

  it('modifies with the new body and the current etag', async () => {
    const h = harness();
    await h.publishAndSettle('v1', 'a.1');
    h.publisher.publish('v2');
    await h.clock.advance(0);
    expect(h.publisher.status().state).toBe('modifying');
    expect(h.last()).toMatchObject({ body: 'v2' });
    expect(h.last().headers.get('sip-if-match')).toBe('a.1');
    await h.ok('a.2');
    expect(h.publisher.status()).toMatchObject({ state: 'published', etag: 'a.2' });
  });

  it('publishes the same body again only when refreshing', async () => {
    const h = harness();
    await h.publishAndSettle('v1');
    h.publisher.publish('v1');
    await h.clock.advance(0);
    expect(h.count()).toBe(1);
  });

  it('after a 412 (a stale etag) forgets the etag and sends a fresh initial PUBLISH with the full body', async () => {
    const h = harness();
    await h.publishAndSettle('v1', 'a.1');
    h.publisher.publish('v2');
    await h.clock.advance(0);
    await h.answer(412);
    const fresh = h.last();
    expect(h.count()).toBe(3);
    expect(fresh.headers.has('sip-if-match')).toBe(false);
    expect(fresh.body).toBe('v2');
    await h.ok('b.1');
    expect(h.publisher.status()).toMatchObject({ state: 'published', etag: 'b.1', consecutiveFailures: 0 });
  });

  it.each([500, 503])('after a %i to a request with SIP-If-Match keeps the etag and retries it after a backoff: the server may still hold it', async (status) => {
    const lost: unknown[] = [];
    const h = harness({ onLost: (...args) => void lost.push(args) });
    await h.publishAndSettle('v1', 'a.1');
    h.publisher.publish('v2');
    await h.clock.advance(0);
    await h.answer(status);
    expect(h.publisher.status()).toMatchObject({ state: 'backoff', etag: 'a.1', consecutiveFailures: 1 });
    await h.clock.advance(1_000);
    expect(h.count()).toBe(3);
    expect(h.last().headers.get('sip-if-match')).toBe('a.1');
    expect(h.last().body).toBe('v2');
    await h.ok('a.2');
    expect(h.publisher.status()).toMatchObject({ state: 'published', etag: 'a.2', consecutiveFailures: 0 });
    // Nothing says the server lost anything: the other publications are not checked.
    expect(lost).toEqual([]);
  });

  it('gives up an etag that keeps getting 5xx (Kamailio’s 500 for one it cannot parse) once the publication has expired', async () => {
    const h = harness({ backoff: { initialMs: 70_000, maxMs: 70_000, jitter: 0 } });
    await h.publishAndSettle('v1', 'bad-etag');
    h.publisher.publish('v2');
    await h.clock.advance(0);
    await h.answer(500);
    await h.clock.advance(70_000);
    expect(h.last().headers.get('sip-if-match')).toBe('bad-etag');
    await h.answer(500);
    // 140 s: past the 120 s the server granted.
    await h.clock.advance(70_000);
    expect(h.count()).toBe(4);
    expect(h.last().headers.has('sip-if-match')).toBe(false);
    expect(h.last().body).toBe('v2');
  });

  it('backs off instead of looping when a fresh initial PUBLISH gets 5xx', async () => {
    const h = harness();
    h.publisher.publish('v1');
    await h.clock.advance(0);
    await h.answer(500);
    expect(h.publisher.status()).toMatchObject({ state: 'backoff', lastStatusCode: 500, consecutiveFailures: 1 });
    expect(h.count()).toBe(1);
    await h.clock.advance(1_000);
    expect(h.count()).toBe(2);
  });

  it('treats a 2xx without SIP-ETag, or with Expires 0, as a failure instead of looping', async () => {
    const h = harness();
    h.publisher.publish('v1');
    await h.clock.advance(0);
    await h.answer(200, [['Expires', '120']]);
    expect(h.publisher.status()).toMatchObject({ state: 'backoff', consecutiveFailures: 1, lastSuccessAt: undefined });
    await h.clock.advance(1_000);
    await h.answer(200, [['SIP-ETag', 'a.1'], ['Expires', '0']]);
    expect(h.publisher.status()).toMatchObject({ state: 'backoff', consecutiveFailures: 2 });
    expect(h.count()).toBe(2);
  });

  it('retries a 423 at once with Min-Expires', async () => {
    const h = harness();
    h.publisher.publish('v1');
    await h.clock.advance(0);
    await h.answer(423, [['Min-Expires', '600']]);
    expect(h.count()).toBe(2);
    expect(h.last().headers.get('expires')).toBe('600');
    expect(h.last().headers.has('sip-if-match')).toBe(false);
    await h.ok('a.1', 600);
    expect(h.publisher.status().state).toBe('published');
  });

  it.each([
    [401, 'WWW-Authenticate', 'Authorization'],
    [407, 'Proxy-Authenticate', 'Proxy-Authorization'],
  ] as const)('answers a %i challenge and signs later requests up front', async (status, challenge, credentials) => {
    const h = harness({ credentials: { username: 'alice', password: 's3cret' } });
    h.publisher.publish('v1');
    await h.clock.advance(0);
    await h.answer(status, [[challenge, 'Digest realm="example.test", nonce="n1", qop="auth"']]);
    expect(h.last().headers.get(credentials)).toMatch(/username="alice".*nc=00000001/);
    expect(parseCSeq(h.last().headers.get('cseq'))?.seq).toBe(2);
    await h.ok('a.1');
    h.publisher.publish('v2');
    await h.clock.advance(0);
    expect(h.last().headers.get(credentials)).toMatch(/nc=00000002/);
    expect(parseCSeq(h.last().headers.get('cseq'))?.seq).toBe(3);
  });

  it('after a timeout backs off, then re-publishes the current state; a 412 then gives a fresh initial', async () => {
    const h = harness();
    await h.publishAndSettle('v1', 'a.1');
    h.publisher.publish('v2');
    await h.clock.advance(32_000);
    expect(h.publisher.status()).toMatchObject({ state: 'backoff', lastStatusCode: 408, consecutiveFailures: 1, etag: 'a.1' });
    h.publisher.publish('v3');
    await h.clock.advance(1_000);
    expect(h.starts).toEqual([0, 0, 33_000]);
    expect(h.last()).toMatchObject({ body: 'v3' });
    expect(h.last().headers.get('sip-if-match')).toBe('a.1');
    await h.answer(412);
    expect(h.last().headers.has('sip-if-match')).toBe(false);
    expect(h.last().body).toBe('v3');
    await h.ok('b.1');
    expect(h.publisher.status()).toMatchObject({ state: 'published', consecutiveFailures: 0, lastSuccessAt: T0 + 33_000 });
  });

  it('backs off exponentially up to the cap while the target is unreachable', async () => {
    const h = harness();
    h.transport.failure = new SipTransportError('connection refused');
    h.publisher.publish('v1');
    await h.clock.advance(0);
    await h.clock.advance(40_000);
    expect(h.starts).toEqual([0, 1_000, 3_000, 7_000, 15_000, 23_000, 31_000, 39_000]);
    expect(h.publisher.status()).toMatchObject({ state: 'backoff', lastStatusCode: 503, lastTransportError: 'connection refused', consecutiveFailures: 8 });
    h.transport.failure = undefined;
    await h.clock.advance(8_000);
    await h.ok('a.1');
    expect(h.publisher.status()).toMatchObject({ state: 'published', consecutiveFailures: 0, lastTransportError: undefined });
  });

  it('starts over with an initial PUBLISH when the publication expired during a long outage', async () => {
    const h = harness({ backoff: { initialMs: 200_000, maxMs: 200_000, jitter: 0 } });
    await h.publishAndSettle('v1', 'a.1');
    h.publisher.publish('v2');
    await h.clock.advance(32_000 + 200_000);
    expect(h.last().headers.has('sip-if-match')).toBe(false);
    expect(h.last().body).toBe('v2');
  });

  it('coalesces changes made while a PUBLISH is in flight: the latest wins and is never lost', async () => {
    const h = harness();
    h.publisher.publish('v1');
    h.publisher.publish('v2');
    await h.clock.advance(0);
    h.publisher.publish('v3');
    h.publisher.publish('v4');
    await h.clock.advance(0);
    expect(h.count()).toBe(1);
    expect(h.last().body).toBe('v1');
    await h.ok('a.1');
    expect(h.count()).toBe(2);
    expect(h.last()).toMatchObject({ body: 'v4' });
    h.publisher.publish('v5');
    await h.clock.advance(0);
    expect(h.count()).toBe(2);
    await h.answer(412);
    expect(h.last()).toMatchObject({ body: 'v5' });
    expect(h.last().headers.has('sip-if-match')).toBe(false);
  });

  it('removes with Expires 0, the etag and no body, then stays idle', async () => {
    const h = harness();
    await h.publishAndSettle('v1', 'a.1');
    let removed = false;
    void h.publisher.remove().then(() => (removed = true));
    await h.clock.advance(0);
    const remove = h.last();
    expect(h.publisher.status().state).toBe('removing');
    expect(remove.headers.get('expires')).toBe('0');
    expect(remove.headers.get('sip-if-match')).toBe('a.1');
    expect(remove.headers.has('content-type')).toBe(false);
    expect(remove.body).toBe('');
    expect(removed).toBe(false);
    await h.answer(200);
    expect(removed).toBe(true);
    expect(h.publisher.status()).toMatchObject({ state: 'idle', etag: undefined });
    await h.clock.advance(3_600_000);
    expect(h.count()).toBe(2);
  });

  it('removes after the PUBLISH in flight, and resolves at once when nothing is published', async () => {
    const h = harness();
    await expect(h.publisher.remove()).resolves.toBe('none');
    h.publisher.publish('v1');
    await h.clock.advance(0);
    const removal = h.publisher.remove();
    await h.ok('a.1');
    expect(h.last().headers.get('expires')).toBe('0');
    await h.answer(200);
    await expect(removal).resolves.toBe('removed');
  });

  it('says whether the server took a removal: a 5xx or no answer did not (the publication lapses at its expiry), a 4xx did', async () => {
    const h = harness();
    for (const [status, outcome] of [[503, 'failed'], [412, 'removed']] as const) {
      h.publisher.publish(`v${status}`);
      await h.clock.advance(0);
      await h.ok(`e.${status}`);
      const removal = h.publisher.remove();
      await h.clock.advance(0);
      await h.answer(status);
      await expect(removal).resolves.toBe(outcome);
    }
  });

  it('held, a removal asked for while a refresh was on its way goes out as soon as that refresh fails, not after a backoff that never ends', async () => {
    const h = harness();
    await h.publishAndSettle('v1');
    // The refresh at 85 % of 120 s goes out; then its server turns failing (held), and the person is removed.
    await h.clock.advance(102_000);
    expect(h.count()).toBe(2);
    h.publisher.hold();
    const removal = h.publisher.remove();
    await h.answer(503);
    expect(h.count()).toBe(3);
    expect(h.last().headers.get('expires')).toBe('0');
    await h.answer(503);
    await expect(removal).resolves.toBe('failed');
  });

  describe('resuming a publication another agent made', () => {
    const resume = (body?: string, expiresAt = T0 + 100_000) => ({ etag: 'x.1', expiresAt, ...(body !== undefined ? { body } : {}) });

    it('sends nothing at first, then refreshes as far ahead of the expiry as after its own 2xx, with the etag and full body', async () => {
      const h = harness({ resume: resume('v1') });
      await h.clock.advance(0);
      expect(h.publisher.status()).toMatchObject({ state: 'published', etag: 'x.1', expiresAt: T0 + 100_000 });
      // 15% of the asked 120 s before the expiry.
      await h.clock.advance(81_999);
      expect(h.count()).toBe(0);
      await h.clock.advance(1);
      expect(h.starts).toEqual([82_000]);
      expect(h.last().headers.get('sip-if-match')).toBe('x.1');
      expect(h.last().body).toBe('v1');
      await h.ok('x.2');
      expect(h.publisher.status()).toMatchObject({ state: 'published', etag: 'x.2', expiresAt: T0 + 202_000 });
    });

    it('modifies the same publication when the body changes, and removes it by its etag', async () => {
      const h = harness({ resume: resume('v1') });
      const done = h.publisher.publishAndWait('v2');
      await h.clock.advance(0);
      expect(h.last()).toMatchObject({ body: 'v2' });
      expect(h.last().headers.get('sip-if-match')).toBe('x.1');
      await h.ok('x.2');
      await expect(done).resolves.toBe('published');
      // The same body again is already there: nothing is sent.
      await expect(h.publisher.publishAndWait('v2')).resolves.toBe('unchanged');
      const removal = h.publisher.remove();
      await h.clock.advance(0);
      expect(h.last().headers.get('expires')).toBe('0');
      expect(h.last().headers.get('sip-if-match')).toBe('x.2');
      await h.answer(200);
      await removal;
      expect(h.count()).toBe(2);
    });

    it('without a body, refreshes nothing and waits to be removed or given one', async () => {
      const h = harness({ resume: resume() });
      await h.clock.advance(99_000);
      expect(h.count()).toBe(0);
      const removal = h.publisher.remove();
      await h.clock.advance(0);
      expect(h.last().headers.get('expires')).toBe('0');
      expect(h.last().headers.get('sip-if-match')).toBe('x.1');
      await h.answer(200);
      await removal;
      const other = harness({ resume: resume() });
      other.publisher.publish('v2');
      await other.clock.advance(0);
      expect(other.last().headers.get('sip-if-match')).toBe('x.1');
      expect(other.last().body).toBe('v2');
    });

    it('falls back to a fresh initial PUBLISH when the server no longer knows the etag (412)', async () => {
      const h = harness({ resume: resume('v1', T0 + 10_000) });
      // Due already (less than 15% of 120 s left): refreshed at once.
      await h.clock.advance(0);
      expect(h.last().headers.get('sip-if-match')).toBe('x.1');
      await h.answer(412);
      expect(h.last().headers.has('sip-if-match')).toBe(false);
      expect(h.last().body).toBe('v1');
      await h.ok('n.1');
      expect(h.publisher.status()).toMatchObject({ state: 'published', etag: 'n.1' });
    });

    it('starts from nothing when the publication has expired', async () => {
      const h = harness({ resume: resume('v1', T0) });
      expect(h.publisher.status()).toMatchObject({ state: 'idle', etag: undefined });
      h.publisher.publish('v1');
      await h.clock.advance(0);
      expect(h.last().headers.has('sip-if-match')).toBe(false);
    });
  });

  it('tells of every publication the server holds (initial, refresh, modify) and of its end (412, removal)', async () => {
    const seen: unknown[] = [];
    const h = harness({ onPublication: (p) => seen.push(p) });
    await h.publishAndSettle('v1', 'a.1');
    await h.clock.advance(102_000);
    await h.ok('a.2', 60);
    h.publisher.publish('v2');
    await h.clock.advance(0);
    await h.answer(412);
    await h.ok('b.1');
    void h.publisher.remove();
    await h.clock.advance(0);
    await h.answer(200);
    expect(seen).toEqual([
      { etag: 'a.1', expiresAt: T0 + 120_000 },
      { etag: 'a.2', expiresAt: T0 + 162_000 },
      undefined,
      { etag: 'b.1', expiresAt: T0 + 222_000 },
      undefined,
    ]);
  });

  it('works for any event package and content type', async () => {
    const h = harness({ event: 'dialog', contentType: 'application/dialog-info+xml' });
    h.publisher.publish('<dialog-info/>');
    await h.clock.advance(0);
    expect(h.last().headers.get('event')).toBe('dialog');
    expect(h.last().headers.get('content-type')).toBe('application/dialog-info+xml');
  });
});

describe('backoff', () => {
  it('doubles up to the cap and jitters downwards only', () => {
    const policy = { initialMs: 1_000, maxMs: 8_000, jitter: 0.5 };
    expect([1, 2, 3, 4, 5, 50].map((n) => backoffDelay(policy, n, () => 0))).toEqual([1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
    expect(backoffDelay(policy, 2, () => 0.5)).toBe(1_500);
    expect(backoffDelay(policy, 10_000, () => 0.999)).toBeGreaterThan(4_000);
  });
});
