import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { describeWith } from '../support/components.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { startRedis, type RunningRedis } from '../support/redis.js';
import {
  ADMIN,
  CROWD,
  buildScript,
  hookOwner,
  hubCall,
  outcomes,
  play,
  registerCrowd,
  setUpDirectory,
  startHubs,
  until,
  versions,
  type Hubs,
  type Outcome,
} from '../support/scale-out.js';
import { openStream, type SseClient } from '../support/sse.js';

/**
 * Three real service processes on loopback sharing one real redis-server, against the oracle: one
 * embedded process playing the same script (restarted at the half, for a full outage). Time is the real clock (processes), so what is compared
 * leaves out instants and versions, and heartbeats live for an hour so nothing goes stale mid-run.
 */
describeWith(['redis'], 'scale-out: three replicas sharing one Redis', () => {
  const script = buildScript(24, 16);
  const everyone = [...script.people, CROWD];
  const HALF = 8;
  let oracleHalf: Record<string, Outcome | null>;
  let oracle: Record<string, Outcome | null>;
  /** The same with the whole service down at the half (the embedded process restarted there): calls dropped. */
  let outageHalf: Record<string, Outcome | null>;
  let outage: Record<string, Outcome | null>;
  let redis: RunningRedis | undefined;
  let hubs: Hubs | undefined;
  let receiver: Receiver | undefined;
  const streams: SseClient[] = [];

  /** One embedded process playing the script: what it shows at the half and at the end; `restart`: restarted at the half. */
  const playAlone = async (restart: boolean) => {
    const one = await startHubs(1, undefined);
    try {
      let url = one.procs[0]!.url;
      const tokens = await setUpDirectory(url, script);
      const base = Date.now();
      await registerCrowd([url], tokens, base);
      await play(script, () => [url], tokens, base, { to: HALF });
      if (restart) url = (await one.restart(one.procs[0]!)).url;
      const half = await outcomes(url, everyone);
      await play(script, () => [url], tokens, base, { from: HALF });
      return { half, end: await outcomes(url, everyone) };
    } finally {
      await one.stop();
    }
  };

  beforeAll(async () => {
    ({ half: oracleHalf, end: oracle } = await playAlone(false));
    // The script must move people around, or equality would prove little.
    expect(new Set(Object.values(oracle).map((o) => o?.activity)).size).toBeGreaterThan(3);
    expect(oracle[CROWD]!.endpoints).toHaveLength(6);
    ({ half: outageHalf, end: outage } = await playAlone(true));
    // Someone is on a call at the half, or a full outage would prove little.
    const onCall = Object.keys(oracleHalf).filter((id) => ['ringing', 'on-call', 'on-hold'].includes(oracleHalf[id]?.activity ?? ''));
    expect(onCall.length).toBeGreaterThan(0);
    for (const id of onCall) expect(outageHalf[id]?.activity, id).not.toBe(oracleHalf[id]?.activity);
  }, 360_000);

  afterEach(async () => {
    for (const s of streams.splice(0)) s.close();
    await hubs?.stop();
    await receiver?.close();
    await redis?.stop();
    hubs = undefined;
    receiver = undefined;
    redis = undefined;
  });
  afterAll(async () => {
    await hubs?.stop();
  });

  const cluster = async () => {
    redis = await startRedis();
    receiver = await startReceiver();
    hubs = await startHubs(3, redis.url);
    const urls = hubs.procs.map((p) => p.url);
    const tokens = await setUpDirectory(urls[0]!, script, receiver.url);
    for (const url of urls) streams.push(await openStream(`${url}/v1/stream`, ADMIN));
    return { urls, tokens, base: Date.now() };
  };

  /** Per person, the versions a webhook receiver got, in arrival order. */
  const delivered = () => {
    const by = new Map<string, number[]>();
    for (const r of receiver!.received) {
      const b = JSON.parse(r.body) as { personId: string; version: number };
      by.set(b.personId, [...(by.get(b.personId) ?? []), b.version]);
    }
    return by;
  };

  const equalsOracle = async (urls: string[], expected: Record<string, Outcome | null>) => {
    for (const url of urls) expect(await outcomes(url, everyone)).toEqual(expected);
  };

  it('a load spread over three replicas ends as one process ends; every SSE client and the webhook see every change once, in order', async () => {
    const { urls, tokens, base } = await cluster();
    await registerCrowd(urls, tokens, base);
    await play(script, () => urls, tokens, base);
    await until(() => equalsOracle(urls, oracle), 20_000);
    const final = await versions(urls[0]!, everyone);

    // Live feed: every client on every replica got the same events, with no gap, in order per person.
    await until(async () => {
      for (const s of streams) {
        const last = new Map(s.events.filter((e) => e.event === 'presence').map((e) => [e.data.personId as string, e.data.version as number]));
        for (const id of everyone) expect(last.get(id), `${id} on a stream`).toBe(final[id]);
      }
    }, 20_000);
    const ids = await until(async () => {
      const got = streams.map((s) => s.events.filter((e) => e.id).map((e) => e.id!));
      expect(got[1]).toEqual(got[0]);
      expect(got[2]).toEqual(got[0]);
      return got;
    }, 10_000);
    const seqs = ids[0]!.map((id) => Number(id.slice(id.lastIndexOf('-') + 1)));
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
    for (const s of streams) {
      const per = new Map<string, number[]>();
      for (const e of s.events.filter((x) => x.event === 'presence')) per.set(e.data.personId, [...(per.get(e.data.personId) ?? []), e.data.version]);
      for (const [id, vs] of per) expect(vs, id).toEqual([...vs].sort((a, b) => a - b).filter((v, i, a) => a.indexOf(v) === i));
    }

    // Resume on another replica than the one the client was on.
    const mid = ids[0]![Math.floor(ids[0]!.length / 2)]!;
    const resumed = await openStream(`${urls[2]}/v1/stream`, ADMIN, mid);
    streams.push(resumed);
    await until(async () => expect(resumed.events.filter((e) => e.id).map((e) => e.id)).toEqual(ids[0]!.slice(ids[0]!.indexOf(mid) + 1)), 10_000);

    // Webhook: each person's final state arrived, each version once, in order, from one replica.
    await until(async () => {
      const got = delivered();
      for (const id of everyone) expect(got.get(id)?.at(-1), id).toBe(final[id]);
    }, 20_000);
    for (const [id, vs] of delivered()) expect(vs, id).toEqual([...new Set(vs)].sort((a, b) => a - b));
  }, 180_000);

  it('kill -9 of the replica that publishes: no final state is lost and another replica takes the target over', async () => {
    const { urls, tokens, base } = await cluster();
    const owner = () => hookOwner(redis!.url);
    const first = await until(async () => {
      const o = await owner();
      expect(o).toBeTruthy();
      return o!;
    }, 10_000);
    const victim = hubs!.procs.find((p) => first.includes(`-${p.child.pid}-`))!;
    expect(victim).toBeDefined();
    let live = [...urls];
    await registerCrowd(urls, tokens, base);
    const run = play(script, () => live, tokens, base);
    await until(async () => expect(receiver!.received.length).toBeGreaterThan(20), 30_000);
    live = urls.filter((u) => u !== victim.url);
    await victim.kill();
    await run;
    await until(() => equalsOracle(live, oracle), 20_000);
    const final = await versions(live[0]!, everyone);
    await until(async () => {
      const got = delivered();
      for (const id of everyone) expect(got.get(id)?.at(-1), id).toBe(final[id]);
    }, 30_000);
    // Order per person held across the takeover (a state the dead owner sent but had not recorded may come twice).
    for (const [id, vs] of delivered()) expect(vs, id).toEqual([...vs].sort((a, b) => a - b));
    expect(await owner()).not.toBe(first);
    for (const s of streams.filter((_, i) => urls[i] !== victim.url)) {
      const last = new Map(s.events.filter((e) => e.event === 'presence').map((e) => [e.data.personId as string, e.data.version as number]));
      for (const id of everyone) expect(last.get(id), id).toBe(final[id]);
    }
  }, 180_000);

  /** Every client's and the webhook's last version of each person is the one a snapshot shows. */
  const lastShownEverywhere = async (url: string) => {
    const shown = await versions(url, everyone);
    for (const s of streams) {
      const last = new Map(s.events.filter((e) => e.event === 'presence').map((e) => [e.data.personId as string, e.data.version as number]));
      for (const id of everyone) expect(last.get(id), `${id} on a stream`).toBe(shown[id]);
    }
    const got = delivered();
    for (const id of everyone) expect(got.get(id)?.at(-1), `${id} at the webhook`).toBe(shown[id]);
  };

  it('Redis killed for 30 s and back empty: no crash, not ready meanwhile, writes get 503; a full outage: calls dropped, everyone converges within 10 s, and every version shown is one an event carried', async () => {
    const { urls, tokens, base } = await cluster();
    await registerCrowd(urls, tokens, base);
    await play(script, () => urls, tokens, base, { to: HALF });
    await until(() => equalsOracle(urls, oracleHalf), 20_000);
    // Every replica's copy of the directory is current (it refreshes every 5 s).
    await new Promise((r) => setTimeout(r, 6000));

    await redis!.kill();
    const killedAt = Date.now();
    await until(async () => {
      for (const url of urls) expect((await fetch(`${url}/readyz`)).status).toBe(503);
    }, 10_000);
    const write = await hubCall(urls[1]!, 'PUT', `/v1/people/${script.people[0]}/status`, { activity: 'away' });
    expect(write.status).toBe(503);
    expect(write.body.error.code).toBe('store_unavailable');
    expect(Number(write.headers.get('retry-after'))).toBeGreaterThan(0);
    const ready = await fetch(`${urls[0]}/readyz`);
    expect(ready.headers.get('retry-after')).toBeTruthy();

    await new Promise((r) => setTimeout(r, Math.max(0, killedAt + 30_000 - Date.now())));
    for (const p of hubs!.procs) expect(p.child.exitCode, 'a replica crashed').toBeNull();
    await redis!.restart({ empty: true });
    const back = Date.now();
    // No replica could take a PBX event for 30 s: what they put back is what the embedded process finds
    // after a restart there (calls dropped), not what Redis held.
    await until(async () => {
      for (const url of urls) expect((await fetch(`${url}/readyz`)).status).toBe(200);
      await equalsOracle(urls, outageHalf);
    }, 10_000, 200);
    expect(Date.now() - back).toBeLessThan(10_000);
    // It was the replicas that put the directory and the states back: Redis had nothing.
    expect(hubs!.procs.some((p) => p.logs.some((l) => l.includes('redis came back without its data')))).toBe(true);
    expect(hubs!.procs.some((p) => p.logs.some((l) => l.includes('no replica was running: calls dropped')))).toBe(true);
    for (const p of hubs!.procs) expect(p.child.exitCode).toBeNull();
    // The bound moved no version without an event: those who did not change show what the last event said.
    await until(() => lastShownEverywhere(urls[0]!), 30_000);

    // And it goes on: the rest of the script ends where the oracle ends, and the webhook has it all.
    await play(script, () => urls, tokens, base, { from: HALF });
    await until(() => equalsOracle(urls, outage), 20_000);
    await until(() => lastShownEverywhere(urls[0]!), 30_000);
    for (const [id, vs] of delivered()) expect(vs, id).toEqual([...vs].sort((a, b) => a - b));
    for (const p of hubs!.procs) {
      expect(p.logs.join('\n')).not.toMatch(/unhandled|uncaught|fatal:/i);
    }
  }, 240_000);
});
