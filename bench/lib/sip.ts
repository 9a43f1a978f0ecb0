import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { Person } from '../../shared/domain/directory.js';
import type { Presence } from '../../shared/domain/presence.js';
import type { SipTarget } from '../../shared/domain/target.js';
import { pbxEventChanges } from '../../services/connectors/pbx/map.js';
import type { RunningKamailio } from '../../test/support/kamailio.js';
import { TENANT, deskId, personId, seedPeople, startBenchHub } from './hub.js';

/** The SIP target a hub would store for this Kamailio (digest account of the harness, UDP). */
export function kamailioTarget(kam: RunningKamailio, over: Partial<SipTarget> = {}): SipTarget {
  return {
    id: 'kam',
    tenantId: TENANT,
    kind: 'sip',
    name: 'Kamailio',
    enabled: true,
    server: `sip:${kam.host}:${kam.port}`,
    transport: 'udp',
    domain: kam.domain,
    username: kam.credentials.user,
    expiresSec: 600,
    subscribeDialog: false,
    ...over,
  };
}

/**
 * Two real merged states of one person (registered desk phone: available; then ringing), taken from a
 * hub's engine, so PIDF bodies have the size and shape the hub publishes.
 */
export async function samplePresences(): Promise<{ person: Person; presences: [Presence, Presence] }> {
  const h = await startBenchHub();
  try {
    await seedPeople(h, 1, { desk: true });
    const { engine, store } = h.running.hub;
    const at = Date.now();
    const endpoint = { id: deskId(0), kind: 'desk' as const, contact: `sip:d0@192.0.2.10` };
    await engine.apply(TENANT, personId(0), pbxEventChanges({ type: 'registered', device: deskId(0), at, expiresSec: 3600 }, endpoint, at, 0));
    const a = (await store.state.read(TENANT, personId(0))).presence!;
    await engine.apply(TENANT, personId(0), pbxEventChanges({ type: 'ringing', device: deskId(0), at: at + 1 }, endpoint, at + 1, 0));
    const b = (await store.state.read(TENANT, personId(0))).presence!;
    const person = (await store.directory.get('people', TENANT, personId(0)))!;
    return { person, presences: [a, b] };
  } finally {
    await h.stop();
  }
}

/** CPU time (user + system, ms) of every live process in a process group (Linux /proc; 0 elsewhere). */
export function groupCpuMs(pgid: number): number {
  let ticks = 0;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return 0;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const text = readFileSync(`/proc/${e}/stat`, 'utf8');
      const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
      // proc(5): field 5 pgrp, 14 utime, 15 stime; f[0] is field 3.
      if (Number(f[2]) === pgid) ticks += Number(f[11]) + Number(f[12]);
    } catch {
      /* exited meanwhile */
    }
  }
  return ticks * 10;
}

/** Samples a group's CPU every 100 ms and keeps the last value seen, for a process that exits (SIPp). */
export function cpuSampler(pgid: number): { stop(): number } {
  let last = groupCpuMs(pgid);
  const timer = setInterval(() => {
    const v = groupCpuMs(pgid);
    if (v > 0) last = v;
  }, 100);
  return {
    stop() {
      clearInterval(timer);
      return last;
    },
  };
}

/** Datagrams the kernel dropped on the UDP sockets bound to `port` on loopback, since they opened (full receive buffer). */
export function udpDrops(port: number): number {
  let drops = 0;
  try {
    for (const line of readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 13) continue;
      if (parseInt(f[1]!.split(':')[1]!, 16) === port) drops += Number(f[f.length - 1]);
    }
  } catch {
    /* not Linux */
  }
  return drops;
}

/** Pins every thread of every process in a group to one CPU (Linux `taskset`); false if that is not possible. */
export function pinGroup(pgid: number, cpu: number): boolean {
  const pids = readdirSync('/proc').filter((e) => {
    if (!/^\d+$/.test(e)) return false;
    try {
      const text = readFileSync(`/proc/${e}/stat`, 'utf8');
      return Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[2]) === pgid;
    } catch {
      return false;
    }
  });
  let ok = pids.length > 0;
  for (const pid of pids) ok = spawnSync('taskset', ['-a', '-p', '-c', String(cpu), pid], { stdio: 'ignore' }).status === 0 && ok;
  return ok;
}

/** Pins every thread of one process to one CPU. */
export function pinProcess(pid: number, cpu: number): boolean {
  return spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' }).status === 0;
}
