import type { Clock } from '../../shared/clock/clock.js';
import type { Target } from '../../shared/domain/target.js';
import type { Store } from '../../shared/store/port.js';
import { createTargetClient } from './http-client.js';
import type { Sink, SinkHooks } from './sink.js';
import { AriSink } from './sinks/ari-sink.js';
import { WebhookSink } from './sinks/webhook-sink.js';
import type { SrvLocation } from './sip/server-set.js';
import type { SrvResolver } from './sip/srv.js';
import type { AddressCheck } from '../../shared/sip/transport.js';
import { AddressCache } from './dns-cache.js';
import { sendAddress, SsrfError, type Resolver } from './ssrf-guard.js';
import { checkSipServers } from './sip/server-check.js';
import type { TargetsService } from './targets-service.js';

export interface SinkFactoryDeps {
  store: Store;
  clock: Clock;
  targets: TargetsService;
  resolve: Resolver;
  /** What SIP servers' names resolve to, with TTLs (`dnsResolver`); `resolve` when absent. */
  sipResolve?: Resolver;
  timeoutMs: number;
  /** SRV lookups locating SIP servers named without a port (RFC 3263 §4.2); none: the name's A/AAAA records only. */
  srvResolve?: SrvResolver;
  /** Uniform in [0, 1): the draw among SRV records of one priority (RFC 2782). */
  random?: () => number;
  /** SIP PUBLISH targets, wired where the SIP stack is composed; every request goes where `check` says, to the servers `srv` finds. */
  sip?: (target: Extract<Target, { kind: 'sip' }>, hooks: SinkHooks | undefined, check: AddressCheck, srv?: SrvLocation) => Promise<Sink>;
}

/** Builds the publisher for a target's kind, with its secrets opened and its tenant's SSRF rules. */
export function sinkFactory(deps: SinkFactoryDeps): (target: Target, hooks?: SinkHooks) => Promise<Sink> {
  // One per process: every SIP request resolves its server's name, so thousands a second would otherwise
  // be as many lookups through libuv's few threads and the system resolver.
  const dns = new AddressCache(deps.sipResolve ?? deps.resolve, deps.clock);
  const sipAddress = (host: string, allowPrivate: boolean) =>
    sendAddress(host, allowPrivate, dns.lookup).catch((err: unknown) => {
      if (err instanceof SsrfError) dns.refused(host);
      throw err;
    });
  return async (target, hooks) => {
    const tenant = await deps.store.directory.get('tenants', '*', target.tenantId);
    const allowPrivate = deps.targets.allowsPrivate(tenant?.settings);
    const client = () => createTargetClient({ allowPrivate, timeoutMs: deps.timeoutMs, resolve: deps.resolve });
    switch (target.kind) {
      case 'webhook':
        return new WebhookSink(target, deps.targets.open(target.sealedSecret)!, client(), deps.clock, (target.previousSecrets ?? []).map((p) => ({ secret: deps.targets.open(p.sealedSecret)!, until: p.until })));
      case 'ari':
        return new AriSink(target, deps.targets.open(target.sealedPassword) ?? '', client());
      case 'sip':
        if (!deps.sip) throw new Error('SIP publishing is not available in this process');
        // Checked when saved, but PRIVATE_TARGETS or the tenant's opt-in may have changed since: such a
        // target does not start. A name that does not resolve now is not refused: sending fails (and is
        // retried) instead. Its DNS may change at any time after (rebinding): each request checks the answer it
        // uses, one kept for its TTL.
        await checkSipServers(target, allowPrivate, deps.resolve, deps.srvResolve).catch((err: unknown) => {
          if (err instanceof SsrfError) throw err;
        });
        return deps.sip(target, hooks, (host) => sipAddress(host, allowPrivate), deps.srvResolve && { lookup: deps.srvResolve, random: deps.random ?? Math.random });
    }
  };
}
