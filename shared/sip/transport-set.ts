import { SipTransportError } from './errors.js';
import type { SipMessage } from './message.js';
import type { Destination, HostPort, MessageReceiver, Transport, TransportProtocol } from './transport.js';

/** Several single-protocol transports behind one `Transport`, each message going to the one serving its protocol. */
export class TransportSet implements Transport {
  constructor(private readonly transports: readonly Transport[]) {}

  send(message: SipMessage, to: Destination): Promise<void> {
    for (const t of this.transports) if (t.localAddress(to.protocol) !== undefined) return t.send(message, to);
    return Promise.reject(new SipTransportError(`no ${to.protocol} transport`));
  }

  onMessage(receiver: MessageReceiver): void {
    for (const t of this.transports) t.onMessage(receiver);
  }

  localAddress(protocol: TransportProtocol): HostPort | undefined {
    for (const t of this.transports) {
      const address = t.localAddress(protocol);
      if (address) return address;
    }
    return undefined;
  }

  async close(): Promise<void> {
    await Promise.all(this.transports.map((t) => t.close()));
  }
}
