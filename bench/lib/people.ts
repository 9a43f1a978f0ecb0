import type { Signal } from '../../shared/domain/signal.js';
import type { WeeklyHours } from '../../shared/domain/working-hours.js';

export const MIN = 60_000;
export const HOUR = 60 * MIN;

/** Office hours in Berlin, Monday to Friday, with a lunch break on Friday. */
export const OFFICE_HOURS: WeeklyHours = {
  mon: [['08:00', '17:00']],
  tue: [['08:00', '17:00']],
  wed: [['08:00', '17:00']],
  thu: [['08:00', '17:00']],
  fri: [
    ['08:00', '12:00'],
    ['13:00', '15:00'],
  ],
};
export const OFFICE_ZONE = 'Europe/Berlin';

export function deskRegistration(deviceId: string, observedAt: number, contact = `sip:${deviceId}@192.0.2.10`): Signal {
  return {
    id: `pbx:reg:${deviceId}`,
    source: 'pbx',
    claim: { kind: 'endpoint', endpoint: { id: deviceId, kind: 'desk', contact }, reachable: true },
    observedAt,
  };
}

export function mobileHeartbeat(deviceId: string, observedAt: number, until: number): Signal {
  return {
    id: `mobile:${deviceId}`,
    source: 'mobile',
    claim: { kind: 'endpoint', endpoint: { id: deviceId, kind: 'mobile', contact: '+4930123456' }, reachable: true },
    observedAt,
    until,
    note: 'background',
  };
}

export function onCall(deviceId: string, observedAt: number): Signal {
  return { id: `pbx:call:${deviceId}:c1`, source: 'pbx', claim: { kind: 'call', state: 'on-call' }, observedAt };
}

export function manualStatus(activity: string, observedAt: number, until: number): Signal {
  return { id: 'manual', source: 'manual', claim: { kind: 'status', activity }, observedAt, until, untilRule: 'instant' };
}

export function meeting(eventId: string, observedAt: number, from: number, until: number): Signal {
  return { id: `outlook:evt:${eventId}`, source: 'outlook', claim: { kind: 'calendar', activity: 'in-meeting' }, observedAt, from, until };
}

export function workingHours(zone = OFFICE_ZONE, week: WeeklyHours = OFFICE_HOURS): Signal {
  return { id: 'directory:working-hours', source: 'directory', claim: { kind: 'working-hours', zone, week }, observedAt: 0 };
}
