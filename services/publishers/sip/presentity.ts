import type { Person } from '../../../shared/domain/directory.js';
import type { SipTarget } from '../../../shared/domain/target.js';
import ipaddr from 'ipaddr.js';
import type { Destination, TransportProtocol } from '../../../shared/sip/transport.js';
import { srvName } from './srv.js';

/** The presentity a person is published as: their SIP URI when it is in the target's domain, else extension (or id) @ domain. */
export function presentityOf(person: Pick<Person, 'id' | 'sipUri' | 'extension'>, target: Pick<SipTarget, 'domain'>): string {
  const host = person.sipUri?.replace(/^sips?:[^@]*@/, '').replace(/[;:>].*$/, '');
  if (person.sipUri && host === target.domain) return person.sipUri;
  return `sip:${person.extension ?? person.id}@${target.domain}`;
}

/** The server URI's host and port (default 5060, 5061 for TLS); `named` when it is a name without a port. */
function serverOf(target: Pick<SipTarget, 'server' | 'transport'>): Destination & { named: boolean } {
  const hostPort = target.server.replace(/^sips?:/, '').replace(/[;?].*$/, '');
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hostPort);
  const protocol: TransportProtocol = target.server.startsWith('sips:') ? 'tls' : target.transport;
  const host = (m?.[1] ?? hostPort).replace(/^\[|\]$/g, '');
  const port = m?.[2] ? Number(m[2]) : protocol === 'tls' ? 5061 : 5060;
  return { protocol, host, port, allowsTcp: protocol !== 'tls', named: !m?.[2] && !ipaddr.isValid(host) };
}

/** Where requests go without DNS SRV: the server URI's host and port (default 5060, 5061 for TLS). */
export function destinationOf(target: Pick<SipTarget, 'server' | 'transport'>): Destination {
  const { named: _, ...destination } = serverOf(target);
  return destination;
}

/** The SRV name to look the server up by (RFC 3263 §4.2): only for a host name given without a port. */
export function srvNameOf(target: Pick<SipTarget, 'server' | 'transport'>): string | undefined {
  const server = serverOf(target);
  return server.named ? srvName(server.host, server.protocol) : undefined;
}
