import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../services/observability/metrics.js';
import { hubPod, K8S_DIR, Manifests, type Resource } from '../support/k8s-manifests.js';
import { readDockerfile } from '../support/dockerfile.js';

const DIR = join(K8S_DIR, 'monitoring');

/** Where the PromQL grammar found an error, as `offset: text`; empty when the expression parses. */
function promqlErrors(expr: string): string[] {
  const errors: string[] = [];
  parser.parse(expr).iterate({
    enter: (n) => {
      if (n.type.isError) errors.push(`${n.from}: ${expr.slice(Math.max(0, n.from - 10), n.to + 10)}`);
    },
  });
  return errors;
}
const m = new Manifests(DIR);
const { deployment, container } = hubPod(new Manifests(), readDockerfile().env);

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface PrometheusRule extends Resource {
  spec: { groups: { name: string; rules: Rule[] }[] };
}
interface PodMonitor extends Resource {
  spec: { selector: { matchLabels: Record<string, string> }; podMetricsEndpoints: { port: string; path: string }[] };
}

const rules = m.get<PrometheusRule>('PrometheusRule', 'presence-hub').spec.groups.flatMap((g) => g.rules);
const alerts = rules.filter((r) => r.alert !== undefined);

/** Every metric the service registers, with the series names a histogram adds. */
async function exposed(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const metric of await new Metrics(false).registry.getMetricsAsJSON()) {
    names.add(metric.name);
    if (String(metric.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(metric.name + suffix);
  }
  return names;
}

describe('k8s/monitoring/: scraping and alerts for clusters with the Prometheus Operator', () => {
  it('is a kustomization of its own listing every file, in the namespace of k8s/', () => {
    const files = readdirSync(DIR).filter((f) => f !== 'kustomization.yaml');
    expect([...m.kustomization.resources].sort()).toEqual(files.sort());
    expect(m.kustomization.namespace).toBe(new Manifests().kustomization.namespace);
  });

  it("scrapes the hub's pods on the port that serves /metrics", () => {
    const monitor = m.get<PodMonitor>('PodMonitor', 'presence-hub');
    for (const [k, v] of Object.entries(monitor.spec.selector.matchLabels)) expect(deployment.spec.template.metadata.labels?.[k]).toBe(v);
    const [endpoint] = monitor.spec.podMetricsEndpoints;
    const port = container.ports?.find((p) => p.name === endpoint!.port);
    expect(port?.containerPort).toBe(Number(deployment.spec.template.metadata.annotations?.['prometheus.io/port']));
    expect(endpoint!.path).toBe(deployment.spec.template.metadata.annotations?.['prometheus.io/path']);
  });

  it('alerts only on metrics the service exposes', async () => {
    const names = await exposed();
    expect(alerts.length).toBeGreaterThanOrEqual(5);
    for (const rule of rules) {
      const used = rule.expr.match(/\bpresence_[a-z_]+/g) ?? [];
      expect(used.length, rule.alert).toBeGreaterThan(0);
      for (const name of used) expect(names.has(name), `${rule.alert}: ${name}`).toBe(true);
    }
  });

  it('covers endpoints going offline at once and sources going silent (design §7)', () => {
    const exprs = alerts.map((a) => a.expr).join('\n');
    expect(exprs).toContain('presence_endpoints_lost_total');
    expect(exprs).toContain('presence_went_offline_total');
    expect(exprs).toMatch(/presence_source_last_signal_timestamp_seconds\{source="pbx"\}/);
    expect(exprs).toContain('presence_calendar_syncs_total');
  });

  it("scales the \"at once\" alerts to the tenant's size, watches only tenants with a PBX (a key or dialog subscriptions), and judges calendar syncs per tenant", () => {
    const expr = (name: string) => alerts.find((a) => a.alert === name)?.expr ?? '';
    expect(expr('PresenceHubEndpointsLostAtOnce')).toMatch(/presence_endpoints_lost_total[\s\S]*\* max by \(tenant, kind\) \(presence_devices\)/);
    expect(expr('PresenceHubPeopleWentOffline')).toMatch(/presence_went_offline_total[\s\S]*\* max by \(tenant\) \(presence_people\)/);
    expect(expr('PresenceHubPbxSilent')).toMatch(/and on \(tenant\) \(max by \(tenant\) \(presence_pbx_keys\) > 0 or max by \(tenant\) \(presence_dialog_watches\) > 0\)/);
    expect(expr('PresenceHubCalendarSyncFailing')).toMatch(/^sum by \(tenant, provider\)[\s\S]*\/ sum by \(tenant, provider\)/);
    // Every replica reports the same directory: its sizes are never summed across replicas.
    const summed = /\bsum(?: by \([^)]*\))? \((?:presence_devices|presence_people|presence_pbx_keys|presence_calendar_connections_broken)\b/;
    expect('sum by (tenant) (presence_people)').toMatch(summed);
    for (const rule of rules) expect(rule.expr, rule.alert).not.toMatch(summed);
  });

  it('writes every expression in PromQL that parses (the Prometheus project\'s own grammar)', () => {
    for (const rule of rules) expect(promqlErrors(rule.expr), rule.alert).toEqual([]);
    // The check itself catches what Prometheus would refuse at load.
    expect(promqlErrors('sum by (tenant) (increase(presence_went_offline_total[5m]) >= 10')).not.toEqual([]);
    expect(promqlErrors('rate(presence_calendar_syncs_total{outcome="error"}[30m]')).not.toEqual([]);
  });

  it('gives every alert a unique name, a severity, a summary and what to check', () => {
    expect(new Set(alerts.map((a) => a.alert)).size).toBe(alerts.length);
    for (const a of alerts) {
      expect(a.alert).toMatch(/^PresenceHub[A-Z][A-Za-z]+$/);
      expect(['warning', 'critical'], a.alert).toContain(a.labels?.severity);
      expect(a.annotations?.summary, a.alert).toBeTruthy();
      expect(a.annotations?.description, a.alert).toBeTruthy();
      if (a.for !== undefined) expect(a.for, a.alert).toMatch(/^\d+[smh]$/);
    }
  });

  it("is described in the README's Alerts section, alert by alert", () => {
    const section = /^### Alerts\n([\s\S]*?)^##/m.exec(readFileSync('README.md', 'utf8'))?.[1] ?? '';
    expect(section).toContain('kubectl apply -k k8s/monitoring/');
    for (const a of alerts) expect(section, a.alert).toContain(`\`${a.alert}\``);
  });
});
