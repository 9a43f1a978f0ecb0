import { randomBytes } from 'node:crypto';
import { BRANCH_COOKIE } from './via.js';

export type RandomBytes = (size: number) => Uint8Array;

/** Fresh identifiers for requests; injected so tests see stable values. */
export interface SipIds {
  /** A Via branch with the RFC 3261 magic cookie. */
  branch(): string;
  tag(): string;
  callId(): string;
  cnonce(): string;
}

export function createSipIds(random: RandomBytes = randomBytes): SipIds {
  const hex = (size: number) => Buffer.from(random(size)).toString('hex');
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
