import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../shared/config/config.js';
import { readDockerfile } from '../support/dockerfile.js';
import { startTestHub, type TestHub } from '../support/hub.js';
import { containerPort, hubPod, Manifests, selects, type Container, type Hpa, type Pdb, type Probe, type SecurityContext, type Workload } from '../support/k8s-manifests.js';

const m = new Manifests();
const image = readDockerfile();
const { deployment: hub, container, values } = hubPod(m, image.env);
const pod = hub.spec.template.spec;
const config: Config = loadConfig(values);
const workloads = [...m.all<Workload>('Deployment'), ...m.all<Workload>('StatefulSet')];

describe('the Deployment runs the image the Dockerfile builds, as the README starts it', () => {
  it('keeps the image CMD, which is `npm start` and the README quick start', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: { start: string } };
    // Kubernetes: `command` replaces ENTRYPOINT, `args` replaces CMD.
    const effective = [...(container.command ?? image.entrypoint ?? []), ...(container.args ?? (container.command ? [] : image.cmd))];
    // npm runs the script through sh: `exec` makes the service the process npm passes SIGTERM on to.
    expect(pkg.scripts.start).toBe(`exec ${effective.join(' ')}`);
    expect(readFileSync('README.md', 'utf8')).toMatch(/^npm ci && npm run build && .*npm start$/m);
  });

  it('runs as the numeric user the Dockerfile sets, never root', () => {
    const [uid, gid] = (image.user ?? '').split(':').map(Number);
    expect(image.user, 'Dockerfile USER must be numeric uid:gid').toMatch(/^[1-9]\d*:[1-9]\d*$/);
    expect(pod.securityContext?.runAsUser).toBe(uid);
    expect(pod.securityContext?.runAsGroup).toBe(gid);
    expect(container.securityContext?.runAsUser ?? pod.securityContext?.runAsUser).toBe(uid);
  });

  it('exposes in the image every port the container declares', () => {
    for (const p of container.ports ?? []) expect(image.expose, p.name).toContain(`${p.containerPort}/${(p.protocol ?? 'TCP').toLowerCase()}`);
  });
});

describe('every workload in k8s/ is locked down (restricted Pod Security Standard)', () => {
  const effective = (w: Workload, c: Container): SecurityContext => ({ ...w.spec.template.spec.securityContext, ...c.securityContext });
  for (const w of workloads) {
    it(`${w.kind} ${w.metadata.name}`, () => {
      const spec = w.spec.template.spec;
      expect(spec.automountServiceAccountToken).toBe(false);
      for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
        const sc = effective(w, c);
        expect(sc.runAsNonRoot, c.name).toBe(true);
        expect(sc.runAsUser, c.name).toBeGreaterThan(0);
        expect(sc.allowPrivilegeEscalation, c.name).toBe(false);
        expect(sc.readOnlyRootFilesystem, c.name).toBe(true);
        expect(c.securityContext?.capabilities?.drop, c.name).toEqual(['ALL']);
        expect(c.securityContext?.capabilities?.add, c.name).toBeUndefined();
        expect(sc.seccompProfile?.type, c.name).toBe('RuntimeDefault');
        for (const r of ['cpu', 'memory']) {
          expect(c.resources?.requests?.[r], `${c.name} requests.${r}`).toBeTruthy();
          expect(c.resources?.limits?.[r], `${c.name} limits.${r}`).toBeTruthy();
        }
        expect(mebibytes(c.resources!.limits!.memory!)).toBeGreaterThanOrEqual(mebibytes(c.resources!.requests!.memory!));
      }
    });
  }
});

describe('the hub only writes where a volume is mounted', () => {
  const emptyDirs = new Set(pod.volumes?.filter((v) => v.emptyDir).map((v) => v.name));
  const writable = (path: string) => container.volumeMounts?.some((vm) => emptyDirs.has(vm.name) && !vm.readOnly && (path === vm.mountPath || path.startsWith(`${vm.mountPath}/`)));

  it('mounts DATA_DIR, the SQLite file and /tmp on emptyDirs', () => {
    expect(container.securityContext?.readOnlyRootFilesystem).toBe(true);
    expect(writable(config.dataDir), config.dataDir).toBe(true);
    expect(writable(dirname(config.sqlitePath)), config.sqlitePath).toBe(true);
    expect(writable('/tmp')).toBe(true);
  });
});

describe('probes and ports are the service’s own', () => {
  let h: TestHub;
  beforeAll(async () => {
    h = await startTestHub();
  });
  afterAll(() => h.stop());

  const probes = (): [string, Probe | undefined][] => [
    ['startup', container.startupProbe],
    ['liveness', container.livenessProbe],
    ['readiness', container.readinessProbe],
  ];

  it('probes liveness on /healthz and readiness on /readyz, the routes the service serves', async () => {
    expect(container.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect(container.readinessProbe?.httpGet?.path).toBe('/readyz');
    const served = new Set(h.routes.filter((r) => r.method === 'get').map((r) => r.path));
    for (const [kind, probe] of probes()) {
      const path = probe?.httpGet?.path;
      expect(path, kind).toBeDefined();
      expect(served.has(path!), `${kind} ${path}`).toBe(true);
      expect((await h.http.get(path!)).status, `${kind} ${path}`).toBe(200);
    }
  });

  it("probes the container's HTTP port, which is PORT", () => {
    for (const [kind, probe] of probes()) {
      const port = containerPort(container, probe!.httpGet!.port);
      expect(port?.containerPort, kind).toBe(config.port);
      expect(port?.protocol ?? 'TCP', kind).toBe('TCP');
    }
  });

  it('declares the SIP port, SIP_PORT, on UDP and on TCP', () => {
    const sip = (container.ports ?? []).filter((p) => p.containerPort === config.sip.port);
    expect(sip.map((p) => p.protocol).sort()).toEqual(['TCP', 'UDP']);
  });

  it('lets Prometheus scrape /metrics on the HTTP port', async () => {
    const a = hub.spec.template.metadata.annotations ?? {};
    expect(a['prometheus.io/scrape']).toBe('true');
    expect(Number(a['prometheus.io/port'])).toBe(config.port);
    const res = await h.http.get(String(a['prometheus.io/path']));
    expect(res.status).toBe(200);
    expect(res.text).toContain('presence_merges_total');
  });
});

describe('shutdown and availability', () => {
  it('gives the preStop pause plus SHUTDOWN_GRACE_MS less than terminationGracePeriodSeconds', () => {
    const pauseS = container.lifecycle?.preStop?.sleep?.seconds ?? 0;
    expect(pauseS).toBeGreaterThan(0);
    // The remainder closes the store and publishers after the connections are cut.
    expect(pod.terminationGracePeriodSeconds! * 1000 - pauseS * 1000 - config.shutdownGraceMs).toBeGreaterThanOrEqual(10_000);
  });

  it('runs 3 replicas, rolls without losing one, and spreads them over nodes', () => {
    expect(hub.spec.replicas).toBe(3);
    expect(selects(hub.spec.selector.matchLabels, hub.spec.template.metadata.labels)).toBe(true);
    const strategy = (hub.spec as { strategy?: { rollingUpdate?: { maxUnavailable?: number } } }).strategy;
    expect(strategy?.rollingUpdate?.maxUnavailable).toBe(0);
  });

  it('autoscales on CPU from the Deployment’s replicas up', () => {
    const [hpa] = m.all<Hpa>('HorizontalPodAutoscaler');
    expect(hpa?.apiVersion).toBe('autoscaling/v2');
    expect(hpa!.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: hub.metadata.name });
    expect(hpa!.spec.minReplicas).toBe(hub.spec.replicas);
    expect(hpa!.spec.maxReplicas).toBeGreaterThan(hpa!.spec.minReplicas);
    // Utilization is measured against the request, so the request must exist.
    expect(hpa!.spec.metrics.map((x) => x.resource?.name)).toContain('cpu');
    expect(container.resources?.requests?.cpu).toBeTruthy();
  });

  it('keeps all but one replica through voluntary disruptions', () => {
    const [pdb] = m.all<Pdb>('PodDisruptionBudget');
    expect(pdb?.apiVersion).toBe('policy/v1');
    expect(selects(pdb!.spec.selector.matchLabels, hub.spec.template.metadata.labels)).toBe(true);
    expect(pdb!.spec.maxUnavailable).toBe(1);
  });
});

function mebibytes(q: string): number {
  const m = /^(\d+)(Mi|Gi)$/.exec(q);
  if (!m) throw new Error(`unsupported quantity ${q}`);
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
}
