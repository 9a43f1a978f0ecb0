import { createSocket } from 'node:dgram';
import { promises as dns } from 'node:dns';
import type { SrvRecord } from '../../services/publishers/sip/srv.js';

/** A DNS server on loopback answering SRV questions from a table the test edits; every other name gets NXDOMAIN. */
export interface TestDnsServer {
  /** SRV records by owner name (e.g. `_sip._udp.example.test`). */
  srv: Map<string, SrvRecord[]>;
  /** The SRV questions asked so far, oldest first. */
  asked: string[];
  /** A resolver that asks only this server. */
  resolver: dns.Resolver;
  close(): Promise<void>;
}

const TYPE_SRV = 33;

/** The labels of a name, uncompressed (RFC 1035 §3.1). */
function encodeName(name: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter(Boolean);
  return Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'ascii')])), Buffer.from([0])]);
}

/** The question's name, type and where the question ends (RFC 1035 §4.1.2; a question is never compressed). */
function readQuestion(query: Buffer): { name: string; type: number; end: number } {
  const labels: string[] = [];
  let at = 12;
  while (query[at]! > 0) {
    labels.push(query.subarray(at + 1, at + 1 + query[at]!).toString('ascii'));
    at += 1 + query[at]!;
  }
  return { name: labels.join('.').toLowerCase(), type: query.readUInt16BE(at + 1), end: at + 5 };
}

function answer(query: Buffer, records: SrvRecord[] | undefined, type: number, end: number): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0);
  // QR, opcode 0, AA, RD copied, RA; RCODE 3 (NXDOMAIN) for a name it has nothing for.
  header.writeUInt16BE(0x8400 | (query.readUInt16BE(2) & 0x0100) | 0x0080 | (records ? 0 : 3), 2);
  header.writeUInt16BE(1, 4);
  const answers = type === TYPE_SRV ? (records ?? []) : [];
  header.writeUInt16BE(answers.length, 6);
  const rrs = answers.map((r) => {
    const target = encodeName(r.name);
    const rr = Buffer.alloc(2 + 10 + 6);
    rr.writeUInt16BE(0xc00c, 0); // the owner: a pointer to the question's name
    rr.writeUInt16BE(TYPE_SRV, 2);
    rr.writeUInt16BE(1, 4); // IN
    rr.writeUInt32BE(r.ttl ?? 60, 6);
    rr.writeUInt16BE(6 + target.length, 10);
    rr.writeUInt16BE(r.priority, 12);
    rr.writeUInt16BE(r.weight, 14);
    rr.writeUInt16BE(r.port, 16);
    return Buffer.concat([rr, target]);
  });
  return Buffer.concat([header, query.subarray(12, end), ...rrs]);
}

export async function startDnsServer(): Promise<TestDnsServer> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const srv = new Map<string, SrvRecord[]>();
  const asked: string[] = [];
  socket.on('message', (query, from) => {
    try {
      const { name, type, end } = readQuestion(query);
      if (type === TYPE_SRV) asked.push(name);
      socket.send(answer(query, srv.get(name), type, end), from.port, from.address);
    } catch {
      // Not a question this server reads: dropped, as a datagram lost.
    }
  });
  const resolver = new dns.Resolver({ timeout: 500, tries: 2 });
  resolver.setServers([`127.0.0.1:${socket.address().port}`]);
  return {
    srv,
    asked,
    resolver,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
