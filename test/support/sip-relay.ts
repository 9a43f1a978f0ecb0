import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { RunningKamailio } from './kamailio.js';

/**
 * A UDP relay between the service and Kamailio (a target's `server`): it notes the SIP-If-Match of every
 * PUBLISH it passes on, and loses those `drop` picks, as a network losing them would (the request's
 * retransmissions too, so the transaction times out).
 */
export async function sipRelay(kam: RunningKamailio) {
  const socket: Socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const publishes: Array<{ branch: string; ifMatch: string | null }> = [];
  let client: RemoteInfo | undefined;
  let drop: ((header: (name: string) => string | null) => boolean) | undefined;
  socket.on('message', (msg, from) => {
    if (from.port === kam.port) {
      if (client) socket.send(msg, client.port, client.address);
      return;
    }
    client = from;
    const text = msg.toString('utf8');
    const header = (name: string) => new RegExp(`^${name}:[ \\t]*(.*?)\\r?$`, 'im').exec(text)?.[1] ?? null;
    if (text.startsWith('PUBLISH ') && drop?.(header)) return;
    // Once per transaction: UDP retransmissions repeat the branch.
    const branch = /branch=([^;\s]+)/i.exec(header('Via') ?? '')?.[1] ?? '';
    if (text.startsWith('PUBLISH ') && !publishes.some((p) => p.branch === branch)) publishes.push({ branch, ifMatch: header('SIP-If-Match') });
    socket.send(msg, kam.port, kam.host);
  });
  return {
    server: `sip:127.0.0.1:${socket.address().port}`,
    /** SIP-If-Match of each PUBLISH passed on since the last `clear`, null for an initial one; a digest retry shows twice. */
    ifMatches: () => publishes.map((p) => p.ifMatch),
    clear: () => void publishes.splice(0),
    /** PUBLISHes this picks (by their headers) are lost from now on; none once it is undefined. */
    dropPublishes: (pick: typeof drop) => void (drop = pick),
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

export type SipRelay = Awaited<ReturnType<typeof sipRelay>>;
