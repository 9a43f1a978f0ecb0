import { Client, GraphError, type Context, type Middleware } from '@microsoft/microsoft-graph-client';
import type { Clock } from '../../../shared/clock/clock.js';
import { ProviderError, RateLimitedError, SyncStateGoneError, answerError } from '../../calendars/errors.js';
import type { KeyedLimiter } from '../../calendars/limiter.js';
import { sleep } from '../../../shared/clock/sleep.js';
import { backoffMs, retryAfterMs } from '../../calendars/retry.js';
import { batchResponseSchema } from './schema.js';

/** How a request gets its bearer token, and a fresh one after a 401. */
export interface GraphAuth {
  token(): Promise<string>;
  rejected(token: string): Promise<string>;
}

export interface GraphClientDeps {
  graphBaseUrl: string;
  timeoutMs: number;
  clock: Clock;
  random: () => number;
  /** At most 4 concurrent requests per mailbox (protocols §1.6). */
  limiter: KeyedLimiter;
}

const VERSION = 'v1.0';
/** Attempts per request before the job gives up and is retried later as a whole. */
const MAX_ATTEMPTS = 5;
/** `$batch` takes at most 20 requests (protocols §1.6). */
export const BATCH_MAX = 20;

/** Sends with the bearer token and a timeout; nothing else (Graph's own retry handler would sleep on real timers). */
class TokenFetch implements Middleware {
  constructor(
    private readonly token: string,
    private readonly timeoutMs: number,
  ) {}

  async execute(context: Context): Promise<void> {
    const options = context.options ?? {};
    options.headers = { ...(options.headers as Record<string, string> | undefined), Authorization: `Bearer ${this.token}` };
    context.response = await fetch(context.request, { ...(options as RequestInit), signal: AbortSignal.timeout(this.timeoutMs), redirect: 'error' });
  }
}

export type Method = 'get' | 'post' | 'patch' | 'delete';

export interface BatchItem {
  id: string;
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  url: string;
  body?: unknown;
}

/**
 * Microsoft Graph through `@microsoft/microsoft-graph-client`, with what the service needs around it:
 * the base URL of any cloud, links followed only on that base (a token never leaves for another host),
 * 401 → refresh and retry once, 429/503 → wait `Retry-After` on the injected clock (exponential
 * backoff without it), and at most 4 requests in flight per mailbox.
 */
export class GraphClient {
  constructor(private readonly deps: GraphClientDeps) {}

  /** A path for the client: a relative path as is; an absolute link (`nextLink`, `deltaLink`) only on our Graph base. */
  relative(pathOrLink: string): string {
    if (!/^https?:\/\//i.test(pathOrLink)) return pathOrLink;
    const prefix = `${this.deps.graphBaseUrl}/${VERSION}/`;
    if (!pathOrLink.startsWith(prefix)) throw new ProviderError('microsoft', 0, 'foreign_link', 'Graph returned a link outside the configured Graph base URL', false);
    return pathOrLink.slice(prefix.length);
  }

  private async send<T>(token: string, method: Method, path: string, body: unknown, headers: Record<string, string>): Promise<T> {
    const client = Client.initWithMiddleware({
      baseUrl: this.deps.graphBaseUrl,
      defaultVersion: VERSION,
      middleware: new TokenFetch(token, this.deps.timeoutMs),
    });
    const req = client.api(path).headers(headers);
    switch (method) {
      case 'get':
        return (await req.get()) as T;
      case 'post':
        return (await req.post(body)) as T;
      case 'patch':
        return (await req.patch(body)) as T;
      case 'delete':
        return (await req.delete()) as T;
    }
  }

  /** Our error for a Graph failure. */
  classify(err: unknown): Error {
    if (!(err instanceof GraphError)) {
      const e = err as Error;
      return new ProviderError('microsoft', 0, 'network_error', `Graph unreachable: ${e?.message ?? String(err)}`, true);
    }
    const status = err.statusCode;
    const code = err.code ?? `http_${status}`;
    if (status === 410 || code === 'syncStateNotFound' || code === 'SyncStateNotFound' || code === 'resyncRequired') return new SyncStateGoneError('microsoft', status, code);
    if (status === 429 || status === 503 || status === 504) {
      const header = err.headers?.get('Retry-After');
      const wait = retryAfterMs(header, this.deps.clock.now());
      return new RateLimitedError('microsoft', status, code, wait ?? -1, wait !== undefined);
    }
    return answerError('microsoft', status, code, 'Graph', err.message);
  }

  /** One Graph request for one mailbox, with the retries described above. */
  async request<T>(mailbox: string, auth: GraphAuth, method: Method, pathOrLink: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const path = this.relative(pathOrLink);
    let token = await auth.token();
    let refreshed = false;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.deps.limiter.run(mailbox, () => this.send<T>(token, method, path, body, headers));
      } catch (raw) {
        const err = this.classify(raw);
        if (err instanceof ProviderError && err.status === 401 && !refreshed) {
          token = await auth.rejected(token);
          refreshed = true;
          continue;
        }
        if (err instanceof ProviderError && err.transient && !(err instanceof SyncStateGoneError) && attempt + 1 < MAX_ATTEMPTS) {
          const wait = err instanceof RateLimitedError && err.retryAfterMs >= 0 ? err.retryAfterMs : backoffMs(attempt, this.deps.random);
          await sleep(this.deps.clock, wait);
          continue;
        }
        if (err instanceof RateLimitedError && err.retryAfterMs < 0) throw new RateLimitedError('microsoft', err.status, err.code, backoffMs(attempt, this.deps.random), false);
        throw err;
      }
    }
  }

  /**
   * `POST /$batch` for up to 20 requests. Each inner request is throttled on its own, so inner 429s are
   * sent again (alone with the others that failed) after their `Retry-After`.
   */
  async batch(mailbox: string, auth: GraphAuth, items: readonly BatchItem[]): Promise<Map<string, { status: number; body: unknown }>> {
    if (items.length > BATCH_MAX) throw new RangeError(`a Graph batch takes at most ${BATCH_MAX} requests`);
    const out = new Map<string, { status: number; body: unknown }>();
    let pending = [...items];
    for (let attempt = 0; pending.length > 0; attempt++) {
      const raw = await this.request<unknown>(mailbox, auth, 'post', '$batch', {
        requests: pending.map((i) => ({ id: i.id, method: i.method, url: `/${i.url.replace(/^\//, '')}`, ...(i.body !== undefined ? { body: i.body, headers: { 'Content-Type': 'application/json' } } : {}) })),
      });
      const parsed = batchResponseSchema.safeParse(raw);
      if (!parsed.success) throw new ProviderError('microsoft', 200, 'invalid_batch_response', 'Graph $batch answered without responses', true);
      let wait = 0;
      const again: BatchItem[] = [];
      for (const r of parsed.data.responses) {
        const item = pending.find((i) => i.id === r.id);
        if (!item) continue;
        if ((r.status === 429 || r.status === 503) && attempt + 1 < MAX_ATTEMPTS) {
          const header = Object.entries(r.headers ?? {}).find(([k]) => k.toLowerCase() === 'retry-after')?.[1];
          wait = Math.max(wait, retryAfterMs(header, this.deps.clock.now()) ?? backoffMs(attempt, this.deps.random));
          again.push(item);
        } else out.set(r.id, { status: r.status, body: r.body });
      }
      pending = again;
      if (pending.length > 0) await sleep(this.deps.clock, wait);
    }
    return out;
  }
}
