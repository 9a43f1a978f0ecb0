import type { Response } from 'express';
import { route, type AnyRoute } from '../api/route.js';
import { DASHBOARD_CSS, DASHBOARD_HTML } from './page.js';
import { DASHBOARD_JS } from './client-script.js';
import { QUEUE_PANEL_JS } from './queue-script.js';

/**
 * The page holds an API key in session storage and sends it as a header, never in a URL: scripts and
 * styles from this origin only, requests to this origin only, no framing, no referrer.
 */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

function send(res: Response, type: string, body: string): undefined {
  res.status(200);
  res.setHeader('Content-Type', type);
  res.setHeader('Cache-Control', 'no-cache');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Content-Security-Policy', CSP);
  res.send(body);
  return undefined;
}

/** The supervisor dashboard: a static page that follows `GET /v1/stream` with the key it is given. */
export function dashboardRoutes(): AnyRoute[] {
  const asset = (path: string, summary: string, type: string, body: string): AnyRoute =>
    route({ method: 'get', path, summary, tag: 'dashboard', auth: 'none', responses: { 200: type }, produces: type, handle: async ({ res }) => send(res, type, body) });
  return [
    asset('/dashboard', "The supervisor dashboard: a team's live presence, what each person is doing and until when, who can take a call (sign in with an API key)", 'text/html; charset=utf-8', DASHBOARD_HTML),
    asset('/dashboard/app.js', "The dashboard's script", 'text/javascript; charset=utf-8', DASHBOARD_JS),
    asset('/dashboard/queue.js', "The dashboard's queue panel: who a call to a group would ring now", 'text/javascript; charset=utf-8', QUEUE_PANEL_JS),
    asset('/dashboard/style.css', "The dashboard's style sheet", 'text/css; charset=utf-8', DASHBOARD_CSS),
  ];
}
