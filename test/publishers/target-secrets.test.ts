import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../shared/log/logger.js';
import { redactUrl, redactUrls } from '../../services/publishers/redact-url.js';
import { seedAlice, startTestHub } from '../support/hub.js';
import { eventually, startReceiver } from '../support/receiver.js';

describe('a target URL as statuses and logs show it', () => {
  it('drops userinfo and hides query values and the fragment; keeps scheme, host, port and path', () => {
    expect(redactUrl('https://pbx.example.com/hook?token=abc')).toBe('https://pbx.example.com/hook?token=…');
    expect(redactUrl('https://admin:pa55@pbx.example.com:8443/ari?api_key=u:p&x=1#frag')).toBe('https://pbx.example.com:8443/ari?api_key=…&x=…#…');
    expect(redactUrl('https://pbx.example.com/hook?abc123')).toBe('https://pbx.example.com/hook?…');
    expect(redactUrl('sip:presence.example.com:5060;transport=tcp?X-Token=abc')).toBe('sip:presence.example.com:5060;transport=tcp?X-Token=…');
    expect(redactUrl('sip:presence.example.com:5060')).toBe('sip:presence.example.com:5060');
    expect(redactUrl('not a url with a token')).toBe('…');
  });

  it('redacts every URL in a message, and leaves one without anything to hide as it reads', () => {
    expect(redactUrls('https://pbx.example.com/hook?token=abc answered 500')).toBe('https://pbx.example.com/hook?token=… answered 500');
    expect(redactUrls('request to http://u:secret@10.0.0.5:8088/ari/deviceStates/x failed, reason: connect ECONNREFUSED')).toBe(
      'request to http://10.0.0.5:8088/ari/deviceStates/x failed, reason: connect ECONNREFUSED',
    );
    expect(redactUrls('https://example.com/hook answered 404')).toBe('https://example.com/hook answered 404');
    expect(redactUrls('PUBLISH for sip:1001@example.com failed (408)')).toBe('PUBLISH for sip:1001@example.com failed (408)');
  });
});

describe("a target's secrets stay out of its status, the log and the API", () => {
  it("a webhook's token in its URL is hidden in lastError and every log line about it", async () => {
    const lines: string[] = [];
    const log = createLogger(
      'info',
      new Writable({
        write(chunk: Buffer, _enc, done) {
          lines.push(chunk.toString('utf8'));
          done();
        },
      }),
    );
    const h = await startTestHub({ log });
    const rx = await startReceiver();
    try {
      const key = await seedAlice(h);
      await h.put('/v1/tenant', { name: 'Acme', settings: { allowPrivateTargets: true, wrapUpSeconds: 0 } }).expect(200);
      await h.pbx([{ type: 'registered', device: 'alice-desk', at: h.clock.now() - 1000 }], key).expect(200);
      rx.answer.push(...Array(20).fill(500));
      await h.put('/v1/targets/hook', { kind: 'webhook', name: 'CRM', url: `${rx.url}/presence?token=hook-token-123` }).expect(201);
      // Time moves on until the retries have failed often enough (each answer comes back in real time).
      const status = await eventually(
        async () => {
          await h.clock.advance(10_000);
          const s = (await h.get('/v1/targets/hook/status').expect(200)).body;
          expect(s.state).toBe('failing');
          return s;
        },
        30_000,
        20,
      );
      expect(status.lastError).toBe(`${rx.url}/presence?token=… answered 500`);
      expect(JSON.stringify(status)).not.toContain('hook-token-123');
      expect(lines.join('')).toContain('push target failing');
      expect(lines.join('')).not.toContain('hook-token-123');
    } finally {
      await h.stop();
      await rx.close();
    }
  });

  it('GET /v1/targets and /v1/targets/{id} never show a signing secret or a password', async () => {
    const h = await startTestHub();
    try {
      await h.put('/v1/tenant', { name: 'Acme', settings: { allowPrivateTargets: true, wrapUpSeconds: 0 } }).expect(200);
      const secret = `whsec_${Buffer.from('a webhook signing secret!!').toString('base64')}`;
      const targets = {
        hook: { kind: 'webhook', name: 'CRM', url: 'http://127.0.0.1:9/presence', secret, enabled: false },
        asterisk: { kind: 'ari', name: 'PBX', baseUrl: 'http://127.0.0.1:9', username: 'presence', password: 'ari-pass-123', enabled: false },
        sip: { kind: 'sip', name: 'PBX', server: 'sip:127.0.0.1:5060', domain: 'example.test', username: 'presence', password: 'sip-pass-123', enabled: false },
      };
      const written: string[] = [];
      for (const [id, t] of Object.entries(targets)) {
        written.push(JSON.stringify((await h.put(`/v1/targets/${id}`, t).expect(201)).body));
        written.push(JSON.stringify((await h.get(`/v1/targets/${id}`).expect(200)).body));
      }
      written.push(JSON.stringify((await h.get('/v1/targets').expect(200)).body));
      for (const shown of written) for (const s of [secret, 'ari-pass-123', 'sip-pass-123']) expect(shown).not.toContain(s);
      expect((await h.get('/v1/targets/sip')).body).toMatchObject({ username: 'presence', hasPassword: true });
    } finally {
      await h.stop();
    }
  });
});
