import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../support/child-group.js';
import { parseDockerfile } from '../support/dockerfile.js';
import { cachedDirectory } from '../support/image.js';

// How test/e2e/image.test.ts reads the Dockerfile and keeps the image's dependencies between runs.

describe('the Dockerfile, read as Docker reads it', () => {
  it('takes every stage’s Node major, the last stage’s quoted ENV values, ENTRYPOINT and an exec-form HEALTHCHECK', () => {
    const spec = parseDockerfile(
      [
        'FROM --platform=$BUILDPLATFORM node:24-bookworm-slim AS build',
        'RUN npm ci',
        'FROM node:24-bookworm-slim',
        '# CMD ["not", "this"]',
        'ENV GREETING="hello world" \\',
        '    URL=http://127.0.0.1/?a=b',
        'ENTRYPOINT ["tini", "--"]',
        'healthcheck --interval=15s cmd ["node", "health.js"]',
        'CMD ["node", "dist/services/main.js"]',
      ].join('\n'),
    );
    expect(spec).toMatchObject({
      nodeMajor: 24,
      env: { GREETING: 'hello world', URL: 'http://127.0.0.1/?a=b' },
      entrypoint: ['tini', '--'],
      healthcheck: ['node', 'health.js'],
      cmd: ['node', 'dist/services/main.js'],
    });
  });

  it('runs a shell-form HEALTHCHECK through /bin/sh -c, and refuses stages on different Node majors', () => {
    expect(parseDockerfile('FROM node:24\nHEALTHCHECK --retries=3 CMD node -e "x()"\nCMD ["node"]').healthcheck).toEqual(['/bin/sh', '-c', 'node -e "x()"']);
    expect(() => parseDockerfile('FROM node:22 AS build\nFROM node:24\nCMD ["node"]')).toThrow(/one Node major/);
  });
});

describe('a cached directory shared by test runs on the machine', () => {
  const fillWith = (text: string, gate?: Promise<void>) => async (dir: string) => {
    await gate;
    writeFileSync(join(dir, 'made-by'), text);
  };

  it('is filled once: a run that filled it too late keeps the entry already in place, which another run may be using', async () => {
    const base = join(makeTempDir('ph-cache-'), 'cache');
    let release!: () => void;
    const slow = cachedDirectory(base, 'k', fillWith('slow', new Promise((r) => (release = r))));
    const fast = await cachedDirectory(base, 'k', fillWith('fast'));
    expect(readFileSync(join(fast, 'made-by'), 'utf8')).toBe('fast');
    release();
    expect(await slow).toBe(fast);
    expect(readFileSync(join(fast, 'made-by'), 'utf8')).toBe('fast');
    expect(readdirSync(base)).toEqual(['k']);
    expect(await cachedDirectory(base, 'k', () => Promise.reject(new Error('not filled again')))).toBe(fast);
  });

  it('leaves nothing behind when filling fails, so the next run fills it', async () => {
    const base = join(makeTempDir('ph-cache-'), 'cache');
    await expect(cachedDirectory(base, 'k', () => Promise.reject(new Error('npm ci failed')))).rejects.toThrow('npm ci failed');
    expect(readdirSync(base)).toEqual([]);
    expect(readFileSync(join(await cachedDirectory(base, 'k', fillWith('again')), 'made-by'), 'utf8')).toBe('again');
  });

  it('refuses a directory others may write to: what is in it gets run', async () => {
    const base = join(makeTempDir('ph-cache-'), 'shared');
    mkdirSync(base);
    chmodSync(base, 0o777);
    await expect(cachedDirectory(base, 'k', fillWith('x'))).rejects.toThrow(/only this user/);
  });
});
