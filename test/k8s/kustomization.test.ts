import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { K8S_DIR, KUSTOMIZATION, Manifests, type Container, type Resource, type Workload } from '../support/k8s-manifests.js';

const m = new Manifests();
const kubectl = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0;
const id = (r: Resource) => `${r.kind}/${r.metadata.name}`;

describe('k8s/ is one kustomization that `kubectl apply -k k8s/` applies', () => {
  it('parses every file, each document a resource with apiVersion, kind and name', () => {
    const files = readdirSync(K8S_DIR, { withFileTypes: true }).filter((d) => d.isFile());
    expect(m.files.map((f) => f.file)).toEqual(files.map((d) => d.name).sort());
    expect(m.resources.length).toBeGreaterThan(10);
    for (const { file, resource } of m.resources) {
      expect(resource.apiVersion, file).toMatch(/^([a-z0-9.-]+\/)?v\d+((alpha|beta)\d+)?$/);
      expect(resource.kind, file).toMatch(/^[A-Z][A-Za-z]+$/);
      expect(resource.metadata?.name, file).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    }
  });

  it('lists every manifest file as a resource, and only files that exist', () => {
    const manifests = m.files.map((f) => f.file).filter((f) => f !== KUSTOMIZATION);
    expect([...m.kustomization.resources].sort()).toEqual(manifests);
  });

  it('names each resource once, in the namespace the kustomization sets', () => {
    const ids = m.resources.map((r) => id(r.resource));
    expect(new Set(ids).size).toBe(ids.length);
    const ns = m.get('Namespace', m.kustomization.namespace!);
    expect(ns.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
    for (const { resource } of m.resources) expect(resource.metadata.namespace, id(resource)).toBeUndefined();
  });

  it('gives Kubernetes strings where it wants strings, read as YAML 1.1 (`yes`, `true`, 8080 unquoted are not)', () => {
    const strings = (where: string, values: unknown) => {
      for (const [k, v] of Object.entries(values ?? {})) expect(typeof v, `${where}: ${k}`).toBe('string');
    };
    for (const { resource } of m.resources) {
      strings(`${id(resource)} labels`, resource.metadata.labels);
      strings(`${id(resource)} annotations`, resource.metadata.annotations);
      const r = resource as Resource & { data?: unknown; stringData?: unknown };
      strings(`${id(resource)} data`, r.data);
      strings(`${id(resource)} stringData`, r.stringData);
    }
    for (const w of [...m.all<Workload>('Deployment'), ...m.all<Workload>('StatefulSet')]) {
      strings(`${id(w)} pod annotations`, w.spec.template.metadata.annotations);
      const containers: Container[] = [...w.spec.template.spec.containers, ...(w.spec.template.spec.initContainers ?? [])];
      for (const c of containers) {
        strings(`${id(w)} ${c.name} command`, c.command);
        strings(`${id(w)} ${c.name} args`, c.args);
        for (const e of c.env ?? []) if (!e.valueFrom) expect(typeof e.value, `${id(w)} env ${e.name}`).toBe('string');
      }
    }
  });

  it('maps the image the Deployment names to a concrete repository and tag', () => {
    const images = new Set(m.all<Workload>('Deployment').flatMap((d) => d.spec.template.spec.containers.map((c) => c.image)));
    for (const image of m.kustomization.images ?? []) expect(images.has(image.name), image.name).toBe(true);
    expect(m.kustomization.images?.find((i) => i.name === 'presence-hub')?.newTag).toBeTruthy();
  });

  it("is described file by file in the README's Kubernetes section", () => {
    const section = /^## Kubernetes\n([\s\S]*?)^## /m.exec(readFileSync('README.md', 'utf8'))?.[1] ?? '';
    expect(section).toContain('kubectl apply -k k8s/');
    for (const file of m.kustomization.resources) expect(section, file).toContain(`| \`${file}\` |`);
  });

  it.skipIf(!kubectl)('renders with `kubectl kustomize` to the same resources, all in the namespace', () => {
    const out = execFileSync('kubectl', ['kustomize', K8S_DIR], { encoding: 'utf8' });
    const rendered = parseAllDocuments(out).map((d) => d.toJS() as Resource);
    expect(rendered.map(id).sort()).toEqual(m.resources.map((r) => id(r.resource)).sort());
    for (const r of rendered) if (r.kind !== 'Namespace') expect(r.metadata.namespace, id(r)).toBe(m.kustomization.namespace);
    const hub = rendered.find((r) => id(r) === 'Deployment/presence-hub') as Workload;
    const image = m.kustomization.images!.find((i) => i.name === 'presence-hub')!;
    expect(hub.spec.template.spec.containers[0]!.image).toBe(`${image.newName}:${image.newTag}`);
  });
});
