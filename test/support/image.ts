import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { registerTempDir } from './child-group.js';

const run = promisify(execFile);
const REPO = resolve(import.meta.dirname, '../..');

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
  const nodeDir = dirname(dirname(node));
  const dir = await cachedDirectory(join(tmpdir(), `presence-hub-image-deps-${process.getuid?.() ?? 'user'}`), key, async (work) => {
    writeFileSync(join(work, 'package.json'), manifests[0]!);
    writeFileSync(join(work, 'package-lock.json'), manifests[1]!);
    await run('npm', ['ci', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund'], {
      cwd: work,
      maxBuffer: 64 << 20,
      // npm's own `#!/usr/bin/env node` then runs on the image's Node, and node-gyp builds against its headers.
      env: { ...process.env, PATH: `${dirname(node)}:${process.env.PATH}`, ...(node === process.execPath ? {} : { npm_config_nodedir: nodeDir }) },
    });
  });
  return join(dir, 'node_modules');
}

/**
 * `base/key`, filled by `fill` in a directory of its own and renamed into place only once complete.
 * Other test runs on the machine (other checkouts) share it: an entry in place is never replaced, as one
 * of them may be running from it, and a second run that filled one meanwhile throws its own away. `base`
 * is this user's and no one else may write to it: what is in it gets run.
 */
export async function cachedDirectory(base: string, key: string, fill: (dir: string) => Promise<void>): Promise<string> {
  mkdirSync(base, { recursive: true, mode: 0o700 });
  const owner = lstatSync(base);
  if (!owner.isDirectory() || (process.getuid !== undefined && owner.uid !== process.getuid()) || (owner.mode & 0o022) !== 0) {
    throw new Error(`${base} is not a directory only this user can write to`);
  }
  const done = join(base, key);
  if (existsSync(done)) return done;
  const work = mkdtempSync(`${done}.`);
  try {
    await fill(work);
    renameSync(work, done);
  } catch (err) {
    rmSync(work, { recursive: true, force: true });
    // Another run put the same entry in place first (a directory is not renamed over a non-empty one).
    if (!existsSync(done)) throw err;
  }
  return done;
}
