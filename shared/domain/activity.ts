/** The availability a person shows to others (design §3). Names are the contract. */
export const AVAILABILITIES = ['available', 'busy', 'dnd', 'away', 'offline', 'unknown'] as const;
export type Availability = (typeof AVAILABILITIES)[number];

/** Built-in activities (the reason). A tenant may add custom busy reasons, each mapped to an availability. */
export const BUILTIN_ACTIVITIES = [
  'available',
  'ringing',
  'on-call',
  'on-hold',
  'in-meeting',
  'presenting',
  'focus',
  'out-of-office',
  'dnd',
  'away',
  'break',
  'wrap-up',
  'off-work',
  'offline',
  'unknown',
] as const;
export type BuiltinActivity = (typeof BUILTIN_ACTIVITIES)[number];
/** Being in a meeting, whoever says so (a calendar, Teams, or the person by hand). */
export const MEETING_ACTIVITIES: ReadonlySet<string> = new Set(['in-meeting', 'presenting', 'focus']);

/** A built-in activity or a tenant-defined custom reason (lower-case slug). */
export type Activity = BuiltinActivity | (string & {});

/**
 * Default activity → availability table. It is policy data: a tenant can retune any row and add
 * custom reasons. The README reproduces this table.
 */
export const DEFAULT_ACTIVITY_AVAILABILITY: Readonly<Record<BuiltinActivity, Availability>> = {
  available: 'available',
  ringing: 'busy',
  'on-call': 'busy',
  'on-hold': 'busy',
  'in-meeting': 'busy',
  // Teams shows Presenting and Focusing as Do Not Disturb; we follow it.
  presenting: 'dnd',
  focus: 'dnd',
  'out-of-office': 'away',
  dnd: 'dnd',
  away: 'away',
  break: 'away',
  'wrap-up': 'busy',
  // Teams pairs OffWork with Offline (setUserPreferredPresence).
  'off-work': 'offline',
  offline: 'offline',
  unknown: 'unknown',
};

export const CUSTOM_ACTIVITY_PATTERN = /^[a-z][a-z0-9-]{0,39}$/;
