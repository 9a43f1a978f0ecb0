import { ManualClock } from '../../shared/clock/manual-clock.js';
import type { SipTarget } from '../../shared/domain/target.js';
import { FakeTransport } from '../../shared/sip/fake-transport.js';
import { createSipIds, type SipIds } from '../../shared/sip/ids.js';
import type { Destination } from '../../shared/sip/transport.js';
import { UserAgentCore } from '../../shared/sip/user-agent-core.js';

export const T0 = Date.parse('2026-03-02T09:00:00Z');
export const TARGET: Destination = { protocol: 'udp', host: '192.0.2.1', port: 5060 };

/** A SIP push target publishing to `TARGET`. */
export const SIP_TARGET: SipTarget = {
  id: 'kam',
  tenantId: 'acme',
  kind: 'sip',
  name: 'Kamailio',
  enabled: true,
  server: 'sip:192.0.2.1:5060',
  transport: 'udp',
  domain: 'example.test',
  expiresSec: 600,
  subscribeDialog: false,
};

/** Ids from a counter, so every run sees the same branches, tags and Call-IDs. */
export function counterIds(): SipIds {
  let n = 0;
  return createSipIds((size) => {
    n += 1;
    const bytes = new Uint8Array(size);
    new DataView(bytes.buffer).setUint32(size - 4, n);
    return bytes;
  });
}

/** A user agent core over a fake transport, its ids counted and its backoff jitter `random` (none by default: each wait its longest). */
export function setup(protocols?: ConstructorParameters<typeof FakeTransport>[1], random: () => number = () => 0) {
  const clock = new ManualClock(T0);
  const transport = new FakeTransport(undefined, protocols);
  const core = new UserAgentCore({ transport, clock, ids: counterIds(), random });
  return { clock, transport, core };
}
