import { randomBytes } from 'node:crypto';
import { selfSignedCertificate, type CertificateFiles } from './certificate.js';
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { makeTempDir, removeTempDir, spawnManaged, type ManagedProcess } from './child-group.js';
import { requireBinary } from './components.js';
import { freePort } from './ports.js';
import { seedAlice, type PbxKey, type TestHub } from './hub.js';
import type { PresenceServer, SipCredentials } from './sipp.js';

/** The presence server config kept in the project; see the comment at its top. */
export const KAMAILIO_CFG = fileURLToPath(new URL('../../kamailio/presence-server.cfg', import.meta.url));

export interface KamailioOptions {
  /** Loopback address to listen on. Default 127.0.0.1. */
  host?: string;
  /** UDP and TCP port. Default: a free one. */
  port?: number;
  /** Presence domain (sip:user@domain). Default example.test. */
  domain?: string;
  /** Digest realm. Default: the domain. */
  realm?: string;
  /** The account allowed to PUBLISH. Default hub / s3cret. */
  credentials?: SipCredentials;
  /** Challenge initial SUBSCRIBEs too (same account). Default false. */
  subscribeAuth?: boolean;
  /** SUBSCRIBE floor (423 below it). Default 60, as in the cfg. */
  minExpires?: number;
  /** Cap for PUBLISH and SUBSCRIBE Expires. Default 3600. */
  maxExpires?: number;
  /** Seconds between sweeps of expired publications. Default 10. */
  cleanPeriod?: number;
  /** Kamailio log level (2 info, 3 debug). Default 2. */
  debug?: number;
  /** Another config file taking the same defines. */
  cfg?: string;
  /** Extra environment for Kamailio (kamailio/routing-proxy.cfg reads the routing API's URL and key). */
  env?: Record<string, string>;
  /** Readiness timeout. Default 10 s. */
  startTimeoutMs?: number;
  /**
   * Shared memory in MB (-m). Default 64. Each transaction holds about 8 KB of it until tm's wait
   * timer (5 s) frees it, so load runs need about rate × 40 KB: 64 MB lasts to roughly 1,500 PUBLISH/s.
   */
  shmMb?: number;
  /**
   * Listen for TLS too, on another free port, with a throwaway self-signed certificate for the host
   * (subjectAltName IP:host). Needs the 'kamailio-tls' component. Default false.
   */
  tls?: boolean;
  /** With `tls`: this server certificate instead (e.g. one issued by a private CA). */
  certificate?: CertificateFiles;
}

/** Kamailio's TLS listener: its port and the PEM file of its certificate (the self-signed one is what a client must trust). */
export interface KamailioTls {
  port: number;
  certificate: string;
  /** The server over TLS, e.g. sips:127.0.0.1:5071. */
  uri: string;
}

export interface RunningKamailio extends PresenceServer {
  host: string;
  port: number;
  domain: string;
  realm: string;
  credentials: SipCredentials;
  /** The server itself, e.g. sip:127.0.0.1:5070 (a Request-URI or outbound proxy). */
  uri: string;
  /** Presentity AOR in this domain. */
  aor(user: string): string;
  /** With the `tls` option: the TLS listener. */
  readonly tls: KamailioTls | undefined;
  /** Main process id of the current run. */
  readonly pid: number;
  readonly running: boolean;
  /** Log tail of the current run (stderr, -E). */
  logs(): string[];
  /** Graceful stop (SIGTERM to the main process, which stops its workers). */
  stop(): Promise<void>;
  /** Stop, then start again on the same port. Memory-only state (publications, ETags, subscriptions) is lost. */
  restart(): Promise<void>;
  /** SIGKILL the main process and every worker, as a crash would. restart() brings it back. */
  kill(): Promise<void>;
}

/**
 * Inside a describe: one Kamailio for all its tests, restarted before each (publications of an earlier
 * test would still be aggregated for a presentity). Read `.kam` in the tests and their own hooks.
 */
export function kamailioPerTest(opts: KamailioOptions = {}): { readonly kam: RunningKamailio } {
  let kam: RunningKamailio | undefined;
  beforeAll(async () => {
    kam = await startKamailio(opts);
  });
  afterAll(async () => {
    await kam?.stop();
  });
  beforeEach(async () => {
    await kam!.restart();
  });
  return {
    get kam() {
      return kam!;
    },
  };
}

/** The tenant settings a test publishing to Kamailio needs: it listens on loopback, a private address. */
export const PRIVATE_TARGETS = { name: 'acme', settings: { allowPrivateTargets: true, wrapUpSeconds: 0 } };

/** Alice with a registered desk phone (available), in a tenant whose targets may be on loopback, where Kamailio listens; her PBX key. */
export async function seedAliceForKamailio(h: TestHub): Promise<PbxKey> {
  const key = await seedAlice(h);
  await h.put('/v1/tenant', PRIVATE_TARGETS).expect(200);
  await h.pbx([{ type: 'registered', device: 'alice-desk', at: h.clock.now() - 1000 }], key).expect(200);
  return key;
}

/** What `PUT /v1/targets/{id}` takes for a SIP target publishing to this Kamailio with its digest credentials. */
export function sipTargetOf(kam: RunningKamailio, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    kind: 'sip',
    name: 'Kamailio',
    server: `sip:${kam.host}:${kam.port}`,
    transport: 'udp',
    domain: kam.domain,
    username: kam.credentials.user,
    password: kam.credentials.password,
    expiresSec: 120,
    coalesceMs: 0,
    ...over,
  };
}

/**
 * Starts kamailio/presence-server.cfg in the foreground on a loopback port:
 * `kamailio -f <cfg> -DD -E -P <pid> -Y <rundir> -w <workdir> -A …`, in a fresh
 * temporary directory, and waits until it answers an OPTIONS over UDP.
 *
 * @example
 * const kam = await startKamailio();
 * const res = await publish(kam, { user: 'alice', body: pidf({ entity: kam.aor('alice') }) });
 * await kam.stop();
 */
export async function startKamailio(opts: KamailioOptions = {}): Promise<RunningKamailio> {
  const bin = requireBinary('kamailio');
  const host = opts.host ?? '127.0.0.1';
  if (!host.startsWith('127.')) throw new Error(`kamailio harness listens on loopback only, not ${host}`);
  const domain = opts.domain ?? 'example.test';
  const realm = opts.realm ?? domain;
  const credentials = opts.credentials ?? { user: 'hub', password: 's3cret' };
  const cfg = opts.cfg ?? KAMAILIO_CFG;
  const fixedPort = opts.port;
  let port = fixedPort ?? (await freePort(host));
  let tlsPort = opts.tls ? await freePort(host) : undefined;
  const certificate = opts.tls ? (opts.certificate ?? selfSignedCertificate(host)) : undefined;
  let proc: ManagedProcess | undefined;
  let dir: string | undefined;
  // Echoed in OPTIONS replies: proof that the instance we started answers, not
  // another one sharing the UDP port (Kamailio binds UDP with SO_REUSEADDR).
  const instance = randomBytes(8).toString('hex');

  const defines = (p: number): string[] => {
    const d: Record<string, string | number> = {
      PH_LISTEN_IP: host,
      PH_SIP_PORT: p,
      PH_DOMAIN: quoted(domain),
      PH_REALM: quoted(realm),
      PH_AUTH_USER: quoted(credentials.user),
      PH_AUTH_PASSWORD: quoted(credentials.password),
      PH_DEBUG: opts.debug ?? 2,
      PH_INSTANCE: quoted(instance),
      ...(opts.minExpires !== undefined ? { PH_MIN_EXPIRES: opts.minExpires } : {}),
      ...(opts.maxExpires !== undefined ? { PH_MAX_EXPIRES: opts.maxExpires } : {}),
      ...(opts.cleanPeriod !== undefined ? { PH_CLEAN_PERIOD: opts.cleanPeriod } : {}),
      ...(certificate && tlsPort ? { PH_TLS_PORT: tlsPort, PH_TLS_CERT: quoted(certificate.cert), PH_TLS_KEY: quoted(certificate.key) } : {}),
    };
    const args = Object.entries(d).flatMap(([k, v]) => ['-A', `${k}=${v}`]);
    return opts.subscribeAuth ? [...args, '-A', 'PH_SUBSCRIBE_AUTH'] : args;
  };

  async function startOnce(p: number): Promise<void> {
    dir = makeTempDir('ph-kamailio-');
    const args = ['-f', cfg, '-DD', '-E', '-P', join(dir, 'kamailio.pid'), '-Y', dir, '-w', dir, '-m', String(opts.shmMb ?? 64), ...defines(p)];
    const started = spawnManaged(`kamailio :${p}`, bin, args, opts.env ? { cwd: dir, env: { ...process.env, ...opts.env } } : { cwd: dir });
    proc = started;
    try {
      await waitUntilAnswering(host, p, instance, started, opts.startTimeoutMs ?? 10_000);
    } catch (err) {
      await started.kill();
      cleanDir();
      throw new Error(`kamailio did not start on ${host}:${p}: ${(err as Error).message}\n${started.logs().slice(-60).join('\n')}`);
    }
  }

  async function start(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await startOnce(port);
        return;
      } catch (err) {
        // Lost a race for a port we picked: try another. A fixed port (or restart) must stay.
        const bindRace = /Address already in use|bind/i.test((err as Error).message);
        if (fixedPort !== undefined || !bindRace || attempt >= 3) throw err;
        port = await freePort(host);
        if (tlsPort !== undefined) tlsPort = await freePort(host);
      }
    }
  }

  function cleanDir() {
    if (dir) removeTempDir(dir);
    dir = undefined;
  }

  async function stop(): Promise<void> {
    await proc?.stop({ graceMs: 5000 });
    cleanDir();
  }

  await start();
  // After the first start the port is fixed: restart() must come back on it.
  const restartOnSamePort = async () => {
    await stop();
    const deadline = Date.now() + 5000;
    for (;;) {
      try {
        await startOnce(port);
        return;
      } catch (err) {
        // A just-closed socket can linger briefly; keep trying the same port.
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };

  return {
    host,
    get port() {
      return port;
    },
    domain,
    realm,
    credentials,
    get uri() {
      return `sip:${host}:${port}`;
    },
    aor: (user) => `sip:${user}@${domain}`,
    get tls() {
      return certificate && tlsPort ? { port: tlsPort, certificate: certificate.cert, uri: `sips:${host}:${tlsPort}` } : undefined;
    },
    get pid() {
      return proc!.pid;
    },
    get running() {
      return proc?.running ?? false;
    },
    logs: () => proc?.logs() ?? [],
    stop,
    restart: restartOnSamePort,
    async kill() {
      await proc?.kill();
      cleanDir();
    },
  };
}

/** A define's string value keeps its quotes (-A 'X="v"'); refuse what would break out of them. */
function quoted(value: string): string {
  if (/["\\\n]/.test(value)) throw new Error(`unsupported character in kamailio define value: ${value}`);
  return `"${value}"`;
}

/**
 * Readiness: an OPTIONS over UDP is answered by this very instance (its
 * X-PH-Instance token). The cfg answers OPTIONS once its workers run; TCP is
 * bound by then (sockets are opened before forking, a failed bind exits).
 */
async function waitUntilAnswering(host: string, port: number, instance: string, proc: ManagedProcess, timeoutMs: number): Promise<void> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  const local = socket.address().port;
  const callId = `probe-${randomBytes(6).toString('hex')}`;
  try {
    await new Promise<void>((resolve, reject) => {
      let seq = 0;
      const send = () => {
        seq++;
        const probe = [
          `OPTIONS sip:${host}:${port} SIP/2.0`,
          `Via: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bK-probe-${seq}-${randomBytes(4).toString('hex')};rport`,
          'Max-Forwards: 70',
          `From: <sip:probe@127.0.0.1>;tag=probe`,
          `To: <sip:${host}:${port}>`,
          `Call-ID: ${callId}`,
          `CSeq: ${seq} OPTIONS`,
          'Content-Length: 0',
          '',
          '',
        ].join('\r\n');
        socket.send(probe, port, host);
      };
      const timer = setInterval(send, 100);
      const deadline = setTimeout(() => finish(new Error(`no answer to OPTIONS within ${timeoutMs} ms`)), timeoutMs);
      const onExit = (how: number | string) => finish(new Error(`exited (${how}) while starting`));
      void proc.exited.then(onExit);
      socket.on('message', (msg) => {
        const text = msg.toString('latin1');
        if (text.startsWith('SIP/2.0 ') && new RegExp(`^X-PH-Instance: ${instance}\r?$`, 'mi').test(text)) finish();
      });
      let finished = false;
      function finish(err?: Error) {
        if (finished) return;
        finished = true;
        clearInterval(timer);
        clearTimeout(deadline);
        if (err) reject(err);
        else resolve();
      }
      send();
    });
  } finally {
    socket.close();
  }
}
