import { describe, expect, it } from 'vitest';
import { parseEntry } from '../../shared/store/redis/feed-entry.js';

const presence = { personId: 'jürgen', availability: 'available', activity: 'available', routable: true, endpoints: [], explanation: [], since: 1, version: 7 };

describe('a change-feed entry in Redis', () => {
  it('carries the event and the state written, binary data with newlines included', () => {
    const data = Buffer.from([1, 10, 2, 10, 10, 255]);
    const x = Buffer.concat([Buffer.from(`ep1\nacme\njürgen\n7\nrev-a1\n${JSON.stringify(presence)}\n`), data]);
    const { event, state } = parseEntry('42-0', [Buffer.from('x'), x]);
    expect({ id: event.id, tenantId: event.tenantId, personId: event.personId, presence: event.presence }).toEqual({ id: 'ep1-42', tenantId: 'acme', personId: 'jürgen', presence });
    // Parsed once, then kept.
    expect(event.presence).toBe(event.presence);
    expect(state).toEqual({ tenantId: 'acme', personId: 'jürgen', version: 7, rev: 'rev-a1', data });
  });

  it('carries the cause of an event that is not a new state in a field of its own', () => {
    const x = Buffer.from(`ep1\nacme\njürgen\n7\nrev-a2\n${JSON.stringify(presence)}\n\u0001`);
    const { event, state } = parseEntry('44-0', [Buffer.from('x'), x, Buffer.from('c'), Buffer.from('directory')]);
    expect({ id: event.id, presence: event.presence, cause: event.cause }).toEqual({ id: 'ep1-44', presence, cause: 'directory' });
    expect(state).toMatchObject({ version: 7, rev: 'rev-a2' });
    expect(parseEntry('45-0', [Buffer.from('x'), x]).event.cause).toBeUndefined();
  });

  it('names a removal with no presence and no state', () => {
    const { event, state } = parseEntry('43-0', [Buffer.from('x'), Buffer.from('ep1\nacme\nbob')]);
    expect(event).toEqual({ id: 'ep1-43', tenantId: 'acme', personId: 'bob' });
    expect(state).toEqual({ tenantId: 'acme', personId: 'bob', version: 0 });
  });

  it('reads entries of the earlier layout, one field per value, without a state to hold', () => {
    const fields = ['e', 'ep0', 't', 'acme', 'p', 'jürgen', 'd', JSON.stringify(presence)].map((s) => Buffer.from(s));
    const { event, state } = parseEntry('5-0', fields);
    expect(event).toEqual({ id: 'ep0-5', tenantId: 'acme', personId: 'jürgen', presence });
    expect(state).toEqual({ tenantId: 'acme', personId: 'jürgen', version: 0 });
  });
});
