import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SecretBox } from '../../shared/crypto/secrets.js';

describe('SecretBox: AES-256-GCM at rest', () => {
  const box = new SecretBox(randomBytes(32));

  it('opens what it sealed, with a fresh nonce every time', () => {
    const a = box.seal('refresh-token');
    const b = box.seal('refresh-token');
    expect(a.split('.')[1]).not.toBe(b.split('.')[1]);
    expect(box.open(a)).toBe('refresh-token');
  });

  it('refuses a shortened tag, which GCM would otherwise accept as a prefix of the real one', () => {
    const [v, iv, tag, body] = box.seal('refresh-token').split('.');
    const short = Buffer.from(tag!, 'base64url').subarray(0, 4).toString('base64url');
    expect(() => box.open([v, iv, short, body].join('.'))).toThrow();
    expect(() => new SecretBox(randomBytes(32)).open(box.seal('x'))).toThrow();
  });
});
