import { deepFreeze } from '../indexing.js';
import type { RedisKeys } from '../keys.js';
import {
  parseAgentState,
  parseGroupState,
  type AgentCallState,
  type GroupRoutingState,
  type RoutingStateStore,
  type RoutingUpdate,
} from '../routing-state.js';
import type { Connection } from './connection.js';
import { KeyLock } from '../key-lock.js';
import { CAS_DOC } from './scripts.js';

/** Routing strategy state as `{ r: revision, d: JSON }` hashes, updated by compare-and-set. */
export class RedisRoutingState implements RoutingStateStore {
  private readonly cas;
  private readonly lock = new KeyLock();

  constructor(
    private readonly conn: Connection,
    private readonly keys: RedisKeys,
  ) {
    this.cas = conn.script(CAS_DOC);
  }

  async readGroup(tenantId: string, groupId: string): Promise<GroupRoutingState> {
    return deepFreeze(parseGroupState(await this.conn.run((r) => r.hget(this.keys.routingGroup(tenantId, groupId), 'd'))));
  }

  updateGroup<T>(tenantId: string, groupId: string, fn: (state: GroupRoutingState) => RoutingUpdate<GroupRoutingState, T>): Promise<T> {
    return this.update(this.keys.routingGroup(tenantId, groupId), parseGroupState, fn);
  }

  async readAgents(tenantId: string, personIds: readonly string[]): Promise<Map<string, AgentCallState>> {
    const raws = await this.conn.run((r) => Promise.all(personIds.map((id) => r.hget(this.keys.routingAgent(tenantId, id), 'd'))));
    return new Map(personIds.map((id, i) => [id, deepFreeze(parseAgentState(raws[i] ?? null))]));
  }

  updateAgent<T>(tenantId: string, personId: string, fn: (state: AgentCallState) => RoutingUpdate<AgentCallState, T>): Promise<T> {
    return this.update(this.keys.routingAgent(tenantId, personId), parseAgentState, fn);
  }

  private update<S, T>(key: string, parse: (raw: string | null) => S, fn: (state: S) => RoutingUpdate<S, T>): Promise<T> {
    return this.lock.run(key, async () => {
      for (;;) {
        const [rev, raw] = await this.conn.run((r) => r.hmget(key, 'r', 'd'));
        const { next, result } = fn(deepFreeze(parse(raw ?? null)));
        if ((await this.cas([key], [rev ?? '0', JSON.stringify(next)])) === 1) return result;
      }
    });
  }

  async removeGroup(tenantId: string, groupId: string): Promise<void> {
    await this.conn.run((r) => r.del(this.keys.routingGroup(tenantId, groupId)));
  }

  async removeAgent(tenantId: string, personId: string): Promise<void> {
    await this.conn.run((r) => r.del(this.keys.routingAgent(tenantId, personId)));
  }
}
