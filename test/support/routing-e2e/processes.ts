import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface Child {
  name: string;
  child: ChildProcess;
  logs: string[];
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<number | null>;
}

const started = new Set<Child>();

/** Starts a process, keeps its output for failure reports, and remembers it for `stopAll`. */
export function startChild(name: string, command: string, args: string[], options: SpawnOptions = {}): Child {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  const logs: string[] = [];
  for (const stream of [child.stdout, child.stderr]) if (stream) createInterface({ input: stream }).on('line', (l) => logs.push(l));
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null)));
    child.once('error', (err) => {
      logs.push(String(err));
      resolve(-2);
    });
  });
  const c: Child = {
    name,
    child,
    logs,
    exited,
    async stop(graceMs = 3000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      started.delete(c);
      return exited;
    },
  };
  started.add(c);
  void exited.then(() => started.delete(c));
  return c;
}

/** Stops every process this suite started and did not stop (after a failure, for instance). */
export async function stopAll(): Promise<void> {
  await Promise.all([...started].map((c) => c.stop()));
}

/** The last lines of a process's output, for an assertion message. */
export function tail(c: Child, lines = 40): string {
  return `--- ${c.name} ---\n${c.logs.slice(-lines).join('\n')}`;
}
