import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface ServiceProcess {
  url: string;
  child: ChildProcess;
  logs: string[];
  /** Graceful stop (SIGTERM), waiting for exit. */
  stop(): Promise<number | null>;
  /** `kill -9`. */
  kill(): Promise<void>;
}

/** Starts the real service (`services/main.ts` through tsx) on a free loopback port; `nodeArgs` go to node (e.g. `--cpu-prof`). */
export async function startService(env: Record<string, string>, nodeArgs: readonly string[] = []): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'services/main.ts'], {
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    // Generous: tsx compiles on start, and other suites may hold both cores.
    const timer = setTimeout(() => reject(new Error(`service did not start:\n${logs.join('\n')}`)), 60_000);
    child.once('exit', (code) => reject(new Error(`service exited with ${code}:\n${logs.join('\n')}`)));
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        logs.push(line);
        const m = /"port":(\d+).*presence hub listening/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve(`http://127.0.0.1:${m[1]}`);
        }
      });
    }
  });
  return {
    url,
    child,
    logs,
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}
