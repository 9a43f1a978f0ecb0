import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { loadCliEnv } from '../../shared/config/cli-config.js';

const USAGE = `usage: presence-hub apply -f <directory.yaml> [--dry-run] [--prune] [--url <base url>] [--key <admin key>]

Applies a declarative directory file through the admin API (POST /v1/directory/apply): people and
devices listed are created or updated, unchanged ones are left alone, and with --prune the ones not
listed are deleted. --url and --key default to PRESENCE_HUB_URL and PRESENCE_HUB_KEY.`;

export async function run(argv: string[], env: Record<string, string | undefined>, out: (s: string) => void): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      file: { type: 'string', short: 'f' },
      'dry-run': { type: 'boolean', default: false },
      prune: { type: 'boolean', default: false },
      url: { type: 'string' },
      key: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help || positionals[0] !== 'apply' || !values.file) {
    out(USAGE);
    return values.help ? 0 : 2;
  }
  const cliEnv = loadCliEnv(env);
  const url = values.url ?? cliEnv.PRESENCE_HUB_URL;
  const key = values.key ?? cliEnv.PRESENCE_HUB_KEY;
  if (!key) {
    out('error: give --key or set PRESENCE_HUB_KEY (an admin key of the tenant)');
    return 2;
  }
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(values.file, 'utf8'));
  } catch (err) {
    out(`error: cannot read ${values.file}: ${(err as Error).message}`);
    return 2;
  }
  const q = new URLSearchParams({ dryRun: String(values['dry-run']), prune: String(values.prune) });
  const res = await fetch(`${url.replace(/\/$/, '')}/v1/directory/apply?${q}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${key}` },
    body: JSON.stringify(doc),
  });
  const body = (await res.json().catch(() => ({}))) as { plan?: Record<string, unknown>; error?: { code: string; message: string; details?: unknown } };
  if (!res.ok || !body.plan) {
    out(`error ${res.status}: ${body.error?.code ?? 'unknown'}: ${body.error?.message ?? ''}`);
    if (body.error?.details) out(JSON.stringify(body.error.details, null, 2));
    return 1;
  }
  out(`${values['dry-run'] ? 'plan (dry run, nothing written)' : 'applied'}:`);
  out(JSON.stringify(body.plan, null, 2));
  return 0;
}
