import { StreamTransport } from './stream-transport.js';
import { TransportSet } from './transport-set.js';
import { UdpTransport } from './udp-transport.js';

export interface PairOptions {
  host: string;
  /** 0 picks a port free for both UDP and TCP. */
  port: number;
  advertise?: string;
}

/**
 * UDP and TCP on the same port, as SIP expects (RFC 3261 §18: a request too large for UDP moves to TCP at
 * the same address). With port 0 the UDP port is chosen first; if its number is taken for TCP, try again.
 */
export async function bindUdpAndTcp(options: PairOptions, attempts = 20): Promise<TransportSet> {
  const extra = options.advertise ? { advertise: options.advertise } : {};
  for (let i = 0; ; i++) {
    const udp = await UdpTransport.bind({ host: options.host, port: options.port, ...extra });
    try {
      const tcp = await StreamTransport.listen({ protocol: 'tcp', host: options.host, port: udp.localAddress('udp')!.port, ...extra });
      return new TransportSet([udp, tcp]);
    } catch (error) {
      await udp.close();
      if (options.port !== 0 || i + 1 >= attempts || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    }
  }
}
