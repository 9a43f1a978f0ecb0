import { DateTime } from 'luxon';

/** Graph names UTC in a few ways; everything else must be an IANA zone luxon knows. */
const UTC_ALIASES = new Set(['utc', 'tzone://microsoft/utc', 'etc/utc', 'z', 'gmt']);

function zoneOf(name: string | undefined): string | undefined {
  if (name === undefined || name === '' || UTC_ALIASES.has(name.toLowerCase())) return 'UTC';
  return DateTime.now().setZone(name).isValid ? name : undefined;
}

/**
 * An instant from a wall-clock time in a named zone (Graph `{dateTime, timeZone}`; a Google `dateTime`
 * without offset). A string with its own offset keeps it. Undefined when the zone or time is unreadable:
 * the caller then decides nothing rather than guess.
 */
export function instantOf(dateTime: string, zone: string | undefined): number | undefined {
  const hasOffset = /(Z|[+-]\d\d:?\d\d)$/i.test(dateTime);
  const z = hasOffset ? 'UTC' : zoneOf(zone);
  if (z === undefined) return undefined;
  const dt = DateTime.fromISO(dateTime, { zone: z });
  return dt.isValid ? dt.toMillis() : undefined;
}

/**
 * Midnight starting a calendar date in the person's zone. All-day events are dates, not instants
 * (Graph: midnight to midnight, end exclusive; Google: `date`, end exclusive), so a day off in Berlin
 * runs from Berlin midnight, and a DST day comes out 23 or 25 hours long.
 */
export function startOfDateIn(date: string, zone: string): number | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})/.exec(date);
  if (!m) return undefined;
  const dt = DateTime.fromISO(m[1]!, { zone });
  return dt.isValid ? dt.startOf('day').toMillis() : undefined;
}
