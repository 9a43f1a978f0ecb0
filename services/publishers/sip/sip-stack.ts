import type { Clock } from '../../../shared/clock/clock.js';
import { StreamTransport } from '../../../shared/sip/stream-transport.js';
import { TransportSet } from '../../../shared/sip/transport-set.js';
import { bindUdpAndTcp } from '../../../shared/sip/udp-tcp-pair.js';
import { UserAgentCore } from '../../../shared/sip/user-agent-core.js';

export interface SipStackConfig {
  host: string;
  port: number;
  advertise?: string;
}

/**
 * The process's SIP user agent: UDP and TCP on one port (TLS connects out only), created when the first
 * SIP target needs it. Every publisher and dialog subscriber shares it.
 */
export class SipStack {
  private core: Promise<UserAgentCore> | undefined;

  /** `random`: the publishers' and dialog subscribers' backoff jitter (the hub's, which tests pin). */
  constructor(
    private readonly config: SipStackConfig,
    private readonly clock: Clock,
    private readonly random: () => number,
  ) {}

  get(): Promise<UserAgentCore> {
    this.core ??= (async () => {
      const advertise = this.config.advertise;
      const pair = await bindUdpAndTcp({ host: this.config.host, port: this.config.port, ...(advertise ? { advertise } : {}) });
      const tls = await StreamTransport.listen({ protocol: 'tls', host: this.config.host, port: 0, ...(advertise ? { advertise } : {}) });
      return new UserAgentCore({ transport: new TransportSet([pair, tls]), clock: this.clock, random: this.random, userAgent: 'presence-hub' });
    })();
    return this.core;
  }

  async close(): Promise<void> {
    if (!this.core) return;
    const core = await this.core.catch(() => undefined);
    this.core = undefined;
    await core?.close();
  }
}
