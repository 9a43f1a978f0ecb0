import { describe, expect, it } from 'vitest';
import type { Person } from '../../shared/domain/directory.js';
import { renderingOf } from '../../services/publishers/rendering.js';

const alice = { id: 'alice', tenantId: 'acme', name: 'Alice', timeZone: 'UTC', teams: ['sales'], skills: { fr: 3, de: 1 }, sensitive: false } as unknown as Person;

describe('the rendering fingerprint of a directory record', () => {
  it('is the same on every replica, whatever order the record was built in', () => {
    const reordered = { sensitive: false, skills: { de: 1, fr: 3 }, teams: ['sales'], timeZone: 'UTC', name: 'Alice', tenantId: 'acme', id: 'alice', extension: undefined } as unknown as Person;
    expect(renderingOf(reordered)).toBe(renderingOf(alice));
  });

  it('changes with anything that may read differently', () => {
    const seen = new Set([renderingOf(alice), renderingOf({ ...alice, sensitive: true }), renderingOf({ ...alice, name: 'Alice B.' }), renderingOf({ ...alice, teams: ['sales', 'support'] }), renderingOf(undefined)]);
    expect(seen.size).toBe(5);
  });
});
