import type { Response } from 'express';
import type { CalendarProvider } from '../../shared/domain/calendar.js';
import { AppError } from '../../shared/errors/errors.js';
import type { ConnectionView } from './connection-view.js';

/** Every interpolated value goes through here: pages show names and addresses people typed. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const PROVIDER_NAME: Record<CalendarProvider, string> = { microsoft: 'Microsoft 365 / Outlook', google: 'Google Calendar' };

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
section{border:1px solid #ccc;border-radius:8px;padding:1rem;margin:1rem 0}
.broken{border-color:#b00020;background:#fff4f4}.ok{border-color:#2e7d32}
button{font:inherit;padding:.4rem 1rem;border-radius:6px;border:1px solid #555;background:#fff;cursor:pointer}
button.primary{background:#1b5e20;color:#fff;border-color:#1b5e20}small{color:#555}code{background:#f2f2f2;padding:0 .2rem}`;

export interface PageOptions {
  /** Origins a form may send the browser to (the providers' sign-in pages). */
  formTargets: string[];
}

/**
 * A small page with no external assets: a strict CSP, no referrer (the connect link is a credential and
 * must not leak to the provider in `Referer`), never cached, never framed.
 */
export function sendPage(res: Response, status: number, title: string, body: string, opts: PageOptions): void {
  res.status(status);
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Content-Security-Policy', `default-src 'none'; style-src 'unsafe-inline'; form-action 'self' ${opts.formTargets.join(' ')}; frame-ancestors 'none'; base-uri 'none'`);
  res.send(`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="referrer" content="no-referrer"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body><main>${body}</main></body></html>`);
}

/**
 * An error as a page, with the same machine-readable code the JSON API would give, and the way back to
 * the person's page when it is known (a declined or failed consent must not strand them).
 */
export function sendErrorPage(res: Response, err: unknown, opts: PageOptions & { back?: string }): void {
  const e = err instanceof AppError ? err : new AppError(500, 'internal_error', 'something went wrong; it has been logged');
  const back = opts.back ? `<p><a href="${escapeHtml(opts.back)}">Back to your calendar page</a></p>` : '';
  if (e.retryAfterSec !== undefined) res.setHeader('Retry-After', String(e.retryAfterSec));
  sendPage(
    res,
    e.status,
    'Calendar connection: something went wrong',
    `<h1>Calendar connection</h1><p role="alert" data-error-code="${escapeHtml(e.code)}">${escapeHtml(e.message)}</p><p><small>Error code: <code>${escapeHtml(e.code)}</code></small></p>${back}`,
    opts,
  );
}

const when = (isoTime: string | undefined) => (isoTime ? `<time datetime="${escapeHtml(isoTime)}">${escapeHtml(isoTime.replace('T', ' ').replace(/\.\d+Z$/, ' UTC'))}</time>` : '');

function syncLine(v: ConnectionView): string {
  switch (v.sync.state) {
    case 'ok':
      return `In sync; last read ${when(v.sync.lastSyncAt)}.`;
    case 'pending':
      return 'Connected; the first sync is on its way.';
    case 'error':
      return `The last sync failed (${escapeHtml(v.sync.lastError?.message ?? 'unknown error')}); it is retried automatically.`;
    case 'broken':
      return 'Access to this calendar was revoked or has expired, so it no longer drives your status.';
  }
}

/** The person's page: each provider, connected account, sync status, and what they can do. */
export function statusPage(p: { linkPath: string; personName: string; providers: CalendarProvider[]; connections: ConnectionView[]; expiresAt: number; notice?: string }): string {
  const cards = p.providers.map((provider) => {
    const v = p.connections.find((c) => c.provider === provider);
    const name = PROVIDER_NAME[provider];
    const start = (label: string, primary: boolean) =>
      `<form method="post" action="${escapeHtml(`${p.linkPath}/${provider}`)}"><button type="submit"${primary ? ' class="primary"' : ''}>${escapeHtml(label)}</button></form>`;
    if (!v) return `<section data-provider="${provider}" data-status="not-connected"><h2>${escapeHtml(name)}</h2><p>Not connected.</p>${start(`Connect ${name}`, true)}</section>`;
    const account = escapeHtml(v.account.email ?? v.account.name ?? v.account.id);
    // Button names say which calendar: with both connected, two bare "Disconnect" buttons are ambiguous to a screen reader.
    const disconnect = `<form method="post" action="${escapeHtml(`${p.linkPath}/${provider}/disconnect`)}"><button type="submit">Disconnect ${escapeHtml(name)}</button></form>`;
    if (v.status === 'broken') {
      return `<section class="broken" data-provider="${provider}" data-status="broken"><h2>${escapeHtml(name)}</h2><p>Connected as <strong>${account}</strong>, but <strong>the connection is broken</strong>. ${syncLine(v)}</p><p>Please connect again to resume.</p>${start(`Reconnect ${name}`, true)}${v.mode === 'delegated' ? disconnect : ''}</section>`;
    }
    const byAdmin = v.mode === 'application' ? '<p><small>Connected by your administrator for your whole organisation.</small></p>' : '';
    return `<section class="ok" data-provider="${provider}" data-status="connected" data-sync="${v.sync.state}"><h2>${escapeHtml(name)}</h2><p>Connected as <strong>${account}</strong>.</p><p>${syncLine(v)}</p>${byAdmin}${v.mode === 'delegated' ? disconnect : ''}</section>`;
  });
  const notice = p.notice ? `<p role="status">${escapeHtml(p.notice)}</p>` : '';
  return `<h1>Your calendar and your phone status</h1>
<p>Hello ${escapeHtml(p.personName)}. When your calendar is connected, your status follows your meetings: you show as in a meeting while one runs, and calls are routed accordingly.</p>
<p><small>Only the start, end and kind of your events are read and kept — never titles, attendees, locations or descriptions.</small></p>
${notice}${cards.join('\n')}
<p><small>This link is personal and works until ${when(new Date(p.expiresAt).toISOString())}.</small></p>`;
}
