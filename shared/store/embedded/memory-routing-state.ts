import { deepFreeze } from '../indexing.js';
import {
  emptyAgentState,
  emptyGroupState,
  type AgentCallState,
  type GroupRoutingState,
  type RoutingStateStore,
  type RoutingUpdate,
} from '../routing-state.js';

/**
 * Routing strategy state in process. Node runs each `fn` to completion before anything else touches the
 * key, so every update is atomic. Stored values are frozen: a strategy that mutated the state it was
 * given instead of returning a new one fails loudly here rather than silently in Redis.
 */
export class MemoryRoutingState implements RoutingStateStore {
  private readonly groups = new Map<string, GroupRoutingState>();
  private readonly agents = new Map<string, AgentCallState>();

  async readGroup(tenantId: string, groupId: string): Promise<GroupRoutingState> {
    return this.groups.get(key(tenantId, groupId)) ?? EMPTY_GROUP;
  }

  async updateGroup<T>(tenantId: string, groupId: string, fn: (state: GroupRoutingState) => RoutingUpdate<GroupRoutingState, T>): Promise<T> {
    const k = key(tenantId, groupId);
    const { next, result } = fn(this.groups.get(k) ?? EMPTY_GROUP);
    this.groups.set(k, deepFreeze(next));
    return result;
  }

  async readAgents(tenantId: string, personIds: readonly string[]): Promise<Map<string, AgentCallState>> {
    const out = new Map<string, AgentCallState>();
    for (const id of personIds) out.set(id, this.agents.get(key(tenantId, id)) ?? EMPTY_AGENT);
    return out;
  }

  async updateAgent<T>(tenantId: string, personId: string, fn: (state: AgentCallState) => RoutingUpdate<AgentCallState, T>): Promise<T> {
    const k = key(tenantId, personId);
    const { next, result } = fn(this.agents.get(k) ?? EMPTY_AGENT);
    this.agents.set(k, deepFreeze(next));
    return result;
  }

  async removeGroup(tenantId: string, groupId: string): Promise<void> {
    this.groups.delete(key(tenantId, groupId));
  }

  async removeAgent(tenantId: string, personId: string): Promise<void> {
    this.agents.delete(key(tenantId, personId));
  }
}

const EMPTY_GROUP = deepFreeze(emptyGroupState());
const EMPTY_AGENT = deepFreeze(emptyAgentState());

function key(tenantId: string, id: string): string {
  return `${tenantId}\u0000${id}`;
}
