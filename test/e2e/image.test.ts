import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { signPbxRequest } from '../../services/api/auth.js';
import { makeTempDir } from '../support/child-group.js';
import { describeWith } from '../support/components.js';
import { readDockerfile } from '../support/dockerfile.js';
import { assembleImage, imageNode } from '../support/image.js';
import { startService, type ServiceProcess } from '../support/service-process.js';

const run = promisify(execFile);
const ADMIN = 'image-admin-key-0123456789abcdef';
const ENCRYPTION_KEY = randomBytes(32).toString('base64');
const recipe = readDockerfile();
const node = imageNode(recipe.nodeMajor);
/** What the container runs, with the image's `node` for a `node` on its PATH. */
const onImageNode = ([bin, ...args]: readonly string[]): [string, string[]] => [bin === 'node' ? node : bin!, args];
const [command, commandArgs] = onImageNode([...(recipe.entrypoint ?? []), ...recipe.cmd]);

// The image itself needs Docker, which CI machines lack; what it runs is assembled here stage by stage,
// on the image's Node, with only the production dependencies (a devDependency imported at run time
// would crash the container at start and pass every other suite, which runs the sources through tsx).
describeWith([node], `the container image on Node ${recipe.nodeMajor}, assembled as the Dockerfile builds it`, () => {
  let app: string;
  let svc: ServiceProcess | undefined;
  const data = makeTempDir('ph-image-data-');
  // The image's environment, with loopback and a free port instead of 0.0.0.0:8080 (tests stay on loopback).
  const env = { ...recipe.env, HOST: '127.0.0.1', PORT: '0', DATA_DIR: data, BOOTSTRAP_ADMIN_KEY: ADMIN, ENCRYPTION_KEY };
  const start = async () => (svc = await startService(env, [], { node: command, args: commandArgs, cwd: app }));
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test JSON
  const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => {
    const res = await fetch(`${svc!.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${ADMIN}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  /** The Dockerfile's HEALTHCHECK, as Docker runs it, with the image's PATH and PORT. */
  const healthcheck = () =>
    run(...onImageNode(recipe.healthcheck!), { cwd: app, env: { PATH: `${dirname(node)}:/usr/bin:/bin`, PORT: new URL(svc!.url).port }, timeout: 10_000 }).then(
      () => 0,
      (err: { code?: number }) => err.code ?? -1,
    );

  beforeAll(async () => {
    // Long: a first run compiles better-sqlite3 for the image's Node while the other suites hold the cores.
    app = await assembleImage(node);
  }, 900_000);
  afterAll(async () => {
    await svc?.kill();
  });

  it(`is Node ${recipe.nodeMajor}`, async () => {
    expect((await run(node, ['--version'])).stdout).toMatch(new RegExp(`^v${recipe.nodeMajor}\\.`));
  });

  it('starts with the image command, passes its healthcheck, takes a signed PBX batch and the CLI, stops on SIGTERM and keeps its data', async () => {
    await start();
    expect(await healthcheck()).toBe(0);
    expect(await call('GET', '/readyz')).toEqual({ status: 200, body: { status: 'ready', store: 'embedded' } });
    expect((await call('GET', '/openapi.json')).status).toBe(200);

    expect((await call('PUT', '/v1/people/alice', { name: 'Alice', extension: '1001' })).status).toBe(201);
    expect((await call('PUT', '/v1/people/alice/devices/alice-desk', { kind: 'desk', contact: 'sip:alice@192.0.2.10' })).status).toBe(201);
    const pbx = await call('POST', '/v1/keys', { name: 'pbx', role: 'pbx' });
    const body = JSON.stringify({ events: [{ type: 'registered', device: 'alice-desk', at: Date.now() - 1000 }, { type: 'answered', device: 'alice-desk', at: Date.now() }] });
    const ts = String(Math.floor(Date.now() / 1000));
    const posted = await fetch(`${svc!.url}/v1/pbx/events`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Presence-Key-Id': pbx.body.signingKeyId, 'X-Presence-Timestamp': ts, 'X-Presence-Signature': signPbxRequest(pbx.body.secret, ts, body) },
      body,
    });
    expect(posted.status).toBe(200);
    expect((await call('GET', '/v1/presence/alice')).body).toMatchObject({ availability: 'busy', activity: 'on-call', routable: false });

    // The CLI the package's `bin` names, from the image's files alone.
    const file = join(data, 'directory.yaml');
    writeFileSync(file, 'tenant: default\npeople:\n  - { id: bob, name: Bob, extension: "1002" }\n');
    const bin = (JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin['presence-hub']!;
    const cli = await run(node, [bin, 'apply', '-f', file], { cwd: app, env: { PATH: process.env.PATH, PRESENCE_HUB_URL: svc!.url, PRESENCE_HUB_KEY: ADMIN } });
    expect(cli.stdout).toMatch(/bob/);
    expect((await call('GET', '/v1/people/bob')).body).toMatchObject({ name: 'Bob', extension: '1002' });

    // The WAL checkpoint thread loads from the build (`checkpoint-worker.js` beside its starter), or says it stopped.
    expect(svc!.logs.join('\n')).not.toContain('checkpoint thread');
    expect(await svc!.stop()).toBe(0);
    expect(await healthcheck()).not.toBe(0);
    await start();
    expect((await call('GET', '/v1/people')).body.people.map((p: { id: string }) => p.id).sort()).toEqual(['alice', 'bob']);
    expect((await call('GET', '/v1/people/alice/devices')).body.devices).toEqual([expect.objectContaining({ id: 'alice-desk' })]);
    expect(svc!.logs.join('\n')).not.toContain(ADMIN);
    expect(svc!.logs.join('\n')).not.toContain(ENCRYPTION_KEY);
  });

  it("starts as the README's quick start does (`npm start`) and stops with npm on SIGTERM, leaving no service behind", async () => {
    await svc?.stop();
    svc = await startService({ ...env, PATH: `${dirname(node)}:${process.env.PATH}` }, [], { node: 'npm', args: ['start', '--silent'], cwd: app });
    expect((await fetch(`${svc.url}/healthz`)).ok).toBe(true);
    await svc.stop();
    // A service orphaned by npm (npm passes SIGTERM to `sh -c`, not to what sh runs) would still answer.
    await expect(fetch(`${svc.url}/healthz`)).rejects.toThrow();
    expect(svc.logs.join('\n')).toMatch(/"signal":"SIGTERM".*shutting down/);
  });
});
