import type { SipTarget } from '../../../shared/domain/target.js';
import { AppError } from '../../../shared/errors/errors.js';
import { checkTargetHost, SsrfError, type Resolver } from '../ssrf-guard.js';
import { destinationOf, srvNameOf } from './presentity.js';
import { orderSrv, type SrvResolver } from './srv.js';

/**
 * Checks a SIP target's servers as the SSRF guard checks any target host: every server its SRV records
 * name (a host name without a port, RFC 3263 §4.2), else the URI's host. Every address that resolves must
 * be allowed; a server that does not resolve (a standby not yet in DNS) is no reason to refuse, unless none does.
 */
export async function checkSipServers(target: Pick<SipTarget, 'server' | 'transport'>, allowPrivate: boolean, resolve: Resolver, srvResolve?: SrvResolver): Promise<void> {
  const name = srvResolve && srvNameOf(target);
  const records = name ? orderSrv(await srvResolve!(name).catch(() => []), () => 0) : [];
  const hosts = records.length > 0 ? [...new Set(records.map((r) => r.name.replace(/\.$/, '')))] : [destinationOf(target).host];
  let unresolved: unknown;
  let resolved = 0;
  for (const host of hosts) {
    try {
      await checkTargetHost(host, allowPrivate, resolve);
      resolved++;
    } catch (err) {
      if (err instanceof SsrfError || !(err instanceof AppError)) throw err;
      unresolved ??= err;
    }
  }
  if (resolved === 0) throw unresolved;
}
