import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { run } from '../../services/cli/apply-command.js';
import { ADMIN_KEY, startTestHub, type TestHub } from '../support/hub.js';

const FILE = `
tenant: acme
name: Acme Support
settings: { allowPrivateTargets: true, wrapUpSeconds: 20 }
people:
  - id: alice
    name: Alice
    extension: "1001"
    sipUri: sip:alice@example.test
    timeZone: Europe/Berlin
    workingHours: { mon: [["08:00", "17:00"]] }
    teams: [support]
    skills: { french: 3 }
    devices:
      - { id: alice-desk, kind: desk, contact: "sip:alice@192.0.2.10" }
  - id: bob
    name: Bob
    extension: "1002"
    devices:
      - { id: bob-soft, kind: softphone }
`;

describe('presence-hub apply -f directory.yaml', () => {
  let h: TestHub;
  let url: string;
  let file: string;
  const lines: string[] = [];
  const cli = (...args: string[]) => run(['apply', '-f', file, '--url', url, ...args], { PRESENCE_HUB_KEY: ADMIN_KEY }, (s) => lines.push(s));

  beforeEach(async () => {
    h = await startTestHub();
    url = await h.listen();
    file = join(h.dir, 'directory.yaml');
    writeFileSync(file, FILE);
    lines.length = 0;
  });
  afterEach(() => h.stop());

  it('creates, then is idempotent, through the same path as the admin API', async () => {
    expect(await cli('--dry-run')).toBe(0);
    expect((await h.get('/v1/people').expect(200)).body.people).toEqual([]);
    expect(await cli()).toBe(0);
    expect(lines.join('\n')).toContain('"created": [\n      "alice",\n      "bob"');
    const alice = (await h.get('/v1/people/alice').expect(200)).body;
    expect(alice).toMatchObject({ extension: '1001', timeZone: 'Europe/Berlin', skills: { french: 3 } });
    expect((await h.get('/v1/tenant')).body.tenant).toMatchObject({ name: 'Acme Support', settings: { wrapUpSeconds: 20 } });
    lines.length = 0;
    expect(await cli()).toBe(0);
    const plan = JSON.parse(lines.slice(1).join('\n'));
    expect(plan).toEqual({
      tenant: 'unchanged',
      people: { created: [], updated: [], unchanged: ['alice', 'bob'], deleted: [] },
      devices: { created: [], updated: [], unchanged: ['alice-desk', 'bob-soft'], deleted: [] },
      groups: { created: [], updated: [], unchanged: [], deleted: [] },
      targets: { created: [], updated: [], unchanged: [], deleted: [] },
    });
    // Working hours from the file reach the merge (Monday 09:30Z is 10:30 in Berlin: inside).
    expect((await h.get('/v1/presence/alice')).body.explanation).toContainEqual(expect.objectContaining({ signal: 'directory:working-hours', verdict: 'inactive' }));
  });

  it('prunes what is not listed only when asked', async () => {
    await cli();
    writeFileSync(file, FILE.replace(/ {2}- id: bob[\s\S]*$/, ''));
    lines.length = 0;
    await cli();
    expect((await h.get('/v1/people')).body.people.map((p: { id: string }) => p.id)).toEqual(['alice', 'bob']);
    await cli('--prune');
    expect((await h.get('/v1/people')).body.people.map((p: { id: string }) => p.id)).toEqual(['alice']);
    await h.get('/v1/people/bob').expect(404);
  });

  it('a file that breaks a unique field writes nothing', async () => {
    await cli();
    writeFileSync(file, FILE.replace('extension: "1002"', 'extension: "1001"').replace('name: Alice', 'name: Alice Renamed'));
    lines.length = 0;
    expect(await cli()).toBe(1);
    expect(lines[0]).toContain('409: extension_taken');
    expect((await h.get('/v1/people/alice')).body.name).toBe('Alice');
    expect((await h.get('/v1/people/bob')).body.extension).toBe('1002');
  });

  it('rejects a file for another tenant or with invalid fields, with details', async () => {
    writeFileSync(file, FILE.replace('tenant: acme', 'tenant: other'));
    expect(await cli()).toBe(1);
    expect(lines.join()).toContain('tenant_mismatch');
    lines.length = 0;
    writeFileSync(file, FILE.replace('Europe/Berlin', 'Mars/Olympus'));
    expect(await cli()).toBe(1);
    expect(lines.join()).toContain('invalid_body');
    expect(lines.join()).toContain('people.0.timeZone');
  });
});

describe('apply: push targets', () => {
  it('creates targets with sealed secrets, is idempotent, and prunes', async () => {
    const h = await startTestHub();
    try {
      const url = await h.listen();
      const dir = h.dir;
      const file = join(dir, 't.yaml');
      const lines: string[] = [];
      const cli = (...args: string[]) => run(['apply', '-f', file, '--url', url, ...args], { PRESENCE_HUB_KEY: ADMIN_KEY }, (s) => lines.push(s));
      const doc = (extra = '') => `
tenant: acme
settings: { allowPrivateTargets: true, wrapUpSeconds: 0 }
targets:
  - { id: asterisk, kind: ari, name: Asterisk, baseUrl: "http://127.0.0.1:8088", username: presence, password: s3cret }
${extra}`;
      writeFileSync(file, doc('  - { id: hook, kind: webhook, name: CRM, url: "http://127.0.0.1:9/hook" }'));
      expect(await cli()).toBe(0);
      const plan = JSON.parse(lines.slice(1).join('\n'));
      expect(plan.targets.created).toEqual(['asterisk', 'hook']);
      expect(plan.secrets.hook).toMatch(/^whsec_/);
      lines.length = 0;
      expect(await cli()).toBe(0);
      expect(JSON.parse(lines.slice(1).join('\n')).targets).toEqual({ created: [], updated: [], unchanged: ['asterisk', 'hook'], deleted: [] });
      writeFileSync(file, doc().replace('s3cret', 'n3w'));
      lines.length = 0;
      expect(await cli('--prune')).toBe(0);
      expect(JSON.parse(lines.slice(1).join('\n')).targets).toEqual({ created: [], updated: ['asterisk'], unchanged: [], deleted: ['hook'] });
      const listed = (await h.get('/v1/targets')).body.targets;
      expect(listed.map((t: { id: string }) => t.id)).toEqual(['asterisk']);
      expect(JSON.stringify(listed)).not.toContain('n3w');
    } finally {
      await h.stop();
    }
  });
});
