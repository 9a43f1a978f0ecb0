import type { Person } from '../../../shared/domain/directory.js';
import type { SipTarget } from '../../../shared/domain/target.js';
import type { Destination, TransportProtocol } from '../../../shared/sip/transport.js';

/** The presentity a person is published as: their SIP URI when it is in the target's domain, else extension (or id) @ domain. */
export function presentityOf(person: Pick<Person, 'id' | 'sipUri' | 'extension'>, target: Pick<SipTarget, 'domain'>): string {
  const host = person.sipUri?.replace(/^sips?:[^@]*@/, '').replace(/[;:>].*$/, '');
  if (person.sipUri && host === target.domain) return person.sipUri;
  return `sip:${person.extension ?? person.id}@${target.domain}`;
}

/** Where requests go: the server URI's host and port (default 5060, 5061 for TLS). */
export function destinationOf(target: Pick<SipTarget, 'server' | 'transport'>): Destination {
  const hostPort = target.server.replace(/^sips?:/, '').replace(/[;?].*$/, '');
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hostPort);
  const protocol: TransportProtocol = target.server.startsWith('sips:') ? 'tls' : target.transport;
  const host = (m?.[1] ?? hostPort).replace(/^\[|\]$/g, '');
  const port = m?.[2] ? Number(m[2]) : protocol === 'tls' ? 5061 : 5060;
  return { protocol, host, port, allowsTcp: protocol !== 'tls' };
}
