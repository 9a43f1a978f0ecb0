import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  authorizationValue,
  digestResponse,
  DigestSession,
  parseChallenges,
} from '../../shared/sip/digest.js';
import { createRequest, responseTo } from '../../shared/sip/message.js';

describe('digest response vectors', () => {
  it('RFC 2617 §3.5 (MD5, qop=auth)', () => {
    const [challenge] = parseChallenges([
      'Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
    ]);
    expect(challenge).toMatchObject({ algorithm: 'MD5', qop: 'auth', stale: false });
    const input = { method: 'GET', uri: '/dir/index.html', nc: 1, cnonce: '0a4f113b' };
    expect(digestResponse(challenge!, { username: 'Mufasa', password: 'Circle Of Life' }, input)).toBe(
      '6629fae49393a05397450978507c4ef1',
    );
  });

  it('RFC 7616 §3.9.1 (SHA-256 preferred over MD5, qop=auth)', () => {
    const challenges = parseChallenges([
      'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"',
      'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"',
    ]);
    expect(challenges.map((c) => c.algorithm)).toEqual(['SHA-256', 'MD5']);
    const credentials = { username: 'Mufasa', password: 'Circle of Life' };
    const input = { method: 'GET', uri: '/dir/index.html', nc: 1, cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ' };
    expect(digestResponse(challenges[0]!, credentials, input)).toBe('753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
    expect(digestResponse(challenges[1]!, credentials, input)).toBe('8ca523f5e9506fed4657c9700eebdbec');
  });

  it('uses the RFC 2069 form without qop, ignoring nc and cnonce', () => {
    const [challenge] = parseChallenges(['Digest realm="r", nonce="n"']);
    const md5 = (text: string) => createHash('md5').update(text).digest('hex');
    const expected = md5(`${md5('u:r:p')}:n:${md5('PUBLISH:sip:a@b')}`);
    for (const [nc, cnonce] of [[1, 'x'], [9, 'y']] as const) {
      expect(digestResponse(challenge!, { username: 'u', password: 'p' }, { method: 'PUBLISH', uri: 'sip:a@b', nc, cnonce })).toBe(expected);
    }
  });

  it('hashes HA1 with nonce and cnonce for -sess algorithms', () => {
    const [challenge] = parseChallenges(['Digest realm="r", nonce="n", algorithm=SHA-256-sess, qop=auth']);
    const sha = (text: string) => createHash('sha256').update(text).digest('hex');
    const ha1 = sha(`${sha('u:r:p')}:n:c`);
    const expected = sha(`${ha1}:n:00000001:c:auth:${sha('PUBLISH:sip:a@b')}`);
    expect(digestResponse(challenge!, { username: 'u', password: 'p' }, { method: 'PUBLISH', uri: 'sip:a@b', nc: 1, cnonce: 'c' })).toBe(expected);
  });
});

describe('challenge parsing', () => {
  it('takes several challenges from one comma-joined value and skips unsupported ones', () => {
    const challenges = parseChallenges([
      'Basic realm="x", Digest realm="r", nonce="n1", algorithm=SHA-999, Digest realm="r", nonce="n2", algorithm=sha-512-256, stale=TRUE, Digest realm="r", nonce="n3", qop="auth-int"',
    ]);
    expect(challenges).toHaveLength(1);
    expect(challenges[0]).toMatchObject({ nonce: 'n2', algorithm: 'SHA-512-256', stale: true, qop: undefined });
  });

  it('writes algorithm, qop and nc as tokens and the rest quoted', () => {
    const [challenge] = parseChallenges(['Digest realm="example.test", nonce="abc", qop="auth", opaque="o\\"1"']);
    const value = authorizationValue(challenge!, { username: 'alice', password: 's3cret' }, { method: 'PUBLISH', uri: 'sip:alice@example.test', nc: 10, cnonce: 'c1' });
    expect(value).toMatch(/^Digest username="alice", realm="example.test", nonce="abc", uri="sip:alice@example.test", response="[0-9a-f]{32}", algorithm=MD5, qop=auth, nc=0000000a, cnonce="c1", opaque="o\\"1"$/);
  });
});

describe('DigestSession', () => {
  const request = () =>
    createRequest('PUBLISH', 'sip:alice@example.test', [
      ['Via', 'SIP/2.0/UDP h;branch=z9hG4bK1'],
      ['From', '<sip:alice@example.test>;tag=1'],
      ['To', '<sip:alice@example.test>'],
      ['Call-ID', 'c'],
      ['CSeq', '1 PUBLISH'],
    ]);
  const challenge = (status: 401 | 407, value: string) => {
    const r = responseTo(request(), status);
    r.headers.append(status === 401 ? 'WWW-Authenticate' : 'Proxy-Authenticate', value);
    return r;
  };

  it('counts nc per nonce and restarts it on a new nonce', () => {
    let cnonce = 0;
    const session = new DigestSession({ username: 'alice', password: 'pw' }, () => `cn${++cnonce}`);
    const first = request();
    expect(session.learn(challenge(407, 'Digest realm="r", nonce="n1", qop="auth"'), first)).toBe(true);
    const signed = [request(), request()];
    for (const r of signed) session.sign(r);
    expect(signed.map((r) => /nc=(\w+)/.exec(r.headers.get('proxy-authorization') ?? '')?.[1])).toEqual(['00000001', '00000002']);
    expect(signed[0]!.headers.has('authorization')).toBe(false);

    // Credentials for realm r were sent and the server says stale: retry with the new nonce.
    expect(session.learn(challenge(407, 'Digest realm="r", nonce="n2", qop="auth", stale=true'), signed[1]!)).toBe(true);
    const again = request();
    session.sign(again);
    expect(again.headers.get('proxy-authorization')).toMatch(/nonce="n2".*nc=00000001/);
  });

  it('gives up when its answer to the same nonce is refused and the nonce is not stale (wrong password)', () => {
    const session = new DigestSession({ username: 'alice', password: 'wrong' }, () => 'cn');
    session.learn(challenge(401, 'Digest realm="r", nonce="n1"'), request());
    const signed = request();
    session.sign(signed);
    expect(session.learn(challenge(401, 'Digest realm="r", nonce="n1"'), signed)).toBe(false);
  });

  it('answers a different nonce once: the server forgot ours (a restart)', () => {
    const session = new DigestSession({ username: 'alice', password: 'pw' }, () => 'cn');
    session.learn(challenge(401, 'Digest realm="r", nonce="n1"'), request());
    const signed = request();
    session.sign(signed);
    expect(session.learn(challenge(401, 'Digest realm="r", nonce="n2"'), signed)).toBe(true);
    const again = request();
    session.sign(again);
    expect(again.headers.get('authorization')).toMatch(/nonce="n2"/);
  });

  it('reset forgets every challenge', () => {
    const session = new DigestSession({ username: 'alice', password: 'pw' }, () => 'cn');
    session.learn(challenge(401, 'Digest realm="r", nonce="n1"'), request());
    session.reset();
    const r = request();
    session.sign(r);
    expect(r.headers.get('authorization')).toBeUndefined();
  });

  it('returns false when no challenge is supported', () => {
    const session = new DigestSession({ username: 'a', password: 'b' }, () => 'c');
    expect(session.learn(challenge(401, 'Basic realm="r"'), request())).toBe(false);
  });
});
