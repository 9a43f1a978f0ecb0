import { describe, expect, it } from 'vitest';
import { isoInstant } from '../../shared/clock/iso.js';

describe('isoInstant', () => {
  it('writes what toISOString writes', () => {
    const instants = [
      0, 1, 999, 86_399_999, 86_400_000, Date.parse('2000-02-29T12:34:56.789Z'), Date.parse('1972-02-29T00:00:00Z'),
      Date.parse('2100-03-01T00:00:00Z'), Date.parse('2026-03-02T09:00:00Z'), 253_402_300_799_999,
      253_402_300_800_000, -1, -62_198_755_200_000, 1.5, Number.MAX_SAFE_INTEGER / 1000,
    ];
    // A fixed pseudo-random walk over 1970–2400, so every month, leap day and century rule is crossed.
    let x = 12_345;
    for (let i = 0; i < 20_000; i++) {
      x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
      instants.push(Math.floor((x / 2 ** 31) * 13_569_465_600_000) + (i % 1000));
    }
    for (const ms of instants) expect(isoInstant(ms)).toBe(new Date(ms).toISOString());
  });

  it('throws like toISOString for an invalid instant', () => {
    expect(() => isoInstant(Number.NaN)).toThrow(RangeError);
    expect(() => isoInstant(8.64e15 + 1)).toThrow(RangeError);
  });
});
