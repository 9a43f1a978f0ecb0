import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { describeWith, findBinary } from '../support/components.js';
import { K8S_DIR, Manifests, type Resource } from '../support/k8s-manifests.js';

/**
 * The alerts as Prometheus itself evaluates them (`promtool`, Debian `prometheus`): which fire, for whom,
 * with which words, over scripted series from several replicas. A small office and a 20 000-seat site,
 * a retired PBX, one broken calendar tenant among healthy ones.
 */
describeWith(['promtool'], 'the PrometheusRule under promtool', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ph-rules-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const [rule] = new Manifests(join(K8S_DIR, 'monitoring')).all<Resource & { spec: { groups: unknown[] } }>('PrometheusRule');
  writeFileSync(join(dir, 'rules.yml'), stringify({ groups: rule!.spec.groups }));
  copyFileSync(fileURLToPath(new URL('./alert-rules.promtool.yaml', import.meta.url)), join(dir, 'tests.yml'));
  const promtool = (...args: string[]) => {
    try {
      return execFileSync(findBinary('promtool')!, args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string };
      throw new Error(`promtool ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
    }
  };

  it('every rule is valid Prometheus', () => {
    expect(promtool('check', 'rules', 'rules.yml')).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('each alert fires exactly where its scenario says, with its labels and words', () => {
    expect(promtool('test', 'rules', 'tests.yml')).toMatch(/SUCCESS/);
  });
});
