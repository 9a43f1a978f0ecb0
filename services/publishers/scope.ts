import type { Person } from '../../shared/domain/directory.js';
import type { Target } from '../../shared/domain/target.js';

/** Whether the target covers the person: every one of its tenant, unless limited to some people or teams. */
export function inScope(target: Target, person: Person | undefined, personId: string): boolean {
  if (!target.people && !target.teams) return true;
  if (target.people?.includes(personId)) return true;
  return !!person && !!target.teams?.some((t) => person.teams.includes(t));
}
