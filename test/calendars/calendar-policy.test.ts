import { describe, expect, it } from 'vitest';
import { DEFAULT_CALENDAR_POLICY, calendarPolicySchema, withMeetingAs } from '../../shared/domain/calendar.js';
import { tenantSettingsSchema } from '../../shared/domain/directory.js';
import { DEFAULT_POLICY } from '../../shared/domain/policy.js';
import { merge } from '../../shared/merge/merge.js';
import { HOUR, T0, desk, meeting } from '../support/signals.js';

describe('calendar policy', () => {
  it('defaults: tentative busy, all-day ignored, private counted, no buffers, meetings busy', () => {
    expect(DEFAULT_CALENDAR_POLICY).toEqual({ tentative: 'busy', allDay: 'free', privateEvents: 'busy', bufferBeforeMinutes: 0, bufferAfterMinutes: 0, meetingAs: 'busy' });
  });

  it('is part of the tenant settings and refuses unknown knobs and silly buffers', () => {
    expect(tenantSettingsSchema.parse({ calendar: { tentative: 'free' } }).calendar).toMatchObject({ tentative: 'free', allDay: 'free' });
    expect(calendarPolicySchema.safeParse({ bufferBeforeMinutes: 121 }).success).toBe(false);
    expect(calendarPolicySchema.safeParse({ showTitles: true }).success).toBe(false);
  });

  it('meetingAs dnd makes a meeting dnd through the calendar meeting row, and leaves out-of-office alone', () => {
    const dndPolicy = withMeetingAs(DEFAULT_POLICY, 'dnd');
    expect(dndPolicy.rules.find((r) => r.id === 'calendar-meeting')?.availability).toBe('dnd');
    expect(dndPolicy.rules.find((r) => r.id === 'calendar-out-of-office')?.availability).toBeUndefined();
    expect(withMeetingAs(DEFAULT_POLICY, 'busy')).toBe(DEFAULT_POLICY);
    const inMeeting = [desk(), meeting('in-meeting', T0 - HOUR, T0 + HOUR)];
    expect(merge(inMeeting, DEFAULT_POLICY, T0)).toMatchObject({ availability: 'busy', activity: 'in-meeting' });
    expect(merge(inMeeting, dndPolicy, T0)).toMatchObject({ availability: 'dnd', activity: 'in-meeting' });
    expect(merge([desk(), meeting('out-of-office', T0 - HOUR, T0 + HOUR)], dndPolicy, T0)).toMatchObject({ availability: 'away' });
  });

  it('an unknown calendar decides nothing and says so in the explanation', () => {
    const d = merge([desk(), { id: 'outlook:connection', source: 'outlook', claim: { kind: 'calendar', activity: 'unknown' }, observedAt: T0 }], DEFAULT_POLICY, T0);
    expect(d).toMatchObject({ availability: 'available', activity: 'available' });
    expect(d.explanation).toContainEqual(expect.objectContaining({ signal: 'outlook:connection', verdict: 'inactive', reason: 'the source cannot say (unknown)' }));
  });
});
