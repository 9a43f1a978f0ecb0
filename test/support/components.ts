import { accessSync, constants, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, it } from 'vitest';
import { killLiveSince, printLogs, processesSince, spawnMark } from './child-group.js';

/**
 * Real components the end-to-end suites start. A name not listed here is
 * treated as a plain binary (`describeWith(['baresip'], …)`).
 */
export type Component = 'kamailio' | 'kamailio-tls' | 'sipp' | 'redis' | 'chromium';

const BINARY: Record<Component, string> = {
  kamailio: 'kamailio',
  // Kamailio with its TLS module, for startKamailio({ tls: true }).
  'kamailio-tls': 'kamailio',
  sipp: 'sipp',
  redis: 'redis-server',
  chromium: 'chromium',
};

// Kamailio and friends live in sbin, which a non-root PATH on Debian lacks.
const EXTRA_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/local/bin', '/usr/bin', '/bin'];

// Modules kamailio/presence-server.cfg and kamailio/routing-proxy.cfg load that ship outside the core
// package (kamailio-presence-modules, kamailio-utils-modules, kamailio-json-modules), and for
// 'kamailio-tls' the one its TLS listener loads (kamailio-tls-modules).
const KAMAILIO_MODULES = ['presence.so', 'presence_xml.so', 'presence_dialoginfo.so', 'auth.so', 'http_client.so', 'rtjson.so', 'json.so'];
const KAMAILIO_TLS_MODULES = [...KAMAILIO_MODULES, 'tls.so'];

export const INSTALL_HINT = 'run scripts/install-test-deps.sh';

/** Absolute path of an executable found on PATH or in the usual (s)bin directories; a path is taken as it is. */
export function findBinary(name: string): string | undefined {
  if (hidden().has(name)) return undefined;
  const dirs = name.includes('/') ? [''] : [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...EXTRA_DIRS];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      /* keep looking */
    }
  }
  return undefined;
}

export function haveBinary(name: string): boolean {
  return findBinary(name) !== undefined;
}

/** Like findBinary, but throws the install hint: for start functions. */
export function requireBinary(name: string): string {
  const path = findBinary(name);
  if (!path) throw new Error(`${name} not found (${INSTALL_HINT})`);
  return path;
}

/** Why each component is unusable here; empty when all are present. */
export function missingComponents(components: readonly (Component | string)[]): string[] {
  const missing: string[] = [];
  for (const c of components) {
    if (hidden().has(c)) {
      missing.push(`${c} (hidden by TEST_HIDE_COMPONENTS)`);
      continue;
    }
    const binary = BINARY[c as Component] ?? c;
    if (!haveBinary(binary)) {
      missing.push(`${c} (no ${binary} executable)`);
      continue;
    }
    if (c === 'kamailio' || c === 'kamailio-tls') {
      const absent = missingKamailioModules(c === 'kamailio' ? KAMAILIO_MODULES : KAMAILIO_TLS_MODULES);
      if (absent.length) missing.push(`kamailio modules ${absent.join(', ')}`);
    }
  }
  return missing;
}

/** CI=true turns a missing component into a failure instead of a skip. */
export function componentsRequired(): boolean {
  return /^(true|1|yes)$/i.test(process.env.CI ?? '');
}

/**
 * `describe` for a suite that needs real components. When one is missing the
 * suite is skipped with the reason in its name, or, with CI=true, replaced by a
 * failing test so a broken CI image can never pass silently. Inside, the log
 * tails of every component that was running are printed when a test fails,
 * and whatever the suite started and did not stop is killed when it ends.
 *
 * @example
 * describeWith(['kamailio', 'sipp'], 'publish to kamailio', () => {
 *   let kam: RunningKamailio;
 *   beforeAll(async () => { kam = await startKamailio(); });
 *   afterAll(() => kam?.stop());
 *   it('...', async () => { ... });
 * });
 */
export function describeWith(components: readonly (Component | string)[], name: string, fn: () => void): void {
  const missing = missingComponents(components);
  if (missing.length === 0) {
    describe(name, () => {
      printComponentLogsOnFailure();
      killLeftoversAfterAll();
      fn();
    });
    return;
  }
  const reason = `missing ${missing.join('; ')} (${INSTALL_HINT})`;
  if (componentsRequired()) {
    describe(name, () => {
      it(`needs ${components.join(', ')}`, () => {
        throw new Error(`CI=true and ${reason}`);
      });
    });
    return;
  }
  console.warn(`[harness] skipping "${name}": ${reason}`);
  // The real body is not even collected: its describe-level code may need the component.
  describe.skip(`${name} [skipped: ${reason}]`, () => {
    it(`needs ${components.join(', ')}`, () => {});
  });
}

/** Registers a hook that dumps component logs when a test of the current suite fails. */
export function printComponentLogsOnFailure(): void {
  beforeEach(({ onTestFailed }) => {
    const since = Date.now();
    onTestFailed(() => printLogs(processesSince(since)));
  });
}

/**
 * Registered before the suite's own hooks, so it runs after its afterAll
 * (vitest runs after-hooks in reverse): only real leaks are left by then.
 */
function killLeftoversAfterAll(): void {
  let mark = 0;
  beforeAll(() => {
    mark = spawnMark();
  });
  afterAll(async () => {
    const leaked = await killLiveSince(mark);
    if (leaked.length) console.warn(`[harness] killed processes the suite left running: ${leaked.map((p) => p.name).join(', ')}`);
  });
}

let kamailioModuleDirs: string[] | undefined;
function missingKamailioModules(modules: readonly string[]): string[] {
  if (!kamailioModuleDirs) {
    let dir: string | undefined;
    try {
      const info = execFileSync(findBinary('kamailio')!, ['-I'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 });
      dir = /Default paths to modules:\s*(\S+)/.exec(info)?.[1];
    } catch {
      /* fall through: reported below */
    }
    kamailioModuleDirs = dir?.split(':') ?? [];
  }
  if (kamailioModuleDirs.length === 0) return ['(kamailio -I gave no module path)'];
  return modules.filter((m) => !kamailioModuleDirs!.some((d) => existsSync(join(d, m))));
}

/**
 * TEST_HIDE_COMPONENTS=kamailio,sipp pretends those are not installed, to
 * check the skip / CI=true failure paths on a machine that has everything.
 */
function hidden(): Set<string> {
  return new Set((process.env.TEST_HIDE_COMPONENTS ?? '').split(',').map((s) => s.trim()).filter(Boolean));
}
