import type { Request, Response } from 'express';
import { CALENDAR_PROVIDERS, type CalendarProvider } from '../../shared/domain/calendar.js';
import { AppError, notFound, WrongCredentials } from '../../shared/errors/errors.js';
import { assertSelfOrRoles, tenantOf } from '../api/auth.js';
import { route, type AnyRoute } from '../api/route.js';
import type { Hub } from '../hub.js';
import type { MicrosoftAnswer } from './admin-consent-flow.js';
import { ProviderError } from './errors.js';
import { FLOW_TTL_MS, flowCookie } from './oauth-flows.js';
import { escapeHtml, sendErrorPage, sendPage, statusPage } from './pages.js';
import { adminConsentLinkSchema, calendarsSchema, connectDirectorySchema, connectLinkSchema, personCalendarSchema } from '../api/response-schema.js';

/** The pages answer HTML, failures too (their code in `data-error-code`). */
const PAGE = 'text/html; charset=utf-8';

const notConfigured = () => new AppError(503, 'calendars_not_configured', 'no calendar provider is configured (PUBLIC_BASE_URL and a provider client id and secret)', undefined, 3600);

function cookie(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k !== name) continue;
    try {
      return decodeURIComponent(v.join('='));
    } catch {
      // Not percent-encoding, so not a value we set.
      return undefined;
    }
  }
  return undefined;
}

/** The browser's cookie for the flow of `state`. */
const flowNonce = (req: Request, state: string | undefined): string | undefined => (state ? cookie(req, flowCookie(state)) : undefined);

function queryString(req: Request, name: string): string | undefined {
  const v = req.query[name];
  return typeof v === 'string' ? v : undefined;
}

/** `{ [key]: value }`, or nothing when the value is absent (optional properties take no `undefined`). */
const optional = <K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> => (value === undefined ? {} : ({ [key]: value } as Record<K, string>));

/**
 * The pages' buttons post to this service from its own pages. A form on another site could post there
 * too (a start link or connect link the attacker holds, sent with the victim's browser), skipping the page
 * that says what the button starts: the administrator would never see which tenant they connect. The
 * browser says where a request comes from in `Sec-Fetch-Site`; `Origin` is `null` here (the pages send
 * no referrer), so it tells nothing. A client without Fetch Metadata sends neither and is let through.
 */
function assertOwnForm(req: Request): void {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') {
    throw new AppError(403, 'cross_site_form', 'this button works only from its own page of this service; open the link you were sent and press it there');
  }
}

/** What every Microsoft redirect answer carries: the state, an error, and the browser's flow cookie. */
function answer(req: Request): MicrosoftAnswer {
  const state = queryString(req, 'state');
  return {
    ...optional('state', state),
    ...optional('browserNonce', flowNonce(req, state)),
    ...optional('error', queryString(req, 'error')),
    ...optional('errorDescription', queryString(req, 'error_description')),
  };
}

/**
 * Calendar consent and status: the admin API (connect links, status, disconnect, admin consent), the
 * person's pages under `/connect/…`, and the OAuth callbacks under `/oauth/…`.
 */
export function calendarRoutes(hub: Hub): AnyRoute[] {
  const cal = hub.calendars;
  const { service, adminConsent, adminConsentFlow, links, flows } = cal;
  const publicBase = hub.config.calendars.publicBaseUrl ?? '';
  const pageOpts = { formTargets: cal.formTargets };
  const secureCookie = publicBase.startsWith('https://');

  function provider(name: string | undefined): CalendarProvider {
    if (!CALENDAR_PROVIDERS.includes(name as CalendarProvider)) throw new AppError(404, 'unknown_provider', `no calendar provider ${String(name)} (microsoft, google)`);
    if (!service.connector(name as CalendarProvider)) throw new AppError(404, 'provider_not_configured', `${String(name)} is not configured on this service`);
    return name as CalendarProvider;
  }

  const linkPath = (token: string) => `/connect/${token}`;
  const adminStartPath = (ticket: string) => `/oauth/microsoft/admin-consent/${ticket}`;

  const cookieOpts = { httpOnly: true, sameSite: 'lax', secure: secureCookie, path: '/oauth' } as const;

  /** Sends the browser to the provider, bound to this browser by the flow's cookie (the callback checks it). */
  function toProvider(res: Response, step: { url: string; state: string; browserNonce: string }): void {
    res.cookie(flowCookie(step.state), step.browserNonce, { ...cookieOpts, maxAge: FLOW_TTL_MS });
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.redirect(303, step.url);
  }

  /**
   * Runs a page handler; any failure becomes an error page with its code (and `back()`, the person's page,
   * when known). The link or state in a page's URL is the only secret it takes: a wrong one counts as failed
   * authentication of the address, and an address past its limit is refused before its link is looked at.
   */
  async function page(req: Request, res: Response, fn: () => Promise<void>, back: () => string | undefined = () => undefined): Promise<undefined> {
    try {
      hub.limits.refuseGuesser(req.ip);
      await fn();
    } catch (err) {
      if (err instanceof WrongCredentials) void hub.limits.failedAuth(req.ip);
      if (!(err instanceof AppError)) hub.log.error({ err }, 'calendar page failed');
      const href = back();
      sendErrorPage(res, err, { ...pageOpts, ...(href ? { back: href } : {}) });
    }
    return undefined;
  }

  return [
    // ── admin API ──
    route({
      method: 'post',
      path: '/v1/people/:personId/connect-link',
      summary: 'A signed, expiring link the person opens to connect their calendar',
      tag: 'calendars',
      auth: 'key',
      roles: ['admin'],
      returns: { 201: connectLinkSchema },
      responses: { 201: 'the link and its expiry', 404: 'unknown person (person_not_found)', 503: 'no calendar provider configured (calendars_not_configured)' },
      async handle({ principal, params }) {
        const tenantId = tenantOf(principal);
        const person = await hub.directory.getPerson(tenantId, params.personId!);
        if (!cal.configured) throw notConfigured();
        const { token, expiresAt } = links.issue(tenantId, person.id);
        return { status: 201, body: { url: `${publicBase}${linkPath(token)}`, expiresAt: new Date(expiresAt).toISOString(), providers: service.enabledProviders() } };
      },
    }),
    route({
      method: 'get',
      path: '/v1/people/:personId/calendar',
      summary: "The person's calendar connections: account, status (connected or broken) and sync status",
      tag: 'calendars',
      auth: 'key',
      roles: ['admin', 'member'],
      returns: { 200: personCalendarSchema },
      responses: { 200: 'the connections', 404: 'unknown person (person_not_found)' },
      async handle({ principal, params }) {
        assertSelfOrRoles(principal, params.personId!, ['admin']);
        const tenantId = tenantOf(principal);
        const person = await hub.directory.getPerson(tenantId, params.personId!);
        const conns = await service.connectionsOf(tenantId, person.id);
        return { body: { personId: person.id, providers: service.enabledProviders(), connections: await Promise.all(conns.map((c) => service.view(c))) } };
      },
    }),
    route({
      method: 'delete',
      path: '/v1/people/:personId/calendar/:provider',
      summary: 'Disconnect: revoke the grant, stop subscriptions or channels, delete the tokens',
      tag: 'calendars',
      auth: 'key',
      roles: ['admin', 'member'],
      responses: { 204: 'disconnected', 404: 'unknown person, provider or no such connection (person_not_found, unknown_provider, calendar_connection_not_found)' },
      async handle({ principal, params }) {
        assertSelfOrRoles(principal, params.personId!, ['admin']);
        const tenantId = tenantOf(principal);
        const person = await hub.directory.getPerson(tenantId, params.personId!);
        if (!CALENDAR_PROVIDERS.includes(params.provider as CalendarProvider)) throw new AppError(404, 'unknown_provider', `no calendar provider ${params.provider}`);
        if (!(await service.disconnect(tenantId, person.id, params.provider as CalendarProvider))) throw notFound('calendar_connection', params.provider);
        return { status: 204 };
      },
    }),
    route({
      method: 'get',
      path: '/v1/calendars',
      summary: "Every calendar connection of the tenant and the Microsoft admin consent, with broken ones first",
      tag: 'calendars',
      auth: 'key',
      roles: ['admin'],
      returns: { 200: calendarsSchema },
      responses: { 200: 'connections and grants' },
      async handle({ principal }) {
        const tenantId = tenantOf(principal);
        const conns = await hub.store.directory.list('calendarConnections', tenantId);
        const views = await Promise.all(conns.map(async (c) => ({ personId: c.personId, ...(await service.view(c)) })));
        views.sort((a, b) => Number(b.status === 'broken') - Number(a.status === 'broken') || (a.personId < b.personId ? -1 : 1));
        const grants = (await adminConsent.grantsOf(tenantId)).map((g) => ({ directoryTenant: g.id, status: g.status, grantedAt: new Date(g.grantedAt).toISOString(), ...(g.brokenReason ? { brokenReason: g.brokenReason } : {}) }));
        return { body: { providers: service.enabledProviders(), summary: { connected: views.filter((v) => v.status === 'connected').length, broken: views.filter((v) => v.status === 'broken').length }, connections: views, adminConsent: grants } };
      },
    }),
    route({
      method: 'post',
      path: '/v1/calendars/microsoft/admin-consent',
      summary: "A single-use link a Microsoft administrator opens to sign in and then approve application access for the organisation; every directory person's calendar is then connected",
      tag: 'calendars',
      auth: 'key',
      roles: ['admin'],
      returns: { 201: adminConsentLinkSchema },
      responses: { 201: 'the link to open as a Microsoft administrator, and the redirect URIs the app registration must list', 503: 'Microsoft is not configured (calendars_not_configured)' },
      async handle({ principal }) {
        const tenantId = tenantOf(principal);
        const ms = service.microsoft;
        if (!ms) throw notConfigured();
        const { ticket, expiresAt } = await adminConsentFlow.issue(tenantId);
        return { status: 201, body: { url: `${publicBase}${adminStartPath(ticket)}`, redirectUris: [ms.adminSignInRedirectUri, ms.adminRedirectUri], expiresAt: new Date(expiresAt).toISOString() } };
      },
    }),
    route({
      method: 'delete',
      path: '/v1/calendars/microsoft/admin-consent',
      summary: 'Forget the Microsoft admin consent and disconnect every calendar connected through it',
      tag: 'calendars',
      auth: 'key',
      roles: ['admin'],
      responses: { 204: 'removed', 404: 'no admin consent stored (admin_consent_not_found)' },
      async handle({ principal }) {
        if (!(await adminConsent.revoke(tenantOf(principal)))) throw notFound('admin_consent');
        return { status: 204 };
      },
    }),
    route({
      method: 'post',
      path: '/v1/calendars/microsoft/connect-directory',
      summary: 'Connect, through the admin consent, every directory person with an e-mail address who is not connected yet',
      tag: 'calendars',
      auth: 'key',
      roles: ['admin'],
      returns: { 200: connectDirectorySchema },
      responses: { 200: 'who was connected, not found in Microsoft Entra, or skipped', 409: 'no admin consent (admin_consent_missing)', 503: 'Microsoft is not configured (calendars_not_configured)' },
      async handle({ principal }) {
        const tenantId = tenantOf(principal);
        if (!service.microsoft) throw notConfigured();
        if (!(await adminConsent.grantsOf(tenantId)).some((g) => g.status === 'connected')) throw new AppError(409, 'admin_consent_missing', 'no working Microsoft admin consent; start one with POST /v1/calendars/microsoft/admin-consent');
        return { body: await adminConsent.connectDirectory(tenantId) };
      },
    }),

    // ── the person's pages ──
    route({
      method: 'get',
      path: '/connect/:link',
      summary: "The person's calendar page: connect Microsoft or Google, the connected account and sync status, reconnect, disconnect",
      tag: 'calendar pages',
      auth: 'none',
      produces: PAGE,
      responses: { 200: 'an HTML page', 404: 'invalid link', 410: 'expired link' },
      async handle({ req, res, params }) {
        return page(req, res, async () => {
          const claims = links.verify(params.link!);
          const person = await hub.directory.getPerson(claims.tenantId, claims.personId);
          const connections = await Promise.all((await service.connectionsOf(claims.tenantId, person.id)).map((c) => service.view(c)));
          const connected = queryString(req, 'connected');
          const disconnected = queryString(req, 'disconnected');
          const notice =
            connected && CALENDAR_PROVIDERS.includes(connected as CalendarProvider)
              ? 'Your calendar is connected.'
              : disconnected && CALENDAR_PROVIDERS.includes(disconnected as CalendarProvider)
                ? 'Your calendar is disconnected; it no longer affects your status.'
                : undefined;
          const body = statusPage({ linkPath: linkPath(params.link!), personName: person.name, providers: service.enabledProviders(), connections, expiresAt: claims.expiresAt, ...(notice ? { notice } : {}) });
          sendPage(res, 200, 'Your calendar', body, pageOpts);
        });
      },
    }),
    route({
      method: 'post',
      path: '/connect/:link/:provider',
      summary: "Start consent: redirects to the provider's sign-in with PKCE (S256) and state",
      tag: 'calendar pages',
      auth: 'none',
      produces: PAGE,
      responses: { 303: 'to the provider', 403: 'posted from another site', 404: 'invalid link or provider', 410: 'expired link' },
      async handle({ req, res, params }) {
        return page(req, res, async () => {
          assertOwnForm(req);
          const claims = links.verify(params.link!);
          const p = provider(params.provider);
          const person = await hub.directory.getPerson(claims.tenantId, claims.personId);
          const f = await flows.start({ tenantId: claims.tenantId, provider: p, kind: 'person', personId: person.id, linkExpiresAt: claims.expiresAt, pkce: true, bindBrowser: true });
          toProvider(res, { url: service.connector(p)!.authorizeUrl({ state: f.state, codeChallenge: f.codeChallenge!, ...(person.email ? { loginHint: person.email } : {}) }), state: f.state, browserNonce: f.browserNonce! });
        });
      },
    }),
    route({
      method: 'post',
      path: '/connect/:link/:provider/disconnect',
      summary: 'Disconnect from the person’s page',
      tag: 'calendar pages',
      auth: 'none',
      produces: PAGE,
      responses: { 303: 'back to the page', 403: 'posted from another site', 404: 'invalid link', 410: 'expired link' },
      async handle({ req, res, params }) {
        return page(req, res, async () => {
          assertOwnForm(req);
          const claims = links.verify(params.link!);
          if (!CALENDAR_PROVIDERS.includes(params.provider as CalendarProvider)) throw new AppError(404, 'unknown_provider', `no calendar provider ${params.provider}`);
          await service.disconnect(claims.tenantId, claims.personId, params.provider as CalendarProvider);
          res.redirect(303, `${linkPath(params.link!)}?disconnected=${params.provider}`);
        });
      },
    }),
    route({
      method: 'get',
      path: '/oauth/:provider/callback',
      summary: 'OAuth redirect URI: checks state and the browser binding, exchanges the code with the PKCE verifier, subscribes and syncs',
      tag: 'calendar pages',
      auth: 'none',
      produces: PAGE,
      responses: { 200: 'a page saying the calendar is connected, when the link it came from has expired meanwhile', 303: 'to the person’s page', 400: 'state mismatch, denied or expired consent', 404: 'the person or tenant was deleted meanwhile (person_not_found, tenant_not_found): nothing stored', 502: 'the provider failed' },
      async handle({ req, res, params }) {
        let back: string | undefined;
        return page(
          req,
          res,
          async () => {
            const p = provider(params.provider);
            const state = queryString(req, 'state');
            const { flow, verifier } = await flows.finish(p, 'person', state, flowNonce(req, state));
            res.clearCookie(flowCookie(state!), cookieOpts);
            back = flow.linkExpiresAt !== undefined && flow.linkExpiresAt > hub.clock.now() ? linkPath(links.issue(flow.tenantId, flow.personId!, flow.linkExpiresAt).token) : undefined;
            const error = queryString(req, 'error');
            if (error) {
              const denied = error === 'access_denied' || error === 'consent_required';
              throw new AppError(400, denied ? 'consent_denied' : 'provider_error', denied ? 'access was not granted, so the calendar is not connected' : `the provider answered ${error.slice(0, 60)}`);
            }
            const code = queryString(req, 'code');
            if (!code || code.length > 4096) throw new AppError(400, 'missing_code', 'the provider sent no authorization code');
            const person = await hub.directory.getPerson(flow.tenantId, flow.personId!);
            let consent;
            try {
              consent = await service.connector(p)!.completeConsent({ code, verifier: verifier! });
            } catch (err) {
              if (err instanceof ProviderError) throw new AppError(502, 'consent_failed', `${p} did not complete the consent (${err.code}); please try again`);
              throw err;
            }
            await service.connectPerson(flow.tenantId, person.id, p, consent);
            if (back) res.redirect(303, `${back}?connected=${p}`);
            else sendPage(res, 200, 'Calendar connected', '<h1>Your calendar is connected</h1><p>You can close this page.</p>', pageOpts);
          },
          () => back,
        );
      },
    }),
    route({
      method: 'get',
      path: '/oauth/microsoft/admin-consent/:ticket',
      summary: "The Microsoft administrator's start page: which tenant of this service their organisation is connected to, and what Microsoft will ask",
      tag: 'calendar pages',
      auth: 'none',
      produces: PAGE,
      responses: { 200: 'an HTML page with a sign-in button', 400: 'unknown, used or expired link' },
      async handle({ req, res, params }) {
        return page(req, res, async () => {
          const tenant = await hub.directory.getTenant(await adminConsentFlow.tenantOf(params.ticket));
          sendPage(
            res,
            200,
            'Connect your Microsoft 365 organisation',
            `<h1>Connect your Microsoft 365 organisation</h1>
<p>This lets the calendars of everyone in your organisation drive their phone status in <strong data-tenant="${escapeHtml(tenant.id)}">${escapeHtml(tenant.name)}</strong> (tenant id <code>${escapeHtml(tenant.id)}</code>).</p>
<p><strong>Continue only if you asked for this link.</strong> Whoever administers that tenant here will see when everyone in your organisation is busy; its name is chosen by its own administrators, its id is not.</p>
<p>First you sign in with your Microsoft work account; then Microsoft shows the permissions asked for, which you accept on behalf of your organisation. Only an administrator allowed to grant consent for the whole organisation can accept.</p>
<form method="post" action="${escapeHtml(adminStartPath(params.ticket!))}"><button type="submit" class="primary">Sign in with Microsoft</button></form>
<p><small>This link works once, for 15 minutes after it was made.</small></p>`,
            pageOpts,
          );
        });
      },
    }),
    route({
      method: 'post',
      path: '/oauth/microsoft/admin-consent/:ticket',
      summary: "Spends the administrator's start link and begins step 1: a Microsoft sign-in (OpenID Connect, PKCE S256, nonce) bound to this browser",
      tag: 'calendar pages',
      auth: 'none',
      produces: PAGE,
      responses: { 303: "to Microsoft's sign-in", 400: 'unknown, used or expired link', 403: 'posted from another site' },
      async handle({ req, res, params }) {
        return page(req, res, async () => {
          assertOwnForm(req);
          toProvider(res, await adminConsentFlow.begin(params.ticket));
        });
      },
    }),
    route({
      method: 'get',
      path: '/oauth/microsoft/admin-sign-in',
      summary: "Admin consent step 1 redirect URI: exchanges the code (PKCE) for the administrator's ID token, whose tid proves their directory, then sends them to that directory's admin-consent page",
      tag: 'calendar pages',
      auth: 'none',
      produces: PAGE,
      responses: { 303: "to Microsoft's admin-consent page for the proven directory", 400: 'state mismatch, a failed sign-in, or an ID token that proves no directory', 502: 'Microsoft failed' },
      async handle({ req, res }) {
        return page(req, res, async () => {
          const step1 = answer(req);
          const step = await adminConsentFlow.signedIn({ ...step1, ...optional('code', queryString(req, 'code')) });
          res.clearCookie(flowCookie(step1.state!), cookieOpts);
          toProvider(res, step);
        });
      },
    }),
    route({
      method: 'get',
      path: '/oauth/microsoft/admin-callback',
      summary: 'Admin consent step 2 redirect URI: stores the grant for the directory proven in step 1 (the answer must name it) and connects every directory person',
      tag: 'calendar pages',
      auth: 'none',
      produces: PAGE,
      responses: { 200: 'an HTML summary', 400: 'state mismatch, consent denied, or an answer naming another directory', 404: 'the tenant was deleted meanwhile (tenant_not_found): no grant stored', 409: 'the directory is connected to another tenant', 502: 'Microsoft failed' },
      async handle({ req, res }) {
        return page(req, res, async () => {
          const step2 = answer(req);
          const { directoryTenant, result } = await adminConsentFlow.consented({
            ...step2,
            ...optional('adminConsent', queryString(req, 'admin_consent')),
            ...optional('tenant', queryString(req, 'tenant')),
          });
          res.clearCookie(flowCookie(step2.state!), cookieOpts);
          const list = (title: string, ids: string[]) => `<h2>${escapeHtml(title)} (${ids.length})</h2>${ids.length ? `<ul>${ids.map((i) => `<li>${escapeHtml(i)}</li>`).join('')}</ul>` : ''}`;
          sendPage(
            res,
            200,
            'Microsoft admin consent',
            `<h1>Organisation connected</h1><p data-directory-tenant="${escapeHtml(directoryTenant)}">Calendars of your Microsoft 365 organisation now drive presence.</p>${list('Connected', result.connected)}${list('Not found in Microsoft Entra ID', result.notFound)}${list('Skipped (no e-mail, or already connected)', result.skipped)}`,
            pageOpts,
          );
        });
      },
    }),
  ];
}
