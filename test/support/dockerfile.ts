import { readFileSync } from 'node:fs';

/** What the image a Dockerfile's last stage builds runs with. */
export interface ImageSpec {
  /** CMD in exec (JSON) form. */
  cmd: string[];
  entrypoint?: string[];
  user?: string;
  env: Record<string, string>;
  /** `8080/tcp`, `5062/udp` … (EXPOSE without a protocol means tcp). */
  expose: string[];
}

/** Instructions of the last stage, continuation lines joined and comments dropped. */
function lastStage(text: string): { op: string; arg: string }[] {
  const joined = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ');
  const all = joined
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const m = /^(\w+)\s+(.*)$/.exec(l);
      if (!m) throw new Error(`Dockerfile: cannot read "${l}"`);
      return { op: m[1]!.toUpperCase(), arg: m[2]!.trim() };
    });
  const from = all.map((i) => i.op).lastIndexOf('FROM');
  return all.slice(from);
}

function execForm(op: string, arg: string): string[] {
  const parsed: unknown = JSON.parse(arg);
  if (!Array.isArray(parsed) || !parsed.every((p) => typeof p === 'string')) throw new Error(`Dockerfile ${op}: use the exec (JSON) form`);
  return parsed;
}

/** `KEY=value KEY2="value 2"` (the only ENV form the project uses). */
function envPairs(arg: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of arg.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("([^"]*)"|\S*)/g)) out[m[1]!] = m[3] ?? m[2]!;
  return out;
}

export function readDockerfile(path = 'Dockerfile'): ImageSpec {
  const spec: ImageSpec = { cmd: [], env: {}, expose: [] };
  for (const { op, arg } of lastStage(readFileSync(path, 'utf8'))) {
    if (op === 'CMD') spec.cmd = execForm(op, arg);
    if (op === 'ENTRYPOINT') spec.entrypoint = execForm(op, arg);
    if (op === 'USER') spec.user = arg;
    if (op === 'ENV') Object.assign(spec.env, envPairs(arg));
    if (op === 'EXPOSE') spec.expose.push(...arg.split(/\s+/).map((p) => (p.includes('/') ? p.toLowerCase() : `${p}/tcp`)));
  }
  return spec;
}
