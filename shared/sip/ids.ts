import { randomBytes } from 'node:crypto';
import { BRANCH_COOKIE } from './via.js';

export type RandomBytes = (size: number) => Uint8Array;

const toHex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');

/** Fresh identifiers for requests; injected so tests see stable values. */
export interface SipIds {
  /** A Via branch with the RFC 3261 magic cookie. */
  branch(): string;
  tag(): string;
  callId(): string;
  cnonce(): string;
}

/**
 * Hex of crypto random bytes drawn 4 KB at a time: every request takes a branch (and a cnonce when
 * signed), and one `randomBytes` call per id cost several per cent of the CPU of a PUBLISH under load.
 */
function pooledRandomHex(): (size: number) => string {
  let pool = Buffer.alloc(0);
  let used = 0;
  return (size) => {
    if (size > 512) return randomBytes(size).toString('hex');
    if (used + size > pool.length) {
      pool = randomBytes(4096);
      used = 0;
    }
    used += size;
    return pool.toString('hex', used - size, used);
  };
}

/** Ids from `random` (tests pass a deterministic one), else from a pool of crypto random bytes. */
export function createSipIds(random?: RandomBytes): SipIds {
  const hex = random ? (size: number) => toHex(random(size)) : pooledRandomHex();
  return {
    branch: () => BRANCH_COOKIE + hex(8),
    tag: () => hex(6),
    callId: () => hex(12),
    cnonce: () => hex(8),
  };
}

/** A uniform number in [0, 1) from the crypto source (for backoff jitter). */
export function cryptoRandom(): number {
  return randomBytes(6).readUIntBE(0, 6) / 2 ** 48;
}
