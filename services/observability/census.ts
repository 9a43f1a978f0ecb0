import { CALENDAR_PROVIDERS, type CalendarProvider } from '../../shared/domain/calendar.js';
import { ENDPOINT_KINDS, type EndpointKind } from '../../shared/domain/signal.js';
import type { DirectoryStore } from '../../shared/store/port.js';

/** The size of one tenant as its directory says: what the "at once" alerts take their share of. */
export interface TenantCensus {
  people: number;
  /** Phones and apps that can become unreachable, by kind (a mobile app only while it holds a token). */
  endpoints: Record<EndpointKind, number>;
  /** API keys of role `pbx`: a tenant without one has no PBX to hear from. */
  pbxKeys: number;
  /** Calendar connections that stopped syncing until someone consents again, by provider. */
  calendarsBroken: Record<CalendarProvider, number>;
}

/**
 * Counts every tenant's people, devices, PBX keys and broken calendar connections from the directory. Every replica holds the same
 * directory, so each reports the same sizes; the reads of all tenants start together, so a Redis replica
 * answers them from its directory copy after one check of the revisions (never a read per person).
 */
export async function takeCensus(directory: DirectoryStore, tenants: readonly string[]): Promise<Map<string, TenantCensus>> {
  const counted = await Promise.all(
    tenants.map(async (tenantId) => {
      const [people, devices, keys, calendars] = await Promise.all([
        directory.list('people', tenantId),
        directory.list('devices', tenantId),
        directory.list('apiKeys', tenantId),
        directory.list('calendarConnections', tenantId),
      ]);
      const endpoints = Object.fromEntries(ENDPOINT_KINDS.map((k) => [k, 0])) as Record<EndpointKind, number>;
      const withDesk = new Set<string>();
      for (const d of devices) {
        // A mobile app whose token was revoked cannot send a heartbeat: it cannot become unreachable either.
        if (d.kind === 'mobile' && d.tokenHash === undefined) continue;
        endpoints[d.kind]++;
        if (d.kind === 'desk') withDesk.add(d.personId);
      }
      // A PBX may name a phone by the person's extension rather than a device (it becomes the endpoint
      // `ext-<extension>`), so someone with an extension and no desk device still has one desk phone.
      for (const p of people) if (p.extension !== undefined && !withDesk.has(p.id)) endpoints.desk++;
      const calendarsBroken = Object.fromEntries(CALENDAR_PROVIDERS.map((p) => [p, 0])) as Record<CalendarProvider, number>;
      for (const c of calendars) if (c.status === 'broken') calendarsBroken[c.provider]++;
      const census: TenantCensus = { people: people.length, endpoints, pbxKeys: keys.filter((k) => k.role === 'pbx').length, calendarsBroken };
      return [tenantId, census] as const;
    }),
  );
  return new Map(counted);
}
