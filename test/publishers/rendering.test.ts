import { describe, expect, it } from 'vitest';
import type { Person } from '../../shared/domain/directory.js';
import type { Target } from '../../shared/domain/target.js';
import { renderingOf } from '../../services/publishers/rendering.js';

const hook = { kind: 'webhook', id: 'hook', tenantId: 'acme', name: 'hook', enabled: true, url: 'https://example.com/hook' } as Target;
const alice = { id: 'alice', tenantId: 'acme', name: 'Alice', timeZone: 'UTC', teams: ['sales'], skills: { fr: 3, de: 1 }, sensitive: false } as unknown as Person;

describe('the rendering fingerprint of a directory record', () => {
  it('is the same on every replica, whatever order the record was built in', () => {
    const reordered = { sensitive: false, skills: { de: 1, fr: 3 }, teams: ['sales'], timeZone: 'UTC', name: 'Alice', tenantId: 'acme', id: 'alice', extension: undefined } as unknown as Person;
    expect(renderingOf(reordered, { ...hook })).toBe(renderingOf(alice, hook));
  });

  it('changes with anything that may read differently', () => {
    const seen = new Set([
      renderingOf(alice, hook),
      renderingOf({ ...alice, sensitive: true }, hook),
      renderingOf({ ...alice, name: 'Alice B.' }, hook),
      renderingOf({ ...alice, teams: ['sales', 'support'] }, hook),
      renderingOf(undefined, hook),
      // The same record for a target pointed elsewhere.
      renderingOf(alice, { ...hook, url: 'https://example.com/other' } as Target),
    ]);
    expect(seen.size).toBe(6);
  });
});
