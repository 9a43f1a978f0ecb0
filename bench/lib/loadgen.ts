/**
 * A keep-alive HTTP load generator for the PBX batch endpoint, run as a child process (see
 * `loadgen-client.ts`) so it does not share the event loop of the server it measures.
 *
 * Batch k carries `batchSize` events for one group of people (group k mod G, G = people / batchSize), so
 * every person appears once every G batches. The events of a round cycle through a desk phone's life:
 * `ringing` → `answered` → `hangup` → `registered` (with a new contact), so every applied event changes
 * the person's state. Each batch is built and signed when it is sent: `at` is the send instant (strictly
 * increasing) and the signature timestamp is the current second, so no two bodies are alike and none is
 * a replay. The `registered` events carry the batch number in the contact (`sip:d<i>@10.1.0.1;b=<k>`), which
 * the SSE client finds in the `presence` event to measure request-sent → event-received latency.
 */
import { Agent, request, type IncomingMessage } from 'node:http';
import { signPbxRequest } from '../../services/api/auth.js';

export interface LoadOptions {
  url: string;
  keyId: string;
  secret: string;
  /** Opens `GET /v1/stream` with this bearer key and measures latency to the matching `presence` event. */
  streamKey?: string;
  people: number;
  batchSize: number;
  connections: number;
  /** Batches per second (open loop); absent means as fast as the connections allow. */
  rate?: number;
  warmupMs: number;
  durationMs: number;
  /** Batch numbering continues across runs against the same server. */
  seqStart: number;
  /** Device numbers start here (d<offset + i>); default 0. */
  deviceOffset?: number;
  /** Return when each batch was sent (epoch ms, `performance.timeOrigin` based, comparable across processes). */
  recordSends?: boolean;
}

export interface Quantiles {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface LoadResult {
  /** Batches answered inside the measured window, and the window. */
  batches: number;
  events: number;
  elapsedMs: number;
  status: Record<string, number>;
  /** Events, from the hub's answers (0 against the bare server). */
  applied: number;
  ignored: number;
  rejected: number;
  /** HTTP request → response, ms. */
  http: Quantiles;
  /** Request sent → matching SSE `presence` event received, ms (markers sent in the window). */
  sse?: Quantiles;
  /** CPU time the generator used in the window, ms (user + system). */
  cpuMs: number;
  /** Batches not sent in rate mode because every connection was busy. */
  skipped: number;
  seqEnd: number;
  errors: string[];
  /** With `recordSends`: batch number and send instant (epoch ms), in pairs, for every batch sent. */
  sends?: number[];
}

const TYPES = ['ringing', 'answered', 'hangup', 'registered'] as const;

function quantilesOf(xs: number[]): Quantiles {
  const s = Float64Array.from(xs).sort();
  const q = (p: number) => (s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!);
  return { count: s.length, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: s.length ? s[s.length - 1]! : NaN };
}

class Generator {
  private lastAt = 0;
  private readonly agent: Agent;
  private readonly host: string;
  private readonly port: number;
  private readonly groups: number;
  /** k → performance.now() when batch k (a marker batch) was sent. */
  private readonly sentAt = new Map<number, number>();
  private readonly lastMarker: Int32Array;
  private sseSamples: number[] | undefined;
  private sseReq: ReturnType<typeof request> | undefined;
  private sends: number[] | undefined;

  constructor(private o: LoadOptions) {
    const u = new URL(o.url);
    this.host = u.hostname;
    this.port = Number(u.port);
    this.agent = new Agent({ keepAlive: true, maxSockets: o.connections, maxFreeSockets: o.connections });
    this.groups = Math.max(1, Math.floor(o.people / o.batchSize));
    this.lastMarker = new Int32Array(o.people).fill(-1);
  }

  body(k: number): { body: string; marker: boolean } {
    const { batchSize } = this.o;
    const group = k % this.groups;
    const step = Math.floor(k / this.groups) % TYPES.length;
    const type = TYPES[step]!;
    const at = Math.max(Date.now(), this.lastAt + 1);
    this.lastAt = at;
    let s = '{"events":[';
    for (let j = 0; j < batchSize; j++) {
      const i = (this.o.deviceOffset ?? 0) + group * batchSize + j;
      if (j > 0) s += ',';
      s += `{"type":"${type}","device":"d${i}","at":${at}`;
      if (type === 'registered') s += `,"expiresSec":3600,"contact":"sip:d${i}@10.1.0.1;b=${k}"`;
      s += '}';
    }
    return { body: `${s}]}`, marker: type === 'registered' };
  }

  send(k: number): Promise<{ status: number; body: string; ms: number }> {
    const { body, marker } = this.body(k);
    const ts = String(Math.floor(Date.now() / 1000));
    const headers = {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'x-presence-key-id': this.o.keyId,
      'x-presence-timestamp': ts,
      'x-presence-signature': signPbxRequest(this.o.secret, ts, body),
    };
    const t0 = performance.now();
    if (marker) this.sentAt.set(k, t0);
    this.sends?.push(k, performance.timeOrigin + t0);
    return new Promise((resolve, reject) => {
      const req = request({ agent: this.agent, host: this.host, port: this.port, method: 'POST', path: '/v1/pbx/events', headers }, (res: IncomingMessage) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, ms: performance.now() - t0 }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Opens the SSE stream and resolves once the first (snapshot) event is in. */
  openStream(key: string): Promise<void> {
    const re = /sip:d(\d+)@10\.1\.0\.1;b=(\d+)/;
    return new Promise((resolve, reject) => {
      let first = true;
      this.sseReq = request(
        { host: this.host, port: this.port, path: '/v1/stream', headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' }, agent: false },
        (res) => {
          if (res.statusCode !== 200) return reject(new Error(`stream answered ${res.statusCode}`));
          res.setEncoding('utf8');
          let buf = '';
          res.on('data', (chunk: string) => {
            const now = performance.now();
            buf += chunk;
            let end: number;
            while ((end = buf.indexOf('\n\n')) >= 0) {
              const block = buf.slice(0, end);
              buf = buf.slice(end + 2);
              if (first && block.includes('event: snapshot')) {
                first = false;
                resolve();
              }
              if (!block.includes('event: presence')) continue;
              const m = block.indexOf(';b=') >= 0 ? re.exec(block) : null;
              if (!m) continue;
              const i = Number(m[1]);
              const k = Number(m[2]);
              // The first event that shows this batch's contact is the one the registration caused.
              if (k <= this.lastMarker[i]!) continue;
              this.lastMarker[i] = k;
              const sent = this.sentAt.get(k);
              if (sent !== undefined && this.sseSamples) this.sseSamples.push(now - sent);
            }
          });
          res.on('error', () => undefined);
          // A stream cut off before its snapshot would otherwise leave the run waiting for ever.
          res.on('end', () => (first ? reject(new Error('stream ended before its snapshot')) : undefined));
        },
      );
      this.sseReq.on('error', (err) => (first ? reject(err) : undefined));
      this.sseReq.end();
    });
  }

  async run(options: LoadOptions): Promise<LoadResult> {
    this.o = options;
    const o = options;
    if (o.streamKey && !this.sseReq) await this.openStream(o.streamKey);
    this.sends = o.recordSends ? [] : undefined;
    const status: Record<string, number> = {};
    const errors: string[] = [];
    const httpMs: number[] = [];
    let k = o.seqStart;
    let applied = 0;
    let ignored = 0;
    let rejected = 0;
    let batches = 0;
    let skipped = 0;
    let inflight = 0;
    let measuring = false;
    let stopped = false;
    const start = performance.now();
    let windowStart = start + o.warmupMs;
    const windowEnd = windowStart + o.durationMs;
    let cpu0 = process.cpuUsage();

    const one = async () => {
      const seq = k++;
      inflight++;
      try {
        const r = await this.send(seq);
        const done = performance.now();
        if (!measuring || done > windowEnd) return;
        batches++;
        httpMs.push(r.ms);
        status[r.status] = (status[r.status] ?? 0) + 1;
        if (r.status === 200 && r.body.startsWith('{"received"')) {
          const a = JSON.parse(r.body) as { applied: number; ignored: number; rejected: unknown[] };
          applied += a.applied;
          ignored += a.ignored;
          rejected += a.rejected.length;
        } else if (r.status !== 200 && errors.length < 5) errors.push(`${r.status} ${r.body.slice(0, 200)}`);
      } catch (err) {
        if (errors.length < 5) errors.push(String(err));
      } finally {
        inflight--;
      }
    };

    const startWindow = () => {
      measuring = true;
      windowStart = performance.now();
      cpu0 = process.cpuUsage();
      this.sseSamples = [];
    };
    const warm = setTimeout(startWindow, o.warmupMs);
    const stop = new Promise<void>((resolve) =>
      setTimeout(() => {
        stopped = true;
        resolve();
      }, o.warmupMs + o.durationMs),
    );

    if (o.rate === undefined) {
      const loops = Array.from({ length: o.connections }, async () => {
        while (!stopped) await one();
      });
      await stop;
      await Promise.race([Promise.all(loops), new Promise((r) => setTimeout(r, 60_000))]);
    } else {
      const rate = o.rate;
      let sent = 0;
      const maxInflight = o.connections * 4;
      await new Promise<void>((resolve) => {
        const tick = () => {
          if (stopped) return resolve();
          const due = Math.floor(((performance.now() - start) * rate) / 1000) - sent;
          for (let i = 0; i < due; i++) {
            sent++;
            if (inflight >= maxInflight) {
              if (measuring) skipped++;
              continue;
            }
            void one();
          }
          setTimeout(tick, 1);
        };
        tick();
      });
      const deadline = performance.now() + 60_000;
      while (inflight > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    }
    clearTimeout(warm);
    const cpu = process.cpuUsage(cpu0);
    // Let the last SSE events arrive.
    await new Promise((r) => setTimeout(r, 500));
    const sse = this.sseSamples;
    this.sseSamples = undefined;
    const elapsedMs = Math.min(performance.now(), windowEnd) - windowStart;
    const result: LoadResult = {
      batches,
      events: batches * o.batchSize,
      elapsedMs,
      status,
      applied,
      ignored,
      rejected,
      http: quantilesOf(httpMs),
      cpuMs: (cpu.user + cpu.system) / 1000,
      skipped,
      seqEnd: k,
      errors,
    };
    if (sse) result.sse = quantilesOf(sse);
    if (this.sends) result.sends = this.sends;
    this.sends = undefined;
    this.sentAt.clear();
    return result;
  }

  close(): void {
    this.sseReq?.destroy();
    this.agent.destroy();
  }
}

let current: Generator | undefined;
let currentKey = '';

process.on('message', (msg: { type: 'run'; options: LoadOptions } | { type: 'exit' }) => {
  if (msg.type === 'exit') {
    current?.close();
    process.exit(0);
  }
  const o = msg.options;
  // One generator per server and stream, so the stream stays open across runs.
  const key = `${o.url} ${o.streamKey ?? ''} ${o.people} ${o.batchSize} ${o.connections}`;
  if (!current || key !== currentKey) {
    current?.close();
    current = new Generator(o);
    currentKey = key;
  }
  current.run(o).then(
    (r) => process.send!({ type: 'result', result: r }),
    (err: unknown) => process.send!({ type: 'error', error: String(err) }),
  );
});
process.on('disconnect', () => process.exit(0));
