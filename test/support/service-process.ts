import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { makeTempDir } from './child-group.js';

export interface ServiceProcess {
  url: string;
  child: ChildProcess;
  logs: string[];
  /** Graceful stop (SIGTERM), waiting for exit. */
  stop(): Promise<number | null>;
  /** `kill -9`. */
  kill(): Promise<void>;
}

/** How to run the service: a Node binary, its arguments, and the directory they are relative to. */
export interface ServiceCommand {
  node: string;
  args: readonly string[];
  cwd?: string;
}

/** The sources through tsx, as the other end-to-end suites run it. */
const FROM_SOURCES: ServiceCommand = { node: process.execPath, args: ['--import', 'tsx', 'services/main.ts'] };

/**
 * Starts the real service on a free loopback port; `nodeArgs` go to node (e.g. `--cpu-prof`). By default
 * from the sources through tsx; `command` runs something else (the built image).
 */
export async function startService(env: Record<string, string>, nodeArgs: readonly string[] = [], command: ServiceCommand = FROM_SOURCES): Promise<ServiceProcess> {
  const child = spawn(command.node, [...nodeArgs, ...command.args], {
    cwd: command.cwd,
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

/**
 * The service with tenant `acme` (admin key `adminKey`) in a fresh data directory, SIP on a free loopback port; `env` adds to that.
 * The tenant allows private targets: the presence servers it publishes to listen on loopback.
 */
export async function startSipService(adminKey: string, env: Record<string, string> = {}): Promise<ServiceProcess> {
  const svc = await startService({
    DATA_DIR: makeTempDir('ph-sip-service-'),
    BOOTSTRAP_TENANT: 'acme',
    BOOTSTRAP_ADMIN_KEY: adminKey,
    ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    SIP_HOST: '127.0.0.1',
    SIP_PORT: '0',
    ...env,
  });
  const res = await fetch(`${svc.url}/v1/tenant`, {
    method: 'PUT',
    headers: { Authorization: `Bearer ${adminKey}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'acme', settings: { allowPrivateTargets: true, wrapUpSeconds: 0 } }),
  });
  if (res.status !== 200) throw new Error(`PUT /v1/tenant answered ${res.status}`);
  return svc;
}
