import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { findBinary } from './components.js';
import { startChild, tail, type Child } from './processes.js';

const SCENARIOS = resolve('test/support/routing-e2e/scenarios');

function sipp(): string {
  const bin = findBinary('sipp');
  if (!bin) throw new Error('sipp not found (run scripts/install-test-deps.sh)');
  return bin;
}

/** A SIPp phone (UAS) on 127.0.0.1:`port` that keeps answering calls as its scenario says until stopped. */
export interface Phone {
  name: string;
  port: number;
  uri: string;
  process: Child;
  /** INVITEs this phone has received so far. */
  invites(): number;
  stop(): Promise<void>;
}

export async function startPhone(name: string, port: number, scenario: 'answer' | 'busy' | 'no-answer'): Promise<Phone> {
  const dir = mkdtempSync(join(tmpdir(), `ph-sipp-${name}-`));
  const log = join(dir, 'messages.log');
  const proc = startChild(`sipp ${name}`, sipp(), [
    '-sf',
    join(SCENARIOS, `phone-${scenario}.xml`),
    '-i',
    '127.0.0.1',
    '-p',
    String(port),
    '-t',
    'u1',
    '-nostdin',
    '-bg',
    '-trace_msg',
    '-message_file',
    log,
  ]);
  // With -bg SIPp forks and the parent exits at once; the phone runs until killed by its pid.
  await proc.exited;
  const pid = Number(/PID=\[(\d+)\]/.exec(proc.logs.join('\n'))?.[1]);
  if (!pid) throw new Error(`sipp ${name} did not start\n${tail(proc)}`);
  return {
    name,
    port,
    uri: `sip:${name}@127.0.0.1:${port}`,
    process: proc,
    invites: () => (existsSync(log) ? (readFileSync(log, 'utf8').match(/^INVITE sip:/gm)?.length ?? 0) : 0),
    async stop() {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface CallResult {
  code: number | null;
  output: string;
}

/**
 * One call from a SIPp caller on 127.0.0.1:`port` to `dialled` through the proxy. `answered` expects a
 * 200 (then ACK and BYE through the record-routed proxy); otherwise `rejected` expects that final status.
 */
export async function call(opts: { proxyPort: number; port: number; dialled: string; expect: 'answered' | 480 | 486 | 503 }): Promise<CallResult> {
  const scenario = opts.expect === 'answered' ? 'caller-answered.xml' : `caller-rejected-${opts.expect}.xml`;
  const proc = startChild('sipp caller', sipp(), [
    `127.0.0.1:${opts.proxyPort}`,
    '-sf',
    join(SCENARIOS, scenario),
    '-s',
    opts.dialled,
    '-m',
    '1',
    '-i',
    '127.0.0.1',
    '-p',
    String(opts.port),
    '-t',
    'u1',
    '-nostdin',
    '-timeout',
    '20',
    '-timeout_error',
  ]);
  const code = await proc.exited;
  return { code, output: tail(proc) };
}
