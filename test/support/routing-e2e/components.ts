import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { describe, it } from 'vitest';

// Kamailio lives in sbin, which a non-root PATH on Debian lacks.
const EXTRA_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/local/bin', '/usr/bin', '/bin'];
const BINARIES = { kamailio: 'kamailio', sipp: 'sipp' } as const;
/** The modules kamailio/routing-proxy.cfg loads from kamailio-utils-modules and kamailio-json-modules. */
const MODULES = ['http_client.so', 'rtjson.so', 'json.so'];
const MODULE_DIRS = ['/usr/lib/x86_64-linux-gnu/kamailio/modules', '/usr/lib/aarch64-linux-gnu/kamailio/modules', '/usr/lib/kamailio/modules', '/usr/local/lib64/kamailio/modules'];
const INSTALL_HINT = 'run scripts/install-test-deps.sh';

export type Component = keyof typeof BINARIES;

export function findBinary(name: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...EXTRA_DIRS]) {
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

function missing(components: readonly Component[]): string[] {
  const out: string[] = [];
  for (const c of components) {
    if (!findBinary(BINARIES[c])) out.push(`${c} (no ${BINARIES[c]} executable)`);
    else if (c === 'kamailio') {
      const dir = MODULE_DIRS.find((d) => existsSync(join(d, 'tm.so')));
      const absent = MODULES.filter((m) => !dir || !existsSync(join(dir, m)));
      if (absent.length > 0) out.push(`kamailio modules ${absent.join(', ')}`);
    }
  }
  return out;
}

/**
 * `describe` for a suite that needs real components: skipped with the reason when one is missing, or,
 * with CI=true, a failing test, so that a CI image without them can never pass silently.
 */
export function describeWithComponents(components: readonly Component[], name: string, fn: () => void): void {
  const absent = missing(components);
  if (absent.length === 0) return void describe(name, fn);
  const reason = `missing ${absent.join('; ')} (${INSTALL_HINT})`;
  if (/^(true|1|yes)$/i.test(process.env.CI ?? '')) {
    describe(name, () => {
      it(`needs ${components.join(', ')}`, () => {
        throw new Error(`CI=true and ${reason}`);
      });
    });
    return;
  }
  console.warn(`skipping "${name}": ${reason}`);
  describe.skip(`${name} [skipped: ${reason}]`, () => {
    it(`needs ${components.join(', ')}`, () => {});
  });
}
