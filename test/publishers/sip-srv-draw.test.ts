import { afterEach, describe, expect, it } from 'vitest';
import type { SrvRecord } from '../../services/publishers/sip/srv.js';
import { PRIVATE_TARGETS } from '../support/kamailio.js';
import { startTestHub, type TestHub } from '../support/hub.js';

const RECORDS: SrvRecord[] = [
  { name: 'a.example.test', port: 5071, priority: 10, weight: 10 },
  { name: 'b.example.test', port: 5072, priority: 10, weight: 30 },
  { name: 'c.example.test', port: 5073, priority: 10, weight: 60 },
  { name: 'd.example.test', port: 5074, priority: 20, weight: 0 },
];

describe("the hub's SRV weighted draw (RFC 2782) takes the hub's injected random", () => {
  let h: TestHub | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  /** The order a SIP target's servers are tried in, on a hub whose random plays `draws` in turn. */
  async function order(...draws: number[]): Promise<string[]> {
    h = await startTestHub({
      env: { SIP_HOST: '127.0.0.1', SIP_PORT: '0' },
      // Loopback only: nobody has a state, so nothing is sent anyway.
      resolve: async (host) => (host.endsWith('.example.test') ? [{ address: '127.0.0.1', family: 4 }] : []),
      srvResolve: async (name) => (name === '_sip._udp.pbx.example.test' ? RECORDS : []),
      random: () => draws.shift() ?? 0,
    });
    await h.put('/v1/tenant', PRIVATE_TARGETS).expect(200);
    await h.put('/v1/targets/pbx', { kind: 'sip', name: 'PBX', server: 'sip:pbx.example.test', domain: 'example.test', transport: 'udp' }).expect(201);
    for (;;) {
      const servers = ((await h.get('/v1/targets/pbx/status').expect(200)).body.details?.servers ?? []) as Array<{ host: string }>;
      if (servers.length === RECORDS.length) return servers.map((s) => s.host);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  it('within a priority, each draw picks the first record whose running weight reaches it; the next priority follows', async () => {
    // Sum 100, pick ⌊0.5 × 101⌋ = 50: past a (10) and b (40), c (100). Then a, b left (sum 40): ⌊0.2 × 41⌋ = 8 → a.
    expect(await order(0.5, 0.2, 0, 0)).toEqual(['c.example.test', 'a.example.test', 'b.example.test', 'd.example.test']);
    await h!.stop();
    h = undefined;
    // ⌊0.05 × 101⌋ = 5 → a; then b, c (sum 90): ⌊0.5 × 91⌋ = 45, past b (30) → c.
    expect(await order(0.05, 0.5, 0, 0)).toEqual(['a.example.test', 'c.example.test', 'b.example.test', 'd.example.test']);
  });
});
