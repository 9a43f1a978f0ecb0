import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Free loopback ports for components the tests start.
 *
 * A SIP server listens on UDP and TCP with the same number, so a port counts as
 * free only when both binds succeed. Candidates are drawn at random from below
 * the kernel's ephemeral range: ports the kernel hands out for outgoing
 * connections (SIPp's TCP client side, Kamailio's NOTIFY connections) then never
 * collide with one a test is about to listen on, and parallel test workers
 * rarely pick the same number.
 */
const given = new Set<number>();

export async function freePort(host = '127.0.0.1'): Promise<number> {
  const [low, high] = candidateRange();
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (given.has(port)) continue;
    if ((await canBindTcp(host, port)) && (await canBindUdp(host, port))) {
      given.add(port);
      return port;
    }
  }
  throw new Error(`no free TCP+UDP port on ${host} in ${low}-${high}`);
}

/** Several distinct free ports. */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) ports.push(await freePort(host));
  return ports;
}

function candidateRange(): [number, number] {
  let ephemeralLow = 32768;
  try {
    ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || ephemeralLow;
  } catch {
    /* not Linux: keep the IANA default */
  }
  // 20000 upwards stays clear of well-known service ports (SIPp's control port 8888, 5060…).
  const high = Math.max(ephemeralLow, 21000);
  return [Math.min(20000, high - 1000), high];
}

function canBindTcp(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

function canBindUdp(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind({ address: host, port, exclusive: true }, () => socket.close(() => resolve(true)));
  });
}

/**
 * True once some process listens on the port (UDP bound, or TCP in LISTEN).
 * Reads /proc/net instead of test-binding, which could steal the port from
 * the very component that is starting.
 */
export function isListening(port: number, protocol: 'udp' | 'tcp'): boolean {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const table of [`/proc/net/${protocol}`, `/proc/net/${protocol}6`]) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (!local?.endsWith(`:${hexPort}`)) continue;
      // TCP 0A = LISTEN; UDP 07 = unconnected (bound).
      if (state === (protocol === 'tcp' ? '0A' : '07')) return true;
    }
  }
  return false;
}
