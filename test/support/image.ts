import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { registerTempDir } from './child-group.js';

const run = promisify(execFile);
const REPO = resolve(import.meta.dirname, '../..');

/** What the Dockerfile says about the image it builds, read from the file itself so the test follows it. */
export interface ImageRecipe {
  /** The major of every `FROM node:<major>…` stage. */
  nodeMajor: number;
  /** The final stage's `ENV`. */
  env: Record<string, string>;
  /** The final stage's `CMD` (exec form). */
  cmd: string[];
  /** The `HEALTHCHECK` command (shell form, as Docker runs it with `/bin/sh -c`). */
  healthcheck: string;
}

export function readDockerfile(text: string): ImageRecipe {
  const lines = text.replace(/\\\n/g, ' ').split('\n');
  const majors = new Set(lines.flatMap((l) => /^FROM\s+node:(\d+)/.exec(l)?.[1] ?? []));
  if (majors.size !== 1) throw new Error(`expected one Node major in the FROM lines, found ${[...majors].join(', ') || 'none'}`);
  const final = lines.slice(lines.findLastIndex((l) => l.startsWith('FROM ')));
  const env = Object.fromEntries(
    final.filter((l) => l.startsWith('ENV ')).flatMap((l) => l.slice(4).trim().split(/\s+/).map((kv) => kv.split('=') as [string, string])),
  );
  const cmd = final.find((l) => l.startsWith('CMD '));
  const healthcheck = /^HEALTHCHECK\s.*?\sCMD\s+(.*)$/m.exec(lines.join('\n'))?.[1];
  if (!cmd || !healthcheck) throw new Error('the Dockerfile has no CMD or HEALTHCHECK');
  return { nodeMajor: Number([...majors][0]), env, cmd: JSON.parse(cmd.slice(4)) as string[], healthcheck: healthcheck.trim() };
}

/**
 * The image's Node binary: this one when the majors match, otherwise the one scripts/install-test-deps.sh
 * fetches from the npm registry (`node-linux-<arch>`, which carries the headers native addons build with).
 */
export function imageNode(major: number): string {
  if (Number(process.versions.node.split('.')[0]) === major) return process.execPath;
  return join(REPO, '.tmp', `node-${major}`, 'node_modules', `node-linux-${process.arch}`, 'bin', 'node');
}

/**
 * Lays out what the Dockerfile's final stage holds: `dist` from the build stage (`npm run build`), the
 * production dependencies (`npm ci --omit=dev`, run by the image's Node so better-sqlite3 is built for it)
 * and package.json. Outside the checkout, so no import can fall back on the checkout's node_modules and
 * its devDependencies. The dependencies are cached in the system's temporary directory by lockfile and
 * Node version; `dist` is built afresh. Returns the directory.
 */
export async function assembleImage(node: string): Promise<string> {
  const app = registerTempDir(mkdtempSync(join(tmpdir(), 'ph-image-')));
  await run(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', join(app, 'dist')], { cwd: REPO });
  cpSync(join(REPO, 'package.json'), join(app, 'package.json'));
  symlinkSync(await productionDependencies(node), join(app, 'node_modules'));
  return app;
}

async function productionDependencies(node: string): Promise<string> {
  const { stdout: version } = await run(node, ['--version']);
  const manifests = ['package.json', 'package-lock.json'].map((f) => readFileSync(join(REPO, f)));
  const key = createHash('sha256').update(version).update(manifests[0]!).update(manifests[1]!).digest('hex').slice(0, 16);
  const done = join(tmpdir(), 'presence-hub-image-deps', key);
  if (existsSync(done)) return join(done, 'node_modules');
  const work = `${done}.${process.pid}`;
  mkdirSync(work, { recursive: true });
  writeFileSync(join(work, 'package.json'), manifests[0]!);
  writeFileSync(join(work, 'package-lock.json'), manifests[1]!);
  const nodeDir = dirname(dirname(node));
  await run('npm', ['ci', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund'], {
    cwd: work,
    maxBuffer: 64 << 20,
    // npm's own `#!/usr/bin/env node` then runs on the image's Node, and node-gyp builds against its headers.
    env: { ...process.env, PATH: `${dirname(node)}:${process.env.PATH}`, ...(node === process.execPath ? {} : { npm_config_nodedir: nodeDir }) },
  });
  rmSync(done, { recursive: true, force: true });
  renameSync(work, done);
  return join(done, 'node_modules');
}
