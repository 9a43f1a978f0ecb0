import type { Signal } from '../../shared/domain/signal.js';
import type { WeeklyHours } from '../../shared/domain/working-hours.js';

export const T0 = Date.parse('2026-03-02T10:00:00Z'); // a Monday
export const MIN = 60_000;
export const HOUR = 60 * MIN;

export const at = (iso: string) => Date.parse(iso);

export const desk = (over: Partial<Signal> = {}): Signal => ({
  id: 'pbx:reg:desk-1',
  source: 'pbx',
  claim: { kind: 'endpoint', endpoint: { id: 'desk-1', kind: 'desk', contact: 'sip:alice@example.test' }, reachable: true },
  observedAt: T0 - HOUR,
  ...over,
});

export const unregistered = (over: Partial<Signal> = {}): Signal => ({
  ...desk(),
  claim: { kind: 'endpoint', endpoint: { id: 'desk-1', kind: 'desk' }, reachable: false },
  ...over,
});

export const mobile = (over: Partial<Signal> = {}): Signal => ({
  id: 'mobile:phone-1',
  source: 'mobile',
  claim: { kind: 'endpoint', endpoint: { id: 'phone-1', kind: 'mobile', contact: '+4930123' }, reachable: true },
  observedAt: T0 - MIN,
  until: T0 + MIN,
  ...over,
});

export const call = (state: 'ringing' | 'on-call' | 'on-hold', over: Partial<Signal> = {}): Signal => ({
  id: 'pbx:call:desk-1:_',
  source: 'pbx',
  claim: { kind: 'call', state },
  observedAt: T0 - MIN,
  ...over,
});

export const dnd = (source: 'manual' | 'pbx' = 'manual', over: Partial<Signal> = {}): Signal => ({
  id: source === 'manual' ? 'manual' : 'pbx:dnd:desk-1',
  source,
  claim: { kind: 'dnd' },
  observedAt: T0 - MIN,
  ...over,
});

export const manual = (activity: string, over: Partial<Signal> = {}): Signal => ({
  id: 'manual',
  source: 'manual',
  claim: { kind: 'status', activity },
  observedAt: T0 - MIN,
  ...over,
});

export const teams = (activity: string, over: Partial<Signal> = {}): Signal => ({
  id: 'teams:presence',
  source: 'teams',
  claim: { kind: 'status', activity },
  observedAt: T0 - MIN,
  ...over,
});

export const meeting = (
  activity: 'in-meeting' | 'presenting' | 'focus' | 'out-of-office',
  from: number,
  until: number,
  over: Partial<Signal> = {},
): Signal => ({
  id: `outlook:evt:${activity}:${from}`,
  source: 'outlook',
  claim: { kind: 'calendar', activity },
  observedAt: T0 - HOUR,
  from,
  until,
  ...over,
});

export const wrapUp = (until: number, over: Partial<Signal> = {}): Signal => ({
  id: 'pbx:wrap:desk-1',
  source: 'pbx',
  claim: { kind: 'wrap-up' },
  observedAt: T0 - MIN,
  until,
  ...over,
});

export const NINE_TO_FIVE: WeeklyHours = {
  mon: [['09:00', '17:00']],
  tue: [['09:00', '17:00']],
  wed: [['09:00', '17:00']],
  thu: [['09:00', '17:00']],
  fri: [['09:00', '17:00']],
};

export const workingHours = (zone = 'UTC', week: WeeklyHours = NINE_TO_FIVE): Signal => ({
  id: 'directory:working-hours',
  source: 'directory',
  claim: { kind: 'working-hours', zone, week },
  observedAt: 0,
});
