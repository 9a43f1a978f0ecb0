import { randomBytes, randomUUID } from 'node:crypto';
import type { Hub } from '../hub.js';
import type { CalendarConnector } from './connector.js';
import { AdminConsent } from './admin-consent.js';
import { AdminConsentFlow } from './admin-consent-flow.js';
import { CalendarService } from './calendar-service.js';
import { CalendarSync } from './calendar-sync.js';
import { ConnectionWork, type CalendarDeps } from './connection-work.js';
import { ConnectLinks } from './connect-link.js';
import { JobRunner } from './jobs.js';
import { KeyedLimiter } from './limiter.js';
import { OAuthClient } from './oauth-client.js';
import { OAuthFlows } from './oauth-flows.js';
import { calendarRetry } from './retry.js';
import { Subscriptions } from './subscriptions.js';
import { TokenManager } from './token-manager.js';
import { GraphClient } from '../connectors/microsoft/graph-client.js';
import { MicrosoftConnector } from '../connectors/microsoft/connector.js';
import { GoogleCalendarClient } from '../connectors/google/calendar-client.js';
import { GoogleConnector } from '../connectors/google/connector.js';

/** Outlook allows 4 concurrent requests per app and mailbox (protocols §1.6). */
export const MAILBOX_CONCURRENCY = 4;

export interface CalendarModule {
  service: CalendarService;
  subscriptions: Subscriptions;
  syncs: CalendarSync;
  adminConsent: AdminConsent;
  /** The administrator's way through Microsoft admin consent: sign-in, then consent. */
  adminConsentFlow: AdminConsentFlow;
  links: ConnectLinks;
  flows: OAuthFlows;
  tokens: TokenManager;
  /** Origins the connect page's forms may send the browser to (the providers' sign-in pages). */
  formTargets: string[];
  /** False without PUBLIC_BASE_URL or any provider: the calendar routes answer `calendars_not_configured`. */
  configured: boolean;
}

export interface CalendarRandomness {
  /** Ids for our own documents and Google channels. */
  newId: () => string;
  /** `clientState` and channel tokens: 32 random bytes. */
  newSecret: () => string;
  /** Jitter for backoff. */
  random: () => number;
}

export const defaultRandomness: CalendarRandomness = {
  newId: () => randomUUID(),
  newSecret: () => randomBytes(32).toString('base64url'),
  random: () => Math.random(),
};

/** Builds the calendar connectors and the service around them from the configuration. */
export function createCalendars(hub: Omit<Hub, 'calendars'>, rnd: CalendarRandomness = defaultRandomness): CalendarModule {
  const { config, clock, log, store, secrets } = hub;
  const cal = config.calendars;
  const owner = `replica-${rnd.newId()}`;
  const oauth = new OAuthClient(cal.timeoutMs, () => clock.now());
  const connectors: Partial<Record<'microsoft' | 'google', CalendarConnector>> = {};
  const formTargets: string[] = [];
  let microsoft: MicrosoftConnector | undefined;
  if (cal.publicBaseUrl && cal.microsoft) {
    const graph = new GraphClient({ graphBaseUrl: cal.microsoft.graphBaseUrl, timeoutMs: cal.timeoutMs, clock, random: rnd.random, limiter: new KeyedLimiter(MAILBOX_CONCURRENCY) });
    microsoft = new MicrosoftConnector({ config: cal.microsoft, publicBaseUrl: cal.publicBaseUrl, oauth, graph, clock, newId: rnd.newId, newSecret: rnd.newSecret });
    connectors.microsoft = microsoft;
    formTargets.push(new URL(cal.microsoft.loginBaseUrl).origin);
  }
  if (cal.publicBaseUrl && cal.google) {
    const calendar = new GoogleCalendarClient({ apiRootUrl: cal.google.apiRootUrl, timeoutMs: cal.timeoutMs, clock, random: rnd.random });
    connectors.google = new GoogleConnector({ config: cal.google, publicBaseUrl: cal.publicBaseUrl, oauth, calendar, clock, newId: rnd.newId, newSecret: rnd.newSecret });
    formTargets.push(new URL(cal.google.authUrl).origin);
  }
  const serviceRef: { current?: CalendarService } = {};
  const tokens = new TokenManager({
    store,
    secrets,
    clock,
    log,
    owner,
    refreshAheadMs: cal.refreshAheadMs,
    refresher: {
      async refresh(doc, current) {
        if ('personId' in doc) {
          const connector = connectors[doc.provider];
          if (!connector) throw new Error(`${doc.provider} is not configured`);
          return connector.refresh(doc, current);
        }
        if (!microsoft) throw new Error('microsoft is not configured');
        return microsoft.appToken(doc.id);
      },
    },
    onBroken: (ref, reason) => serviceRef.current!.onBroken(ref, reason),
  });
  const jobs = new JobRunner({ clock, log, leases: store.leases, owner, retry: calendarRetry(rnd.random) });
  const deps: CalendarDeps = { config: cal, store, engine: hub.engine, directory: hub.directory, clock, log, metrics: hub.metrics, connectors, tokens, jobs };
  const work = new ConnectionWork(deps);
  const syncs = new CalendarSync(deps, work);
  const subscriptions = new Subscriptions(deps, work, syncs);
  const service = new CalendarService(deps, work, syncs, subscriptions);
  const adminConsent = new AdminConsent(deps, work, service);
  const flows = new OAuthFlows(store, secrets, clock, rnd.newId);
  serviceRef.current = service;
  hub.directory.hooks.personRemoved.push((t, p) => service.disconnectPerson(t, p));
  hub.directory.hooks.personWritten.push((p, before) => service.onPersonWritten(p, before));
  hub.directory.hooks.tenantWritten.push((t) => service.onTenantWritten(t));
  hub.directory.hooks.tenantRemoved.push(
    async (t) => {
      await adminConsent.revoke(t);
    },
    (t) => flows.forgetTenant(t),
  );
  const linkKey = cal.connectLinkSecret ? Buffer.from(cal.connectLinkSecret, 'utf8') : secrets.derive('connect-link');
  return {
    service,
    subscriptions,
    syncs,
    adminConsent,
    adminConsentFlow: new AdminConsentFlow({ flows, consent: adminConsent, microsoft, clock, log }),
    links: new ConnectLinks(linkKey, cal.connectLinkTtlMs, clock),
    flows,
    tokens,
    formTargets,
    configured: Object.keys(connectors).length > 0,
  };
}
