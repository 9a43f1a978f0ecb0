import { describe, expect, it } from 'vitest';
import { MemoryRoutingState } from '../../shared/store/embedded/memory-routing-state.js';
import { emptyGroupState, parseAgentState, parseGroupState } from '../../shared/store/routing-state.js';
import { routingStateContract } from './routing-state-contract.js';

routingStateContract('in process', async () => ({ store: new MemoryRoutingState(), cleanup: async () => {} }));

describe('routing state read back from serialised storage', () => {
  it('treats malformed data as no state', () => {
    expect(parseGroupState('{"seq":-1,"members":{}}')).toEqual(emptyGroupState());
    expect(parseGroupState('not json')).toEqual(emptyGroupState());
    expect(parseGroupState(null)).toEqual(emptyGroupState());
    expect(parseGroupState('{"seq":2,"members":{"a":{"callsToday":1,"offers":[5]}}}')).toEqual({ seq: 2, members: { a: { callsToday: 1, offers: [5] } } });
    expect(parseAgentState('{"talkMs":"x"}')).toEqual({ talkMs: 0, talkCalls: 0 });
  });

  it('refuses a strategy that mutates the state it was given', async () => {
    const store = new MemoryRoutingState();
    await store.updateGroup('a', 'q', (s) => ({ next: { ...s, seq: 1 }, result: undefined }));
    await expect(
      store.updateGroup('a', 'q', (s) => {
        s.seq++;
        return { next: s, result: undefined };
      }),
    ).rejects.toThrow(TypeError);
  });
});
