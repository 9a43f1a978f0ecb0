import { createSocket, type Socket } from 'node:dgram';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { parsePidf } from '../../shared/sip/pidf.js';
import { TIMER_F } from '../../shared/sip/timers.js';
import { RETURN_CHECK_MS } from '../../services/publishers/sip/server-set.js';
import { srvResolver } from '../../services/publishers/sip/srv.js';
import { describeWith } from '../support/components.js';
import { startDnsServer, type TestDnsServer } from '../support/dns-server.js';
import { startTestHub, type TestHub } from '../support/hub.js';
import { kamailioPerTest, seedAliceForKamailio, sipTargetOf, startKamailio, type RunningKamailio } from '../support/kamailio.js';
import { freePort } from '../support/ports.js';
import { eventually } from '../support/receiver.js';
import { startWatcher, type Watcher } from '../support/sipp.js';

const SRV = '_sip._udp.presence.example.test';
const TARGET = { server: 'sip:presence.example.test' };

/** A SIP server on loopback that answers every request 503 (overloaded, or out of service). */
async function startUnavailable(): Promise<{ port: number; received: string[]; socket: Socket }> {
  const port = await freePort();
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(port, '127.0.0.1', resolve));
  const received: string[] = [];
  socket.on('message', (msg, from) => {
    const text = msg.toString('latin1');
    const [start, ...lines] = text.split('\r\n\r\n')[0]!.split('\r\n');
    if (start?.startsWith('SIP/2.0')) return;
    received.push(start!.split(' ')[0]!);
    const copied = lines.filter((l) => /^(via|from|to|call-id|cseq):/i.test(l));
    socket.send(['SIP/2.0 503 Service Unavailable', ...copied, 'Content-Length: 0', '', ''].join('\r\n'), from.port, from.address);
  });
  return { port, received, socket };
}

const stateOf = (body: string) => {
  const p = parsePidf(body);
  return p.ok ? { basic: p.value.basic, activities: p.value.activities } : undefined;
};

describeWith(['kamailio', 'sipp'], 'a SIP target whose server is a name located by DNS SRV (RFC 3263), failing over between real servers', () => {
  let dns: TestDnsServer;
  let h: TestHub;
  const watchers: Watcher[] = [];
  const closing: Array<() => Promise<unknown>> = [];
  const kamailio = kamailioPerTest();

  const watch = async (kam: RunningKamailio) => {
    const w = await startWatcher(kam, { user: 'alice', expires: 300 });
    watchers.push(w);
    return () => w.bodies().filter((b) => b.includes('presence-hub')).map(stateOf).pop();
  };
  const details = async () => (await h.get('/v1/targets/kam/status')).body.details as { publishingTo: string; lastMove?: { from: string; to: string; because: string } };
  /** Moves the hub's clock in steps, letting real answers arrive between them. */
  const advance = async (ms: number, step = 1000) => {
    for (let t = 0; t < ms; t += step) {
      await h.clock.advance(Math.min(step, ms - t));
      await new Promise((r) => setTimeout(r, 5));
    }
  };

  beforeEach(async () => {
    dns = await startDnsServer();
    h = await startTestHub({
      env: { SIP_HOST: '127.0.0.1', SIP_PORT: '0' },
      // The SRV targets' own names (A records), as the system would resolve them.
      resolve: async (host) => (host.endsWith('.example.test') ? [{ address: '127.0.0.1', family: 4 }] : []),
      srvResolve: srvResolver(dns.resolver),
    });
    await seedAliceForKamailio(h);
  });
  afterEach(async () => {
    for (const w of watchers.splice(0)) await w.stop().catch(() => {});
    await h.stop();
    for (const close of closing.splice(0)) await close().catch(() => {});
    await dns.close();
  });

  it('the preferred server answering 503: publishes at once to the next one, as its watchers see, and the status says where and why', async () => {
    const kam = kamailio.kam;
    const busy = await startUnavailable();
    closing.push(() => new Promise<void>((resolve) => busy.socket.close(() => resolve())));
    dns.srv.set(SRV, [
      { name: 'kam.example.test', port: kam.port, priority: 20, weight: 0 },
      { name: 'busy.example.test', port: busy.port, priority: 10, weight: 0 },
    ]);
    const latest = await watch(kam);
    await h.put('/v1/targets/kam', sipTargetOf(kam, TARGET)).expect(201);
    await eventually(() => expect(latest()).toMatchObject({ basic: 'open' }));
    expect(dns.asked).toContain(SRV);
    expect(busy.received).toContain('PUBLISH');
    expect(await details()).toMatchObject({
      publishingTo: `kam.example.test:${kam.port}`,
      lastMove: { from: `busy.example.test:${busy.port}`, to: `kam.example.test:${kam.port}`, because: `503 Service Unavailable from busy.example.test:${busy.port}` },
    });
    await h.put('/v1/people/alice/status', { activity: 'dnd' }).expect(200);
    await eventually(() => expect(latest()).toMatchObject({ basic: 'closed', activities: ['busy'] }));
    expect((await h.get('/v1/targets/kam/status')).body.state).toBe('healthy');
  });

  it('a dead preferred server: after Timer F the publication moves to the live one; once the preferred answers again, it goes back there', async () => {
    const live = kamailio.kam;
    const preferred = await startKamailio();
    closing.push(() => preferred.stop());
    await preferred.kill();
    dns.srv.set(SRV, [
      { name: 'preferred.example.test', port: preferred.port, priority: 10, weight: 0 },
      { name: 'live.example.test', port: live.port, priority: 20, weight: 0 },
    ]);
    const onLive = await watch(live);
    await h.put('/v1/targets/kam', sipTargetOf(live, TARGET)).expect(201);
    // Nobody answers at the preferred server's port: the transaction times out (Timer F, 32 s on UDP).
    await advance(TIMER_F + 1000);
    await eventually(() => expect(onLive()).toMatchObject({ basic: 'open' }));
    expect(await details()).toMatchObject({
      publishingTo: `live.example.test:${live.port}`,
      lastMove: { because: `no answer (408) from preferred.example.test:${preferred.port}` },
    });

    await preferred.restart();
    const onPreferred = await watch(preferred);
    // The SRV set is looked up again at the next request after its TTL; the preferred server answers an OPTIONS, and takes the publications back.
    await advance(RETURN_CHECK_MS);
    await h.put('/v1/people/alice/status', { activity: 'away' }).expect(200);
    await eventually(async () => {
      await h.clock.advance(250);
      expect(onPreferred()).toMatchObject({ basic: 'closed', activities: ['away'] });
    });
    expect(await details()).toMatchObject({
      publishingTo: `preferred.example.test:${preferred.port}`,
      lastMove: { from: `live.example.test:${live.port}`, because: `preferred.example.test:${preferred.port} answers again` },
    });
  });
});
