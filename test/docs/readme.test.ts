import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ACTIVITY_AVAILABILITY } from '../../shared/domain/activity.js';
import { DEFAULT_POLICY } from '../../shared/domain/policy.js';
import { envSchema } from '../../shared/config/config.js';
import { cliEnvSchema } from '../../shared/config/cli-config.js';
import { startTestHub, type TestHub } from '../support/hub.js';

const readme = readFileSync('README.md', 'utf8');

describe('the README tells the truth', () => {
  let h: TestHub;
  beforeAll(async () => {
    h = await startTestHub();
  });
  afterAll(() => h.stop());

  it('lists every route the service serves', () => {
    for (const r of h.routes) expect(readme, `${r.method.toUpperCase()} ${r.path}`).toContain(`| ${r.method.toUpperCase()} | \`${r.path}\` |`);
  });

  it('documents every environment variable', () => {
    for (const name of [...Object.keys(envSchema.shape), ...Object.keys(cliEnvSchema.shape)]) expect(readme, name).toContain(`\`${name}\``);
  });

  it('prints the activity → availability table as the code has it', () => {
    for (const [activity, availability] of Object.entries(DEFAULT_ACTIVITY_AVAILABILITY)) {
      expect(readme, activity).toContain(`| \`${activity}\` | \`${availability}\` |`);
    }
  });

  it('names every default policy rule in order', () => {
    const ids = [...readme.matchAll(/^\| \d+ \| `([a-z-]+)` \|/gm)].map((m) => m[1]);
    expect(ids).toEqual(DEFAULT_POLICY.rules.map((r) => r.id));
  });
});

describe('the README prints the ARI mapping as the code has it', () => {
  it('has every row', async () => {
    const { ARI_MAPPING_TABLE } = await import('../../services/publishers/ari-mapping.js');
    for (const [state, device] of ARI_MAPPING_TABLE) expect(readme).toContain(`| ${state} | \`${device}\` |`);
  });
});

describe('the README prints the RPID mapping as the code has it', () => {
  it('has every row', async () => {
    const { RPID_ACTIVITY, ACTIVITY_NOTE } = await import('../../shared/sip/pidf.js');
    for (const [activity, rpid] of Object.entries(RPID_ACTIVITY)) {
      expect(readme).toContain(`| \`${activity}\` | ${rpid === null ? '(none)' : `\`${rpid}\``} | ${ACTIVITY_NOTE[activity as keyof typeof ACTIVITY_NOTE]} |`);
    }
  });
});
