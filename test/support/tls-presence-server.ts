import { readFileSync } from 'node:fs';
import { systemClock } from '../../shared/clock/clock.js';
import type { SipRequest } from '../../shared/sip/message.js';
import { StreamTransport } from '../../shared/sip/stream-transport.js';
import { UserAgentCore } from '../../shared/sip/user-agent-core.js';
import type { CertificateFiles } from './certificate.js';

export interface TlsPresenceServer {
  port: number;
  /** Every PUBLISH that arrived, in order. */
  publishes: SipRequest[];
  /** The server names TLS clients asked for (SNI). */
  serverNames: string[];
  close(): Promise<void>;
}

/**
 * A presence server over TLS on loopback, on the project's own SIP stack: it presents `certificate` (followed
 * by the PEM files in `chain`, e.g. its CA) and accepts every PUBLISH (200 with an entity tag, RFC 3903 §6).
 */
export async function startTlsPresenceServer(certificate: CertificateFiles, chain: readonly string[] = []): Promise<TlsPresenceServer> {
  const publishes: SipRequest[] = [];
  const serverNames: string[] = [];
  const cert = Buffer.concat([certificate.cert, ...chain].map((file) => readFileSync(file)));
  const transport = await StreamTransport.listen({
    protocol: 'tls',
    host: '127.0.0.1',
    port: 0,
    tlsServer: {
      key: readFileSync(certificate.key),
      cert,
      // Only records the name: no context given keeps the server's own certificate.
      SNICallback: (name, done) => {
        serverNames.push(name);
        done(null, undefined);
      },
    },
  });
  const core = new UserAgentCore({ transport, clock: systemClock });
  let etag = 0;
  core.onRequest('PUBLISH', (request) => {
    publishes.push(request);
    return { status: 200, headers: [['SIP-ETag', `e${++etag}`], ['Expires', request.headers.get('expires') ?? '3600']] };
  });
  return { port: transport.localAddress('tls')!.port, publishes, serverNames, close: () => core.close() };
}
