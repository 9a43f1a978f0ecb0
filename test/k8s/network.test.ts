import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/config/config.js';
import { readDockerfile } from '../support/dockerfile.js';
import { startTestHub, type TestHub } from '../support/hub.js';
import {
  containerPort,
  hubPod,
  Manifests,
  selects,
  type Ingress,
  type NetworkPolicy,
  type Service,
  type Workload,
} from '../support/k8s-manifests.js';

const m = new Manifests();
const { deployment: hub, container, values } = hubPod(m, readDockerfile().env);
const config = loadConfig(values);
const podLabels = hub.spec.template.metadata.labels;
const redis = m.get<Workload>('StatefulSet', 'redis');
const redisContainer = redis.spec.template.spec.containers[0]!;

/** Ingress `Prefix` matching: whole path elements (`/v1` matches `/v1/people`, not `/v1x`). */
const prefixMatches = (prefix: string, path: string) => {
  const p = prefix.replace(/\/+$/, '');
  return path === p || path.startsWith(`${p}/`);
};

describe('the Service reaches the hub over HTTP and SIP', () => {
  const service = m.get<Service>('Service', 'presence-hub');

  it('selects the Deployment’s pods', () => {
    expect(selects(service.spec.selector, podLabels)).toBe(true);
  });

  it('sends each port to a container port of the same protocol', () => {
    for (const p of service.spec.ports) {
      const target = containerPort(container, p.targetPort ?? p.port);
      expect(target, p.name).toBeDefined();
      expect(target!.protocol ?? 'TCP', p.name).toBe(p.protocol ?? 'TCP');
    }
  });

  it('exposes HTTP on PORT and SIP on SIP_PORT over UDP and TCP (responses and dialog NOTIFYs come in)', () => {
    const to = (containerPortNumber: number, protocol: string) =>
      service.spec.ports.filter((p) => containerPort(container, p.targetPort ?? p.port)?.containerPort === containerPortNumber && (p.protocol ?? 'TCP') === protocol);
    expect(to(config.port, 'TCP')).toHaveLength(1);
    expect(to(config.sip.port, 'UDP')).toHaveLength(1);
    expect(to(config.sip.port, 'TCP')).toHaveLength(1);
  });

  it('advertises the pod’s own IP in Via and Contact, so in-dialog requests come back to the replica that holds the dialog', () => {
    expect(container.env?.find((e) => e.name === 'SIP_ADVERTISE_HOST')?.valueFrom?.fieldRef?.fieldPath).toBe('status.podIP');
  });
});

describe('the Ingress publishes the API, the provider webhooks, the consent pages and the dashboard over HTTPS, and nothing else', () => {
  const [ingress] = m.all<Ingress>('Ingress');
  const paths = () => ingress!.spec.rules.flatMap((r) => r.http.paths.map((p) => ({ host: r.host, ...p })));
  let h: TestHub;
  beforeAll(async () => {
    h = await startTestHub();
  });
  afterAll(() => h.stop());

  it('serves PUBLIC_BASE_URL’s host, with TLS for it', () => {
    const host = new URL(config.calendars.publicBaseUrl!).hostname;
    expect(ingress!.spec.rules.map((r) => r.host)).toEqual([host]);
    expect(ingress!.spec.tls?.flatMap((t) => t.hosts)).toContain(host);
  });

  it('sends every path to the hub Service’s HTTP port', () => {
    const service = m.get<Service>('Service', 'presence-hub');
    for (const p of paths()) {
      expect(p.pathType).toBe('Prefix');
      expect(p.backend.service.name).toBe(service.metadata.name);
      const port = service.spec.ports.find((sp) => sp.name === p.backend.service.port.name || sp.port === p.backend.service.port.number);
      expect(containerPort(container, port!.targetPort!)?.containerPort).toBe(config.port);
    }
  });

  it('routes every API, webhook, connect, OAuth and dashboard route, and keeps /healthz, /readyz, /metrics inside', () => {
    const routed = (path: string) => paths().some((p) => prefixMatches(p.path, path));
    const publicRoutes = h.routes.filter((r) => /^\/(v1|connect|oauth|dashboard)(\/|$)/.test(r.path));
    expect(publicRoutes.map((r) => r.path)).toEqual(expect.arrayContaining(['/v1/webhooks/microsoft', '/v1/webhooks/microsoft/lifecycle', '/v1/webhooks/google', '/oauth/:provider/callback', '/dashboard', '/dashboard/app.js']));
    for (const r of publicRoutes) expect(routed(r.path), r.path).toBe(true);
    for (const path of ['/healthz', '/readyz', '/metrics']) expect(routed(path), path).toBe(false);
    for (const p of paths()) expect(h.routes.some((r) => prefixMatches(p.path, r.path)), `${p.path} routes to nothing`).toBe(true);
  });
});

describe('NetworkPolicies', () => {
  it('admit HTTP and SIP (UDP and TCP) to the hub, by port names the container declares', () => {
    const policy = m.all<NetworkPolicy>('NetworkPolicy').find((p) => selects(p.spec.podSelector.matchLabels, podLabels))!;
    expect(policy.spec.policyTypes).toContain('Ingress');
    const admitted = (policy.spec.ingress ?? []).flatMap((rule) => rule.ports ?? []).map((p) => {
      const port = containerPort(container, p.port);
      expect(port, String(p.port)).toBeDefined();
      expect(port!.protocol ?? 'TCP').toBe(p.protocol ?? 'TCP');
      return `${port!.containerPort}/${p.protocol ?? 'TCP'}`;
    });
    expect(admitted.sort()).toEqual([`${config.port}/TCP`, `${config.sip.port}/TCP`, `${config.sip.port}/UDP`].sort());
  });

  it('let only the hub’s pods reach Redis, and Redis reach nothing', () => {
    const policy = m.all<NetworkPolicy>('NetworkPolicy').find((p) => selects(p.spec.podSelector.matchLabels, redis.spec.template.metadata.labels))!;
    expect(policy.spec.policyTypes.sort()).toEqual(['Egress', 'Ingress']);
    expect(policy.spec.egress ?? []).toEqual([]);
    expect(policy.spec.ingress).toHaveLength(1);
    const [rule] = policy.spec.ingress!;
    expect(rule!.from).toEqual([{ podSelector: { matchLabels: hub.spec.selector.matchLabels } }]);
    expect(rule!.ports?.map((p) => containerPort(redisContainer, p.port)?.containerPort)).toEqual([6379]);
  });
});

describe('Redis keeps what it acknowledged', () => {
  const arg = (name: string) => {
    const args = redisContainer.args ?? [];
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };

  it('runs Redis 7 with an AOF fsynced every second and never evicts', () => {
    expect(redisContainer.image).toMatch(/^redis:7(\.\d+)*(-[a-z]+)?$/);
    expect(arg('appendonly')).toBe('yes');
    expect(arg('appendfsync')).toBe('everysec');
    expect(arg('maxmemory-policy')).toBe('noeviction');
    expect(arg('maxmemory')).toMatch(/^\d+mb$/);
  });

  it('writes the AOF to a persistent volume claim, one primary behind a headless Service', () => {
    expect(redis.spec.replicas).toBe(1);
    const claim = redis.spec.volumeClaimTemplates?.find((v) => v.metadata.name === redisContainer.volumeMounts?.find((vm) => vm.mountPath === arg('dir'))?.name);
    expect(claim?.spec.accessModes).toEqual(['ReadWriteOnce']);
    expect(claim?.spec.resources.requests.storage).toMatch(/^\d+Gi$/);
    const service = m.get<Service>('Service', redis.spec.serviceName!);
    expect(service.spec.clusterIP).toBe('None');
    expect(selects(service.spec.selector, redis.spec.template.metadata.labels)).toBe(true);
    expect(containerPort(redisContainer, service.spec.ports[0]!.targetPort!)?.containerPort).toBe(6379);
  });
});
