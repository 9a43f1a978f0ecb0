import type { Presence } from '../../domain/presence.js';
import type { PersonState, StateStore, Update } from '../port.js';
import type { MemoryFeed } from './memory-feed.js';

const EMPTY: PersonState = Object.freeze({ signals: [] }) as PersonState;

/**
 * Hot state in process. Node runs `update` to completion before anything else touches the person, so
 * every update, and the feed event it emits, is atomic. `onChange` lets the embedded store persist the
 * durable part.
 */
export class MemoryState implements StateStore {
  private readonly byTenant = new Map<string, Map<string, PersonState>>();

  constructor(
    private readonly feed: MemoryFeed,
    private readonly onChange?: (tenantId: string, personId: string, before: PersonState, after: PersonState, at: number | undefined) => void,
  ) {}

  private people(tenantId: string): Map<string, PersonState> {
    let m = this.byTenant.get(tenantId);
    if (!m) {
      m = new Map();
      this.byTenant.set(tenantId, m);
    }
    return m;
  }

  readSync(tenantId: string, personId: string): PersonState {
    return this.byTenant.get(tenantId)?.get(personId) ?? EMPTY;
  }

  async read(tenantId: string, personId: string): Promise<PersonState> {
    return this.readSync(tenantId, personId);
  }

  updateSync<T>(tenantId: string, personId: string, fn: (state: PersonState) => Update<T>): T {
    const before = this.readSync(tenantId, personId);
    const { next, result, emit, cause, at } = fn(before);
    this.onChange?.(tenantId, personId, before, next, at);
    if (next.signals.length === 0 && !next.presence) this.byTenant.get(tenantId)?.delete(personId);
    else this.people(tenantId).set(personId, next);
    if (emit) this.feed.publish(tenantId, personId, next.presence, cause);
    return result;
  }

  async update<T>(tenantId: string, personId: string, fn: (state: PersonState) => Update<T>): Promise<T> {
    return this.updateSync(tenantId, personId, fn);
  }

  async listPresence(tenantId: string): Promise<Presence[]> {
    const out: Presence[] = [];
    for (const s of this.byTenant.get(tenantId)?.values() ?? []) if (s.presence) out.push(s.presence);
    return out;
  }

  async keys(): Promise<Array<{ tenantId: string; personId: string }>> {
    const out: Array<{ tenantId: string; personId: string }> = [];
    for (const [tenantId, m] of this.byTenant) for (const personId of m.keys()) out.push({ tenantId, personId });
    return out;
  }

  async remove(tenantId: string, personId: string): Promise<void> {
    const before = this.readSync(tenantId, personId);
    this.onChange?.(tenantId, personId, before, EMPTY, undefined);
    this.byTenant.get(tenantId)?.delete(personId);
    this.feed.publish(tenantId, personId, undefined);
  }

  /** Seeds state read back from durable storage at start-up. */
  seed(tenantId: string, personId: string, state: PersonState): void {
    this.people(tenantId).set(personId, state);
  }
}
