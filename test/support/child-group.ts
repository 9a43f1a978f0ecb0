import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/**
 * A component process (Kamailio, SIPp, redis-server) started by a test.
 *
 * Each one runs in its own process group (spawn `detached`), because Kamailio
 * forks workers: signalling only the main pid would leave receivers holding the
 * port. Four layers make sure nothing outlives the test run:
 *  1. the suite's afterAll calls stop()/kill();
 *  2. describeWith() kills what a suite started and left running;
 *  3. process 'exit' and SIGINT/SIGTERM/SIGHUP handlers SIGKILL every live group;
 *  4. a tiny shell watchdog per group TERMs, then KILLs it once this Node process
 *     is gone, which covers the test worker itself being SIGKILLed.
 */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  /** Resolves with the main process's exit code (or signal name) once it has exited. */
  readonly exited: Promise<number | string>;
  readonly running: boolean;
  /** Last lines of stdout and stderr, interleaved as they arrived. */
  logs(): string[];
  /** Sends `signal` (default SIGTERM) to the main process, SIGKILLs the group after `graceMs`. */
  stop(opts?: { signal?: NodeJS.Signals; graceMs?: number }): Promise<number | string>;
  /** SIGKILL to every process of the group, as a crash would (workers first, so they get reaped). */
  kill(): Promise<number | string>;
}

export interface SpawnOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** How many log lines to keep (default 400). */
  keepLines?: number;
  /** Called for every output line, e.g. to detect readiness. */
  onLine?: (line: string) => void;
}

interface Lifetime {
  proc: ManagedProcess;
  seq: number;
  endedAt?: number;
}

/** Groups not yet reaped, by pgid (= main pid), with their watchdogs. */
const live = new Map<number, { seq: number; proc: ManagedProcess; watchdog: number }>();
/** Recent processes, for log dumps of failed tests. */
const history: Lifetime[] = [];
const HISTORY_MAX = 30;
let spawned = 0;

export function spawnManaged(name: string, command: string, args: string[], opts: SpawnOptions = {}): ManagedProcess {
  installExitHooks();
  const keep = opts.keepLines ?? 400;
  const lines: string[] = [];
  const child: ChildProcess = spawn(command, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) {
    // spawn failures (ENOENT, EACCES) come as an 'error' event on the next tick;
    // swallow it and report now.
    child.once('error', () => {});
    throw new Error(`${name}: could not start ${command}`);
  }
  const pid = child.pid;
  const watchdog = startWatchdog(pid);
  let running = true;
  let endedAt: number | undefined;

  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      lines.push(line);
      if (lines.length > keep) lines.splice(0, lines.length - keep);
      opts.onLine?.(line);
    });
  }

  const exited = new Promise<number | string>((resolve) => {
    child.once('error', (err) => {
      lines.push(`[harness] ${name}: ${err.message}`);
      finish(resolve, 'error');
    });
    child.once('exit', (code, signal) => finish(resolve, code ?? signal ?? 'unknown'));
  });

  function finish(resolve: (v: number | string) => void, how: number | string) {
    if (!running) return;
    running = false;
    endedAt = Date.now();
    resolve(how);
    // A main process that died on its own may leave workers behind; and the
    // watchdog has nothing left to guard.
    void reap();
  }

  async function reap(): Promise<void> {
    await killWorkersThenMain(pid);
    signalGroup(watchdog, 'SIGKILL');
    live.delete(pid);
  }

  const proc: ManagedProcess = {
    name,
    pid,
    exited,
    get running() {
      return running;
    },
    logs: () => [...lines],
    async stop({ signal = 'SIGTERM', graceMs = 5000 } = {}) {
      if (running) {
        try {
          process.kill(pid, signal);
        } catch {
          /* already gone */
        }
        const timer = setTimeout(() => void killWorkersThenMain(pid), graceMs);
        await exited;
        clearTimeout(timer);
      }
      // Workers may outlive a main process that died on its own.
      await reap();
      return exited;
    },
    async kill() {
      await reap();
      return exited;
    },
  };
  const seq = ++spawned;
  live.set(pid, { seq, proc, watchdog });
  history.push({
    proc,
    seq,
    get endedAt() {
      return endedAt;
    },
  });
  if (history.length > HISTORY_MAX) history.shift();
  return proc;
}

const tempDirs = new Set<string>();

/** A fresh directory under the OS temp dir, removed at process exit unless removeTempDir() came first. */
export function makeTempDir(prefix: string): string {
  return registerTempDir(mkdtempSync(join(tmpdir(), prefix)));
}

/** Removes `dir` at process exit unless removeTempDir() came first. */
export function registerTempDir(dir: string): string {
  installExitHooks();
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/** A mark for killLiveSince: how many processes were spawned so far. */
export function spawnMark(): number {
  return spawned;
}

/** SIGKILLs (workers first) every process spawned after `mark` that still runs: a suite's leak guard. */
export async function killLiveSince(mark: number): Promise<ManagedProcess[]> {
  const leaked = [...live.values()].filter((r) => r.seq > mark && r.proc.running).map((r) => r.proc);
  await Promise.all(leaked.map((p) => p.kill()));
  return leaked;
}

/** Processes whose lifetime overlapped [from, now]: the ones worth showing when a test fails. */
export function processesSince(from: number): ManagedProcess[] {
  return history.filter((r) => r.endedAt === undefined || r.endedAt >= from).map((r) => r.proc);
}

/** Prints the log tails of the given processes to stderr. */
export function printLogs(procs: ManagedProcess[], tail = 120): void {
  for (const p of procs) {
    const lines = p.logs().slice(-tail);
    console.error(`----- ${p.name} (pid ${p.pid}${p.running ? '' : ', exited'}): last ${lines.length} log lines -----\n${lines.join('\n')}`);
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  // kill(-0) or kill(-1) would hit our own group or every process we may signal.
  if (!(pgid > 1)) return;
  try {
    process.kill(-pgid, signal);
  } catch {
    /* ESRCH: the group is already empty */
  }
}

/**
 * SIGKILL for a forking server, without leaving zombies: the workers die first
 * while their parent still runs and reaps them; then the main process, which
 * Node reaps. Killing the whole group at once would orphan the workers to an
 * init that may never reap them (PID 1 in minimal containers often does not).
 */
async function killWorkersThenMain(pgid: number): Promise<void> {
  const workers = () => groupMembers(pgid).filter((m) => m.pid !== pgid);
  for (const w of workers()) {
    if (w.state === 'Z') continue;
    try {
      process.kill(w.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  await until(() => workers().length === 0, 1000);
  signalGroup(pgid, 'SIGKILL');
  // Until no live member is left, so a restart can bind the same port.
  await until(() => !groupMembers(pgid).some((m) => m.state !== 'Z' && m.state !== 'X'), 3000);
}

async function until(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

interface Member {
  pid: number;
  state: string;
}

/** Processes of a group, from /proc (kill(-pgid, 0) cannot tell zombies apart). */
function groupMembers(pgid: number): Member[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    // Not Linux: approximate with the group as a whole.
    try {
      process.kill(-pgid, 0);
      return [{ pid: pgid, state: 'R' }];
    } catch {
      return [];
    }
  }
  const members: Member[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
    } catch {
      continue;
    }
    // Fields after the parenthesised command name: state ppid pgrp ...
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid) members.push({ pid: Number(entry), state: fields[0] ?? '?' });
  }
  return members;
}

function startWatchdog(pgid: number): number {
  // TERM first so a forking server reaps its own workers, then KILL what is left.
  // (dash's kill takes no "--": "-PGID" must come right after the signal.)
  const script = 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; kill -TERM "$2" 2>/dev/null; sleep 1; kill -KILL "-$2" 2>/dev/null';
  const dog = spawn('sh', ['-c', script, 'harness-watchdog', String(process.pid), String(pgid)], {
    detached: true,
    stdio: 'ignore',
  });
  dog.unref();
  return dog.pid ?? 0;
}

let hooked = false;
function installExitHooks(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', killAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      killAllSync();
      // Alone on this signal: restore the default action so the process still dies.
      if (process.listenerCount(sig) === 1) {
        process.removeListener(sig, onSignal);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, onSignal);
  }
}

function killAllSync(): void {
  for (const [pgid, { watchdog }] of live) {
    signalGroup(pgid, 'SIGKILL');
    signalGroup(watchdog, 'SIGKILL');
  }
  live.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}
