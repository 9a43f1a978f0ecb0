import { z } from 'zod';

/** What one member of one group has had from that group. */
export interface MemberRoutingState {
  /** The group's local date that `callsToday` counts (`YYYY-MM-DD`). */
  day?: string;
  /** Calls from this group the member completed on `day` (Asterisk `fewestcalls` counts completed calls). */
  callsToday: number;
  /** When the member's last call from this group ended. */
  lastCallEndAt?: number;
  /** The wrap-up the PBX gave that call itself (absent: the group's), so routing keeps them out no longer than presence does. */
  wrapUpSeconds?: number;
  /** Offers made and possibly still ringing: the instant each stops counting. */
  offers: number[];
  /** The group's `seq` when this member was last offered a call first. */
  lastOfferSeq?: number;
}

/** Strategy state of one group. */
export interface GroupRoutingState {
  /** Round robin: the member last offered a call first (Asterisk `rrmemory`). */
  pointer?: string;
  /**
   * Round robin, per priority tier (the key): the member that tier's turn started with on the last call
   * offered, so a later tier rotates too instead of always starting after the first tier's member.
   */
  tierPointers?: Record<string, string>;
  /** Counts offers, so that offers made at the same instant still have an order. */
  seq: number;
  members: Record<string, MemberRoutingState>;
}

/** What routing knows about one person's calls, whatever group (or none) they came from. */
export interface AgentCallState {
  /** The call in progress, from its `answered` outcome. */
  callStartedAt?: number;
  callId?: string;
  /** The end of the person's last call of any kind (a person just off a direct call is not idle). */
  lastCallEndAt?: number;
  /** Talk time and number of answered calls that ended: the typical call length so far. */
  talkMs: number;
  talkCalls: number;
}

export interface RoutingUpdate<S, T> {
  next: S;
  result: T;
}

/**
 * Routing strategy state (round-robin pointer, offers in flight, calls today, last call end, call
 * lengths), shared by every replica. `update*` is atomic per key whichever caller or replica runs it:
 * `fn` sees the latest state and its `next` is stored as a whole. `fn` must be pure, because an adapter
 * with optimistic concurrency (Redis WATCH/MULTI) calls it again when another writer got in first; the
 * time it needs is passed in by the caller, never read inside.
 */
export interface RoutingStateStore {
  readGroup(tenantId: string, groupId: string): Promise<GroupRoutingState>;
  updateGroup<T>(tenantId: string, groupId: string, fn: (state: GroupRoutingState) => RoutingUpdate<GroupRoutingState, T>): Promise<T>;
  /** Several people at once (one round trip for a whole group). Unknown people get the empty state. */
  readAgents(tenantId: string, personIds: readonly string[]): Promise<Map<string, AgentCallState>>;
  updateAgent<T>(tenantId: string, personId: string, fn: (state: AgentCallState) => RoutingUpdate<AgentCallState, T>): Promise<T>;
  removeGroup(tenantId: string, groupId: string): Promise<void>;
  removeAgent(tenantId: string, personId: string): Promise<void>;
}

export const emptyGroupState = (): GroupRoutingState => ({ seq: 0, members: {} });
export const emptyMemberState = (): MemberRoutingState => ({ callsToday: 0, offers: [] });
export const emptyAgentState = (): AgentCallState => ({ talkMs: 0, talkCalls: 0 });

const instant = z.number().int().nonnegative();

const memberStateSchema = z.object({
  day: z.string().optional(),
  callsToday: z.number().int().nonnegative(),
  lastCallEndAt: instant.optional(),
  wrapUpSeconds: z.number().int().nonnegative().optional(),
  offers: z.array(instant),
  lastOfferSeq: z.number().int().nonnegative().optional(),
});

export const groupStateSchema = z.object({
  pointer: z.string().optional(),
  tierPointers: z.record(z.string(), z.string()).optional(),
  seq: z.number().int().nonnegative(),
  members: z.record(z.string(), memberStateSchema),
});

export const agentStateSchema = z.object({
  callStartedAt: instant.optional(),
  callId: z.string().optional(),
  lastCallEndAt: instant.optional(),
  talkMs: z.number().nonnegative(),
  talkCalls: z.number().int().nonnegative(),
});

/** For adapters that read serialised state: malformed data counts as no state, never as a crash. */
export function parseGroupState(raw: string | null | undefined): GroupRoutingState {
  if (!raw) return emptyGroupState();
  try {
    const r = groupStateSchema.safeParse(JSON.parse(raw));
    return r.success ? (r.data as GroupRoutingState) : emptyGroupState();
  } catch {
    return emptyGroupState();
  }
}

export function parseAgentState(raw: string | null | undefined): AgentCallState {
  if (!raw) return emptyAgentState();
  try {
    const r = agentStateSchema.safeParse(JSON.parse(raw));
    return r.success ? (r.data as AgentCallState) : emptyAgentState();
  } catch {
    return emptyAgentState();
  }
}
