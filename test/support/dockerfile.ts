import { readFileSync } from 'node:fs';

/** What the image a Dockerfile's last stage builds runs with. */
export interface ImageSpec {
  /** The major of every `FROM node:<major>…` stage (they must agree: the build's Node is the image's). */
  nodeMajor: number;
  /** CMD in exec (JSON) form. */
  cmd: string[];
  entrypoint?: string[];
  user?: string;
  env: Record<string, string>;
  /** `8080/tcp`, `5062/udp` … (EXPOSE without a protocol means tcp). */
  expose: string[];
  /** The HEALTHCHECK command as Docker runs it: exec form as written, shell form through `/bin/sh -c`. */
  healthcheck?: string[];
}

/** Every instruction, continuation lines joined and comments dropped. */
function instructions(text: string): { op: string; arg: string }[] {
  const joined = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const m = /^(\w+)\s+(.*)$/.exec(l);
      if (!m) throw new Error(`Dockerfile: cannot read "${l}"`);
      return { op: m[1]!.toUpperCase(), arg: m[2]!.trim() };
    });
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

/** `[--option=value …] CMD <command>`: the command in exec form, or a shell form as `/bin/sh -c` runs it. */
function healthcheckCommand(arg: string): string[] {
  const m = /^(?:--\S+\s+)*CMD\s+(.*)$/i.exec(arg);
  if (!m) throw new Error(`Dockerfile HEALTHCHECK: no CMD in "${arg}"`);
  return m[1]!.startsWith('[') ? execForm('HEALTHCHECK', m[1]!) : ['/bin/sh', '-c', m[1]!];
}

export function parseDockerfile(text: string): ImageSpec {
  const all = instructions(text);
  const majors = new Set(all.filter((i) => i.op === 'FROM').flatMap((i) => /(?:^|\s)node:(\d+)/.exec(i.arg)?.[1] ?? []));
  if (majors.size !== 1) throw new Error(`Dockerfile: expected one Node major in the FROM lines, found ${[...majors].join(', ') || 'none'}`);
  const spec: ImageSpec = { nodeMajor: Number([...majors][0]), cmd: [], env: {}, expose: [] };
  for (const { op, arg } of all.slice(all.map((i) => i.op).lastIndexOf('FROM'))) {
    if (op === 'CMD') spec.cmd = execForm(op, arg);
    if (op === 'ENTRYPOINT') spec.entrypoint = execForm(op, arg);
    if (op === 'USER') spec.user = arg;
    if (op === 'ENV') Object.assign(spec.env, envPairs(arg));
    if (op === 'EXPOSE') spec.expose.push(...arg.split(/\s+/).map((p) => (p.includes('/') ? p.toLowerCase() : `${p}/tcp`)));
    if (op === 'HEALTHCHECK') spec.healthcheck = /^NONE$/i.test(arg) ? undefined : healthcheckCommand(arg);
  }
  return spec;
}

export function readDockerfile(path = 'Dockerfile'): ImageSpec {
  return parseDockerfile(readFileSync(path, 'utf8'));
}
