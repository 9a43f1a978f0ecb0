import type { StandInRequest } from './stand-in-requests.js';

/**
 * What each request to a stand-in was, in the words of the call-count table. Requests the person's
 * browser makes (the sign-in pages) are not the service's calls and come back undefined.
 */
export function graphCallKind(r: StandInRequest): string | undefined {
  if (r.path.endsWith('/oauth2/v2.0/authorize') || r.path.endsWith('/v2.0/adminconsent')) return undefined;
  if (r.path.endsWith('/oauth2/v2.0/token')) return `token (${r.grant ?? '?'})`;
  if (r.path === '/v1.0/subscriptions' && r.method === 'POST') return 'subscription create';
  if (r.path.startsWith('/v1.0/subscriptions/') && r.method === 'PATCH') return 'subscription renew';
  if (r.path.startsWith('/v1.0/subscriptions') && r.method === 'DELETE') return 'subscription delete';
  if (r.path.endsWith('/calendarView/delta')) return r.query.$deltatoken !== undefined ? 'delta (incremental)' : 'delta (full: window)';
  if (r.path === '/v1.0/$batch') return 'batch';
  return `${r.method} ${r.path}`;
}

export function googleCallKind(r: StandInRequest): string | undefined {
  if (r.path === '/o/oauth2/v2/auth') return undefined;
  if (r.path === '/token') return `token (${r.grant ?? '?'})`;
  if (r.path === '/revoke') return 'revoke';
  if (r.path.endsWith('/events/watch')) return 'watch';
  if (r.path === '/calendar/v3/channels/stop') return 'stop';
  if (r.path.endsWith('/events') && r.method === 'GET') return r.query.syncToken !== undefined ? 'list (incremental)' : 'list (full: window)';
  return `${r.method} ${r.path}`;
}

export const isTokenCall = (kind: string) => kind.startsWith('token');

/** Counts per kind for `requests[from, to)`. */
export function countKinds(requests: readonly StandInRequest[], from: number, to: number, kindOf: (r: StandInRequest) => string | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of requests.slice(from, to)) {
    const k = kindOf(r);
    if (k !== undefined) out.set(k, (out.get(k) ?? 0) + 1);
  }
  return out;
}

/** A Markdown table: one row per kind, one column per day, a total row without and with token calls. */
export function callTable(title: string, days: ReadonlyArray<Map<string, number>>): string {
  const kinds = [...new Set(days.flatMap((d) => [...d.keys()]))].sort((a, b) => Number(isTokenCall(a)) - Number(isTokenCall(b)) || a.localeCompare(b));
  const sum = (d: Map<string, number>, tokens: boolean) => [...d].filter(([k]) => tokens || !isTokenCall(k)).reduce((n, [, v]) => n + v, 0);
  const head = `| ${title} | ${days.map((_, i) => `day ${i + 1}`).join(' | ')} | mean |`;
  const rule = `|---|${days.map(() => '--:|').join('')}--:|`;
  const mean = (xs: number[]) => (xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(1);
  const row = (label: string, xs: number[]) => `| ${label} | ${xs.join(' | ')} | ${mean(xs)} |`;
  return [
    head,
    rule,
    ...kinds.map((k) => row(k, days.map((d) => d.get(k) ?? 0))),
    row('**API calls (target)**', days.map((d) => sum(d, false))),
    row('API + token calls', days.map((d) => sum(d, true))),
  ].join('\n');
}

export function apiCalls(day: Map<string, number>): number {
  return [...day].filter(([k]) => !isTokenCall(k)).reduce((n, [, v]) => n + v, 0);
}
