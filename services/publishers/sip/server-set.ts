import type { Clock } from '../../../shared/clock/clock.js';
import { formatHostPort, serverKey, type Destination, type ServerRoute } from '../../../shared/sip/transport.js';
import { keepForMs, MIN_TTL_MS } from '../dns-cache.js';
import { orderSrv, type SrvRecord, type SrvResolver } from './srv.js';

/** How a SIP target's servers are found by DNS SRV: the lookup, and the draw among servers of one priority. */
export interface SrvLocation {
  lookup: SrvResolver;
  /** Uniform in [0, 1) (RFC 2782's weighted draw). */
  random: () => number;
}

/** After a fail-over, more preferred servers are asked whether they answer again at most this often. */
export const RETURN_CHECK_MS = 30_000;

interface Server {
  destination: Destination;
  priority: number;
  weight: number;
}

export interface ServerMove {
  at: number;
  from: string;
  to: string;
  because: string;
}

/** What a SIP target's status says of where it publishes. */
export interface ServerSetStatus {
  /** The SRV name the servers were found by; absent: the URI's host and port, as they are. */
  srv?: string;
  /** In the order they are tried. */
  servers: Array<{ host: string; port: number; priority?: number; weight?: number }>;
  publishingTo: string;
  /** The last time requests moved to another server, and why. */
  lastMove?: ServerMove;
}

const canonical = (records: readonly SrvRecord[]): string =>
  records
    .map((r) => `${r.priority} ${r.weight} ${r.port} ${r.name}`)
    .sort()
    .join('\n');

/**
 * The servers of one SIP target in the order requests try them (RFC 3263 §4.2, §4.3): a host name with
 * no port is looked up as SRV (`_sip._udp.…`, `_sip._tcp.…`, `_sips._tcp.…`; the transport is given,
 * so no NAPTR, §4.1), ordered by priority and weight (RFC 2782); without SRV records, its A/AAAA records
 * on the default port. Requests go to one server at a time; a timeout, transport error or 503 there moves
 * them all to the next (past the last, back to the first, where they start again after their backoff).
 * When the SRV set is looked up again after its TTL and a more preferred server than the one in use
 * answers an OPTIONS, requests go back to it. Every move is told (`onMove`) so publications follow at once.
 */
export class ServerSet implements ServerRoute {
  private servers: Server[];
  private index = 0;
  private staleAt: number;
  private lookingUp = false;
  private records: string | undefined;
  private checkingBack = false;
  private checkedBackAt = -Infinity;
  private lastMove: ServerMove | undefined;
  /** Settles after the first lookup; undefined once it has (or when there is none to make). */
  ready: Promise<void> | undefined;

  constructor(
    /** The URI's host and port, and how every address is checked: also the A/AAAA fallback. */
    private readonly base: Destination,
    private readonly srvName: string | undefined,
    private readonly location: SrvLocation | undefined,
    private readonly clock: Clock,
    /** Whether a server answers (a probe such as OPTIONS; anything but a 503 or no answer). */
    private readonly probe: (to: Destination) => Promise<boolean>,
    private readonly onMove: () => void,
  ) {
    this.servers = [{ destination: base, priority: 0, weight: 0 }];
    this.staleAt = srvName !== undefined && location ? -Infinity : Infinity;
    if (this.staleAt === -Infinity) this.ready = this.lookUp().then(() => void (this.ready = undefined));
  }

  get size(): number {
    return this.servers.length;
  }

  current(): Destination {
    if (!this.lookingUp && this.clock.now() >= this.staleAt) void this.lookUp();
    return this.servers[this.index]!.destination;
  }

  failed(to: Destination, reason: string): void {
    const at = this.servers[this.index]!.destination;
    // Another request's failure moved them already (or the set changed): nothing to decide.
    if (this.servers.length < 2 || serverKey(to) !== serverKey(at)) return;
    const next = (this.index + 1) % this.servers.length;
    if (next > 0) return this.moveTo(next, `${reason} from ${formatHostPort(at)}`);
    // Every server failed: requests start again at the first, each after its own backoff, not all at once now.
    this.index = 0;
    this.lastMove = { at: this.clock.now(), from: formatHostPort(at), to: formatHostPort(this.servers[0]!.destination), because: `${reason} from ${formatHostPort(at)}, the last server` };
  }

  status(): ServerSetStatus {
    const srv = this.srvName !== undefined && this.location ? { srv: this.srvName } : {};
    const servers = this.servers.map((s) => ({ host: s.destination.host, port: s.destination.port, ...(this.records ? { priority: s.priority, weight: s.weight } : {}) }));
    return { ...srv, servers, publishingTo: formatHostPort(this.servers[this.index]!.destination), ...(this.lastMove ? { lastMove: this.lastMove } : {}) };
  }

  private async lookUp(): Promise<void> {
    this.lookingUp = true;
    try {
      const records = await this.location!.lookup(this.srvName!);
      this.staleAt = this.clock.now() + keepForMs(records.length === 0 ? undefined : Math.min(...records.map((r) => r.ttl ?? 0)));
      this.use(records);
    } catch {
      // A failed lookup leaves the servers as they were (at first the A/AAAA fallback), and is made again soon.
      this.staleAt = this.clock.now() + MIN_TTL_MS;
    } finally {
      this.lookingUp = false;
    }
    if (this.index > 0 && !this.checkingBack && this.clock.now() >= this.checkedBackAt + RETURN_CHECK_MS) void this.checkBack();
  }

  /** A new answer reorders the servers (an unchanged one keeps its draw): requests stay where they go if it is still listed. */
  private use(records: SrvRecord[]): void {
    const key = canonical(records);
    if (key === this.records) return;
    const first = this.records === undefined;
    this.records = key;
    const ordered = orderSrv(records, this.location!.random);
    const servers: Server[] =
      ordered.length === 0
        ? [{ destination: this.base, priority: 0, weight: 0 }]
        : ordered.map((r) => ({ destination: { ...this.base, host: r.name.replace(/\.$/, ''), port: r.port }, priority: r.priority, weight: r.weight }));
    const at = serverKey(this.current());
    const kept = servers.findIndex((s) => serverKey(s.destination) === at);
    const from = this.servers[this.index]!.destination;
    this.servers = servers;
    this.index = Math.max(0, kept);
    if (kept < 0 && !first) this.moved(from, 'the SRV records changed');
    else if (kept < 0) queueMicrotask(this.onMove);
  }

  /** Asks each server more preferred than the one in use whether it answers; the first that does takes the requests back. */
  private async checkBack(): Promise<void> {
    this.checkingBack = true;
    this.checkedBackAt = this.clock.now();
    const inUse = this.servers[this.index]!;
    const better = this.servers.slice(0, this.index).filter((s) => s.priority < inUse.priority);
    await Promise.all(
      better.map(async (s) => {
        if (!(await this.probe(s.destination).catch(() => false))) return;
        const i = this.servers.findIndex((x) => serverKey(x.destination) === serverKey(s.destination));
        if (i >= 0 && this.servers[i]!.priority < this.servers[this.index]!.priority) this.moveTo(i, `${formatHostPort(s.destination)} answers again`);
      }),
    );
    this.checkingBack = false;
  }

  private moveTo(index: number, because: string): void {
    const from = this.servers[this.index]!.destination;
    this.index = index;
    this.moved(from, because);
  }

  private moved(from: Destination, because: string): void {
    this.lastMove = { at: this.clock.now(), from: formatHostPort(from), to: formatHostPort(this.servers[this.index]!.destination), because };
    // After the request that failed has been handled: its publisher is still answering it now.
    queueMicrotask(this.onMove);
  }
}
