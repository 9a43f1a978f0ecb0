import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir, removeTempDir, spawnManaged } from './child-group.js';
import { requireBinary } from './components.js';
import { freePort, isListening } from './ports.js';
import { dialogInfo, type DialogState } from './sip-bodies.js';
import { SipTraceReader, type SipMessage } from './sip-trace.js';

export type { SipMessage } from './sip-trace.js';

/** Scenario files kept beside this module. */
export const SCENARIO_DIR = fileURLToPath(new URL('./sipp/', import.meta.url));

export type Transport = 'udp' | 'tcp';

/** Where SIP requests go: a Kamailio from startKamailio() fits. */
export interface SipTarget {
  host: string;
  port: number;
  /** Domain of presentity AORs (sip:user@domain). */
  domain: string;
}

export interface SipCredentials {
  user: string;
  password: string;
}

/** A presence server that takes authenticated PUBLISH: a RunningKamailio fits. */
export interface PresenceServer extends SipTarget {
  credentials: SipCredentials;
}

export interface SippOptions {
  /** File name in test/support/sipp/, or a path. */
  scenario: string;
  /** Omit for server mode (SIPp waits for the first request). */
  remote?: { host: string; port: number };
  /** Local SIP port; default a free one. */
  localPort?: number;
  transport?: Transport;
  /** Scenario keywords: -key name value, used as [name]. */
  keys?: Record<string, string | number>;
  /** Digest credentials (-au/-ap) and the digest uri (-auth_uri; default the remote ip:port). */
  auth?: SipCredentials & { uri?: string };
  /** Calls to run (-m). Default 1. */
  calls?: number;
  /** Call rate per second (-r). Default 1000 for a single call: SIPp's own 10/s delays even the first call by ~100 ms. */
  rate?: number;
  /** Call-ID of call 1 (-cid_str); SIPp matches incoming messages to calls by it. */
  callId?: string;
  /** Per-message receive timeout (-recv_timeout): a missing answer fails the call. */
  recvTimeoutMs?: number;
  /** Duration of <pause/> without milliseconds (-d). */
  pauseMs?: number;
  extraArgs?: string[];
  /** The harness SIGKILLs SIPp after this long (its own -timeout does not end a waiting call). Default 15 s. */
  timeoutMs?: number;
  /** Log messages (-trace_msg) for messages()/waitForMessage(). Default true; turn off for load runs. */
  trace?: boolean;
}

export interface SippResult {
  /** SIPp's exit code: 0 all calls OK, 1 some failed, 99 none ran, 255/254 fatal; or a signal name. */
  exitCode: number | string;
  timedOut: boolean;
  messages: SipMessage[];
  /** SIPp's screen output and the contents of its error log. */
  output: string[];
  durationMs: number;
}

export interface SippProcess {
  readonly pid: number;
  readonly localPort: number;
  readonly callId: string;
  readonly running: boolean;
  /** Messages SIPp has sent and received so far. */
  messages(): SipMessage[];
  /** Resolves with the first message (seen so far or later) that matches. */
  waitForMessage(pred: (m: SipMessage) => boolean, timeoutMs?: number): Promise<SipMessage>;
  readonly done: Promise<SippResult>;
  /** SIGTERM, then SIGKILL. */
  stop(): Promise<SippResult>;
}

const POLL_MS = 20;

/** Starts SIPp and returns while it runs. */
export async function spawnSipp(opts: SippOptions): Promise<SippProcess> {
  const bin = requireBinary('sipp');
  const localPort = opts.localPort ?? (await freePort());
  const dir = makeTempDir('ph-sipp-');
  const traceFile = join(dir, 'messages.log');
  const errorFile = join(dir, 'errors.log');
  const callId = opts.callId ?? `ph-${randomBytes(6).toString('hex')}`;
  const scenario = isAbsolute(opts.scenario) ? opts.scenario : join(SCENARIO_DIR, opts.scenario);
  const args = [
    ...(opts.remote ? [`${opts.remote.host}:${opts.remote.port}`] : []),
    '-sf', scenario,
    '-m', String(opts.calls ?? 1),
    ...(opts.rate !== undefined ? ['-r', String(opts.rate)] : (opts.calls ?? 1) === 1 ? ['-r', '1000'] : []),
    '-i', '127.0.0.1',
    '-p', String(localPort),
    '-t', opts.transport === 'tcp' ? 't1' : 'u1',
    // Keep every socket on loopback: the control and media sockets default to 0.0.0.0 / the host IP.
    '-ci', '127.0.0.1',
    '-mi', '127.0.0.1',
    '-nostdin',
    '-cid_str', opts.calls && opts.calls > 1 ? `${callId}-%u` : callId,
    ...(opts.trace === false ? [] : ['-trace_msg', '-message_file', traceFile]),
    '-trace_err', '-error_file', errorFile,
    ...(opts.recvTimeoutMs ? ['-recv_timeout', String(opts.recvTimeoutMs)] : []),
    ...(opts.pauseMs !== undefined ? ['-d', String(opts.pauseMs)] : []),
    ...(opts.auth ? ['-au', opts.auth.user, '-ap', opts.auth.password] : []),
    ...(opts.auth?.uri ? ['-auth_uri', opts.auth.uri] : []),
    ...Object.entries(opts.keys ?? {}).flatMap(([k, v]) => ['-key', k, String(v)]),
    ...(opts.extraArgs ?? []),
  ];
  const started = Date.now();
  const proc = spawnManaged(`sipp ${opts.scenario} :${localPort}`, bin, args, { cwd: dir });
  const reader = new SipTraceReader(traceFile);
  const messages: SipMessage[] = [];
  const waiters = new Set<() => void>();
  const poll = () => {
    const fresh = reader.poll();
    if (fresh.length === 0) return;
    messages.push(...fresh);
    for (const w of [...waiters]) w();
  };
  const ticker = setInterval(poll, POLL_MS);
  let timedOut = false;
  const deadline = setTimeout(() => {
    timedOut = true;
    void proc.kill();
  }, opts.timeoutMs ?? 15_000);

  const done = proc.exited.then((exitCode) => {
    clearInterval(ticker);
    clearTimeout(deadline);
    poll();
    for (const w of [...waiters]) w();
    let errors = '';
    try {
      errors = readFileSync(errorFile, 'utf8');
    } catch {
      /* no errors logged */
    }
    removeTempDir(dir);
    return {
      exitCode,
      timedOut,
      messages: [...messages],
      output: [...proc.logs(), ...(errors ? ['--- SIPp error log ---', ...errors.split('\n')] : [])],
      durationMs: Date.now() - started,
    };
  });

  return {
    pid: proc.pid,
    localPort,
    callId,
    get running() {
      return proc.running;
    },
    messages: () => {
      poll();
      return [...messages];
    },
    waitForMessage(pred, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = messages.find(pred);
          if (hit) {
            cleanup();
            resolve(hit);
          } else if (!proc.running) {
            cleanup();
            reject(new Error(`sipp ${opts.scenario} exited before the awaited message\n${summarize(messages)}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`sipp ${opts.scenario}: no matching message within ${timeoutMs} ms\n${summarize(messages)}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        poll();
        check();
      });
    },
    done,
    async stop() {
      await proc.stop({ graceMs: 2000 });
      return done;
    },
  };
}

/**
 * Runs SIPp to completion. A fatal exit before any message (a lost race for an
 * automatically chosen port: exit 254) is retried on another port.
 */
export async function runSipp(opts: SippOptions): Promise<SippResult> {
  for (let attempt = 1; ; attempt++) {
    const result = await (await spawnSipp(opts)).done;
    const bindFailure = result.exitCode === 254 && result.messages.length === 0;
    if (!bindFailure || opts.localPort !== undefined || attempt >= 3) return result;
  }
}

/** Last response received (e.g. the final answer to a PUBLISH). */
export function finalResponse(messages: SipMessage[]): SipMessage | undefined {
  return messages.filter((m) => m.direction === 'received' && m.status !== undefined).at(-1);
}

/** One line per message, for assertion failures. */
export function summarize(messages: SipMessage[]): string {
  return messages.map((m) => `  ${m.direction === 'sent' ? '->' : '<-'} ${m.startLine}`).join('\n') || '  (no messages)';
}

// ---------------------------------------------------------------- PUBLISH

export type EventPackage = 'presence' | 'dialog';

const CONTENT_TYPE: Record<EventPackage, string> = {
  presence: 'application/pidf+xml',
  dialog: 'application/dialog-info+xml',
};

export interface PublishOptions {
  /** Presentity user part: publishes sip:<user>@<domain>. */
  user: string;
  body: string;
  event?: EventPackage;
  contentType?: string;
  /** Requested lifetime, seconds. Default 600. */
  expires?: number;
  transport?: Transport;
  /** Default: the server's account. */
  credentials?: SipCredentials;
}

export interface PublishResult extends SippResult {
  /** Final response status, undefined if none came. */
  status?: number;
  /** SIP-ETag of a 2xx. */
  etag?: string;
  /** Granted Expires of a 2xx. */
  expires?: number;
}

/** Initial PUBLISH (with digest auth). */
export async function publish(server: PresenceServer, opts: PublishOptions): Promise<PublishResult> {
  return runPublish(server, 'publish.xml', opts, {});
}

/** Modify (body), refresh (body '') or remove (expires 0, body '') an existing publication. */
export async function publishUpdate(
  server: PresenceServer,
  opts: Omit<PublishOptions, 'body'> & { etag: string; body?: string },
): Promise<PublishResult> {
  return runPublish(server, 'publish-update.xml', { ...opts, body: opts.body ?? '' }, { etag: opts.etag });
}

async function runPublish(server: PresenceServer, scenario: string, opts: PublishOptions, extraKeys: Record<string, string>): Promise<PublishResult> {
  const event = opts.event ?? 'presence';
  const credentials = opts.credentials ?? server.credentials;
  const result = await runSipp({
    scenario,
    remote: server,
    transport: opts.transport,
    recvTimeoutMs: 5000,
    auth: { ...credentials, uri: `sip:${opts.user}@${server.domain}` },
    keys: {
      user: opts.user,
      domain: server.domain,
      event,
      ctype: opts.contentType ?? CONTENT_TYPE[event],
      expires: opts.expires ?? 600,
      body: opts.body,
      ...extraKeys,
    },
  });
  const last = finalResponse(result.messages);
  const ok = last?.status !== undefined && last.status >= 200 && last.status < 300;
  const expires = ok ? Number(last.header('Expires')) : NaN;
  return {
    ...result,
    ...(last?.status !== undefined ? { status: last.status } : {}),
    ...(ok && last.header('SIP-ETag') ? { etag: last.header('SIP-ETag') } : {}),
    ...(Number.isFinite(expires) ? { expires } : {}),
  };
}

export interface DialogPublishOptions {
  user: string;
  /** One PUBLISH per state, in order: initial, then modifies with the previous etag. */
  states: DialogState[];
  dialogId?: string;
  direction?: 'initiator' | 'recipient';
  expires?: number;
  transport?: Transport;
}

/**
 * What a PBX's dialog module (e.g. pua_dialoginfo) sends while a call rings, is
 * answered and ends: dialog-info documents for one dialog, with version +1 each.
 * Stops at the first step that does not get a 2xx.
 */
export async function publishDialogStates(server: PresenceServer, opts: DialogPublishOptions): Promise<PublishResult[]> {
  const entity = `sip:${opts.user}@${server.domain}`;
  const dialogId = opts.dialogId ?? `d-${randomBytes(4).toString('hex')}`;
  const results: PublishResult[] = [];
  let etag: string | undefined;
  for (const [i, state] of opts.states.entries()) {
    const body = dialogInfo({ entity, version: i + 1, dialogs: [{ id: dialogId, state, direction: opts.direction }] });
    const common = { user: opts.user, event: 'dialog' as const, body, expires: opts.expires, transport: opts.transport };
    const result: PublishResult = etag ? await publishUpdate(server, { ...common, etag }) : await publish(server, common);
    results.push(result);
    if (!result.etag) break;
    etag = result.etag;
  }
  return results;
}

// ---------------------------------------------------------------- watcher

export interface WatcherOptions {
  /** Presentity user part: subscribes to sip:<user>@<domain>. */
  user: string;
  event?: EventPackage;
  /** Subscription lifetime, seconds. Default 300 (Kamailio's min_expires is 60). */
  expires?: number;
  transport?: Transport;
  /** Safety net: SIGKILL after this long. Default 120 s. */
  maxLifeMs?: number;
  /** How long to wait for the subscription to be confirmed. Default 5 s. */
  startTimeoutMs?: number;
  /** For a server that challenges SUBSCRIBE (startKamailio({ subscribeAuth: true })). */
  credentials?: SipCredentials;
}

export interface Watcher {
  readonly localPort: number;
  readonly callId: string;
  /** Distinct NOTIFYs from the server, oldest first (retransmissions dropped). */
  notifies(): SipMessage[];
  /** Their non-empty bodies. */
  bodies(): string[];
  /** First NOTIFY (already received or upcoming) whose body matches. */
  waitFor(pred: (body: string, notify: SipMessage) => boolean, timeoutMs?: number): Promise<SipMessage>;
  /** Unsubscribes (Expires: 0) and ends SIPp; SIGKILL if that does not work out. */
  stop(): Promise<SippResult>;
}

const STOP_HEADER = 'X-Harness-Stop';

/**
 * A SIPp watcher subscribed to a presentity; resolves once the server answered
 * the SUBSCRIBE and sent its first NOTIFY, so a PUBLISH made afterwards is
 * guaranteed to be notified.
 */
export async function startWatcher(server: SipTarget, opts: WatcherOptions): Promise<Watcher> {
  const event = opts.event ?? 'presence';
  const transport = opts.transport ?? 'udp';
  const sipp = await spawnSipp({
    scenario: 'watcher.xml',
    remote: server,
    transport,
    timeoutMs: opts.maxLifeMs ?? 120_000,
    keys: { user: opts.user, domain: server.domain, event, accept: CONTENT_TYPE[event], expires: opts.expires ?? 300 },
    extraArgs: ['-aa'],
    ...(opts.credentials ? { auth: { ...opts.credentials, uri: `sip:${opts.user}@${server.domain}` } } : {}),
  });
  const isSubscribeOk = (m: SipMessage) => m.direction === 'received' && m.status === 200 && /SUBSCRIBE/.test(m.header('CSeq') ?? '');
  const notifies = () => {
    const seen = new Set<string>();
    return sipp.messages().filter((m) => {
      if (m.direction !== 'received' || m.method !== 'NOTIFY' || m.header(STOP_HEADER) !== undefined) return false;
      const key = m.header('CSeq') ?? m.raw;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  };
  const watcher: Watcher = {
    localPort: sipp.localPort,
    callId: sipp.callId,
    notifies,
    bodies: () => notifies().map((n) => n.body).filter((b) => b.trim() !== ''),
    waitFor(pred, timeoutMs = 5000) {
      return sipp.waitForMessage(
        (m) => m.direction === 'received' && m.method === 'NOTIFY' && m.header(STOP_HEADER) === undefined && pred(m.body, m),
        timeoutMs,
      );
    },
    async stop() {
      if (!sipp.running) return sipp.done;
      if (!sipp.messages().some(isSubscribeOk)) return sipp.stop();
      // Repeated: a stop NOTIFY that lands between two scenario steps is just auto-answered (-aa).
      const deadline = Date.now() + 3000;
      while (sipp.running && Date.now() < deadline) {
        await sendStop(sipp, transport, event).catch(() => {});
        await Promise.race([sipp.done, sleep(500)]);
      }
      return sipp.running ? sipp.stop() : sipp.done;
    },
  };
  try {
    const timeout = opts.startTimeoutMs ?? 5000;
    await sipp.waitForMessage(isSubscribeOk, timeout);
    await sipp.waitForMessage((m) => m.direction === 'received' && m.method === 'NOTIFY', timeout);
  } catch (err) {
    const result = await sipp.stop();
    throw new Error(`watcher for ${opts.user} did not get subscribed: ${(err as Error).message}\n${result.output.slice(-40).join('\n')}`);
  }
  return watcher;
}

/** An in-dialog NOTIFY with X-Harness-Stop: the watcher scenario then unsubscribes and ends. */
async function sendStop(sipp: SippProcess, transport: Transport, event: EventPackage): Promise<void> {
  const message = (viaPort: number, proto: string) =>
    [
      `NOTIFY sip:watcher@127.0.0.1:${sipp.localPort} SIP/2.0`,
      `Via: SIP/2.0/${proto} 127.0.0.1:${viaPort};branch=z9hG4bK-harness-${randomBytes(4).toString('hex')}`,
      'Max-Forwards: 70',
      'From: <sip:harness@127.0.0.1>;tag=harness',
      'To: <sip:watcher@127.0.0.1>;tag=watcher',
      `Call-ID: ${sipp.callId}`,
      'CSeq: 1 NOTIFY',
      `Event: ${event}`,
      'Subscription-State: active',
      `${STOP_HEADER}: 1`,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
  if (transport === 'udp') {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    const text = message(socket.address().port, 'UDP');
    await new Promise<void>((resolve, reject) => socket.send(text, sipp.localPort, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
    socket.close();
    return;
  }
  await new Promise<void>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: sipp.localPort }, () => {
      socket.end(message(socket.localPort ?? 0, 'TCP'), () => resolve());
    });
    socket.once('error', reject);
  });
}

// ---------------------------------------------------------------- calls

export interface UasOptions {
  port?: number;
  transport?: Transport;
  /** Calls to answer before exiting. Default 1. */
  calls?: number;
  /** Time between 180 and 200. Default 0. */
  ringMs?: number;
  /** Safety net: SIGKILL after this long. Default 60 s. */
  maxLifeMs?: number;
}

export interface Uas {
  readonly host: string;
  readonly port: number;
  /** Request-URI that reaches this phone. */
  uri(user?: string): string;
  messages(): SipMessage[];
  waitForMessage(pred: (m: SipMessage) => boolean, timeoutMs?: number): Promise<SipMessage>;
  /** Resolves when it has answered `calls` calls (or failed). */
  readonly done: Promise<SippResult>;
  stop(): Promise<SippResult>;
}

/** A SIPp phone that answers INVITEs (100, 180, 200) and BYEs; resolves once it listens. */
export async function startUas(opts: UasOptions = {}): Promise<Uas> {
  const transport = opts.transport ?? 'udp';
  const sipp = await spawnSipp({
    scenario: 'uas.xml',
    localPort: opts.port,
    transport,
    calls: opts.calls ?? 1,
    pauseMs: opts.ringMs ?? 0,
    timeoutMs: opts.maxLifeMs ?? 60_000,
  });
  const deadline = Date.now() + 5000;
  while (!isListening(sipp.localPort, transport)) {
    if (!sipp.running || Date.now() > deadline) {
      const result = await sipp.stop();
      throw new Error(`SIPp UAS did not listen on ${sipp.localPort}:\n${result.output.slice(-40).join('\n')}`);
    }
    await sleep(10);
  }
  return {
    host: '127.0.0.1',
    port: sipp.localPort,
    uri: (user = 'uas') => `sip:${user}@127.0.0.1:${sipp.localPort}${transport === 'tcp' ? ';transport=tcp' : ''}`,
    messages: sipp.messages,
    waitForMessage: sipp.waitForMessage,
    done: sipp.done,
    stop: sipp.stop,
  };
}

export interface CallOptions {
  /** User part of the Request-URI (sip:<callee>@host:port). */
  callee: string;
  /** From/To domain. Default example.test. */
  domain?: string;
  /** Time between ACK and BYE. Default 0. */
  talkMs?: number;
  transport?: Transport;
}

/** Places one call with SIPp (INVITE, ACK, BYE) and returns when it is over. */
export async function placeCall(target: { host: string; port: number }, opts: CallOptions): Promise<SippResult & { status?: number }> {
  const result = await runSipp({
    scenario: 'caller.xml',
    remote: target,
    transport: opts.transport,
    recvTimeoutMs: 10_000,
    pauseMs: opts.talkMs ?? 0,
    keys: { callee: opts.callee, domain: opts.domain ?? 'example.test' },
  });
  const answer = result.messages.find((m) => m.direction === 'received' && m.status !== undefined && m.status >= 200 && /INVITE/.test(m.header('CSeq') ?? ''));
  return { ...result, ...(answer?.status !== undefined ? { status: answer.status } : {}) };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
