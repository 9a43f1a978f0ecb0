import http from 'node:http';
import https from 'node:https';
import type { LookupAddress } from 'node:dns';
import { checkTargetHost, systemResolver, type Resolver } from './ssrf-guard.js';

export interface HttpResult {
  status: number;
  body: string;
}

export class DeliveryError extends Error {
  constructor(
    message: string,
    /** Whether trying again later can help (network errors, timeouts, any answer but a redirect). */
    readonly retryable: boolean,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

export interface HttpTargetClient {
  request(method: string, url: URL, headers: Record<string, string>, body?: string): Promise<HttpResult>;
  close(): void;
}

/**
 * An HTTP client for one push target. Every connection resolves the host through the SSRF guard (so a
 * DNS answer that changed since registration is checked again), redirects are never followed, and
 * connections are kept alive for throughput.
 */
export function createTargetClient(opts: { allowPrivate: boolean; timeoutMs: number; resolve?: Resolver }): HttpTargetClient {
  const resolve = opts.resolve ?? systemResolver;
  const lookup = (hostname: string, options: { all?: boolean }, cb: (err: Error | null, address: string | LookupAddress[], family?: number) => void) => {
    checkTargetHost(hostname, opts.allowPrivate, resolve)
      .then((addresses) => {
        if (options.all) cb(null, addresses);
        else cb(null, addresses[0]!.address, addresses[0]!.family);
      })
      .catch((err: Error) => cb(err, ''));
  };
  const agents = {
    http: new http.Agent({ keepAlive: true, maxSockets: 8, lookup } as http.AgentOptions),
    https: new https.Agent({ keepAlive: true, maxSockets: 8, lookup } as https.AgentOptions),
  };
  return {
    request(method, url, headers, body) {
      return new Promise((resolvePromise, reject) => {
        const isHttps = url.protocol === 'https:';
        const req = (isHttps ? https : http).request(
          url,
          { method, headers: body === undefined ? headers : { ...headers, 'Content-Length': String(Buffer.byteLength(body)) }, agent: isHttps ? agents.https : agents.http, timeout: opts.timeoutMs },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => {
              if (chunks.length < 64) chunks.push(c);
            });
            res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8').slice(0, 2000) }));
            res.on('error', (e) => reject(new DeliveryError(e.message, true)));
          },
        );
        req.on('timeout', () => req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)));
        req.on('error', (e: Error & { code?: string }) => {
          const blocked = e.name === 'AppError' || e.constructor.name === 'SsrfError';
          reject(new DeliveryError(e.message, !blocked));
        });
        req.end(body);
      });
    },
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}

/** Turns an HTTP answer into success or a `DeliveryError` that says whether to retry. */
export function expectSuccess(r: HttpResult, what: string): void {
  if (r.status >= 200 && r.status < 300) return;
  if (r.status >= 300 && r.status < 400) throw new DeliveryError(`${what} answered a redirect (${r.status}), which is never followed`, false, r.status);
  // A 4xx is retried too: a receiver refusing a signature it does not know yet (a rotated secret), a route not
  // deployed yet or an ARI password changed on the PBX gets fixed on the other side, where nothing tells us,
  // and a state dropped here would leave it on an older one until the person changes again.
  throw new DeliveryError(`${what} answered ${r.status}`, true, r.status);
}
