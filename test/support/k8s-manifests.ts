import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

/** The shapes of the Kubernetes objects the manifest tests read (only the fields they look at). */
export interface Meta {
  name: string;
  namespace?: string;
  labels?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
}
export interface Resource {
  apiVersion: string;
  kind: string;
  metadata: Meta;
}
export type PortRef = string | number;
export interface Probe {
  httpGet?: { path: string; port: PortRef };
  tcpSocket?: { port: PortRef };
  exec?: { command: string[] };
}
export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: string;
}
export interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  runAsGroup?: number;
  fsGroup?: number;
  allowPrivilegeEscalation?: boolean;
  readOnlyRootFilesystem?: boolean;
  capabilities?: { add?: string[]; drop?: string[] };
  seccompProfile?: { type: string };
}
export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string };
    secretKeyRef?: { name: string; key: string };
    configMapKeyRef?: { name: string; key: string };
  };
}
export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  ports?: ContainerPort[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  lifecycle?: { preStop?: { sleep?: { seconds: number }; exec?: { command: string[] } } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: SecurityContext;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: { name: string; emptyDir?: { sizeLimit?: string }; persistentVolumeClaim?: { claimName: string } }[];
  securityContext?: SecurityContext;
  terminationGracePeriodSeconds?: number;
  enableServiceLinks?: boolean;
  automountServiceAccountToken?: boolean;
}
export interface Workload extends Resource {
  spec: {
    replicas?: number;
    serviceName?: string;
    selector: { matchLabels: Record<string, string> };
    template: { metadata: Meta; spec: PodSpec };
    volumeClaimTemplates?: { metadata: { name: string }; spec: { accessModes: string[]; resources: { requests: { storage: string } } } }[];
  };
}
export interface Service extends Resource {
  spec: {
    type?: string;
    clusterIP?: string;
    selector: Record<string, string>;
    ports: { name: string; port: number; targetPort?: PortRef; protocol?: string }[];
  };
}
export interface ConfigMap extends Resource {
  data?: Record<string, unknown>;
}
export interface Secret extends Resource {
  data?: Record<string, unknown>;
  stringData?: Record<string, unknown>;
}
export interface IngressBackend {
  service: { name: string; port: { name?: string; number?: number } };
}
export interface Ingress extends Resource {
  spec: {
    ingressClassName?: string;
    tls?: { hosts: string[]; secretName: string }[];
    rules: { host: string; http: { paths: { path: string; pathType: string; backend: IngressBackend }[] } }[];
  };
}
export interface NetworkPolicyPeer {
  podSelector?: { matchLabels?: Record<string, string> };
  namespaceSelector?: unknown;
  ipBlock?: unknown;
}
export interface NetworkPolicy extends Resource {
  spec: {
    podSelector: { matchLabels: Record<string, string> };
    policyTypes: string[];
    ingress?: { from?: NetworkPolicyPeer[]; ports?: { port: PortRef; protocol?: string }[] }[];
    egress?: unknown[];
  };
}
export interface Hpa extends Resource {
  spec: {
    scaleTargetRef: { apiVersion: string; kind: string; name: string };
    minReplicas: number;
    maxReplicas: number;
    metrics: { type: string; resource?: { name: string; target: { type: string; averageUtilization?: number } } }[];
  };
}
export interface Pdb extends Resource {
  spec: { minAvailable?: number | string; maxUnavailable?: number | string; selector: { matchLabels: Record<string, string> } };
}
export interface Kustomization {
  apiVersion: string;
  kind: 'Kustomization';
  namespace?: string;
  resources: string[];
  images?: { name: string; newName?: string; newTag?: string }[];
}

export const K8S_DIR = 'k8s';
export const KUSTOMIZATION = 'kustomization.yaml';

export interface ManifestFile {
  file: string;
  docs: unknown[];
}

/**
 * Every YAML file of k8s/, each document parsed as YAML 1.1 — the dialect kubectl reads, where an
 * unquoted `yes` or `true` is a boolean — with duplicate keys and any other error or warning thrown.
 */
export function loadManifestFiles(dir = K8S_DIR): ManifestFile[] {
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((file) => {
      const docs = parseAllDocuments(readFileSync(join(dir, file), 'utf8'), { version: '1.1', uniqueKeys: true, prettyErrors: true });
      if (!Array.isArray(docs)) throw new Error(`${file}: not a YAML stream`);
      const problems = docs.flatMap((d) => [...d.errors, ...d.warnings]).map((e) => e.message);
      if (problems.length > 0) throw new Error(`${file}:\n${problems.join('\n')}`);
      return { file, docs: docs.map((d) => d.toJS() as unknown).filter((d) => d !== null && d !== undefined) };
    });
}

export class Manifests {
  readonly files: ManifestFile[];
  readonly kustomization: Kustomization;
  /** The resources, with the file each came from. */
  readonly resources: { file: string; resource: Resource }[];

  constructor(dir = K8S_DIR) {
    this.files = loadManifestFiles(dir);
    const kustomization = this.files.find((f) => f.file === KUSTOMIZATION);
    if (!kustomization || kustomization.docs.length !== 1) throw new Error(`${dir}/${KUSTOMIZATION}: expected one document`);
    this.kustomization = kustomization.docs[0] as Kustomization;
    this.resources = this.files.filter((f) => f !== kustomization).flatMap((f) => f.docs.map((d) => ({ file: f.file, resource: d as Resource })));
  }

  all<T extends Resource>(kind: string): T[] {
    return this.resources.filter((r) => r.resource.kind === kind).map((r) => r.resource as T);
  }

  /** The one resource of this kind and name; throws when it is missing. */
  get<T extends Resource>(kind: string, name: string): T {
    const found = this.all<T>(kind).filter((r) => r.metadata.name === name);
    if (found.length !== 1) throw new Error(`expected one ${kind} ${name}, found ${found.length}`);
    return found[0]!;
  }
}

/** True when every label of `selector` is on `labels` (matchLabels semantics). */
export function selects(selector: Record<string, string> | undefined, labels: Record<string, unknown> | undefined): boolean {
  return Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);
}

/** The container port a probe, Service or NetworkPolicy names (by name or number). */
export function containerPort(container: Container, ref: PortRef): ContainerPort | undefined {
  return container.ports?.find((p) => (typeof ref === 'number' ? p.containerPort === ref : p.name === ref));
}

/** Secret values as the container sees them: `data` is base64, `stringData` plain (and wins). */
export function secretValues(secret: Secret): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(secret.data ?? {})) out[k] = Buffer.from(String(v), 'base64').toString('utf8');
  for (const [k, v] of Object.entries(secret.stringData ?? {})) out[k] = String(v);
  return out;
}

/** What the downward API gives the fields the manifests use, for building a sample environment. */
const SAMPLE_FIELDS: Record<string, string> = { 'status.podIP': '10.244.1.7', 'metadata.name': 'presence-hub-7d9c8-abcde', 'metadata.namespace': 'presence-hub' };

/**
 * The environment a container starts with, as the kubelet builds it: the image's ENV, then each
 * `envFrom` source in order, then `env` (later wins). Returns each variable with where it came from.
 */
export function containerEnvironment(m: Manifests, container: Container, imageEnv: Record<string, string>): Map<string, { value: string; from: string }> {
  const env = new Map<string, { value: string; from: string }>();
  for (const [k, v] of Object.entries(imageEnv)) env.set(k, { value: v, from: 'Dockerfile ENV' });
  for (const source of container.envFrom ?? []) {
    if (source.configMapRef) {
      const cm = m.get<ConfigMap>('ConfigMap', source.configMapRef.name);
      for (const [k, v] of Object.entries(cm.data ?? {})) env.set(k, { value: String(v), from: `ConfigMap ${cm.metadata.name}` });
    }
    if (source.secretRef) {
      const secret = m.get<Secret>('Secret', source.secretRef.name);
      for (const [k, v] of Object.entries(secretValues(secret))) env.set(k, { value: v, from: `Secret ${secret.metadata.name}` });
    }
  }
  for (const e of container.env ?? []) {
    const ref = e.valueFrom;
    let value: string | undefined = e.value;
    if (ref?.fieldRef) value = SAMPLE_FIELDS[ref.fieldRef.fieldPath];
    if (ref?.secretKeyRef) value = secretValues(m.get<Secret>('Secret', ref.secretKeyRef.name))[ref.secretKeyRef.key];
    if (ref?.configMapKeyRef) value = m.get<ConfigMap>('ConfigMap', ref.configMapKeyRef.name).data?.[ref.configMapKeyRef.key] as string | undefined;
    if (value === undefined) throw new Error(`env ${e.name}: cannot resolve ${JSON.stringify(e.valueFrom)}`);
    env.set(e.name, { value, from: 'env' });
  }
  return env;
}

/** The hub's Deployment and container, and the environment the kubelet starts it with. */
export function hubPod(m: Manifests, imageEnv: Record<string, string>) {
  const deployment = m.get<Workload>('Deployment', 'presence-hub');
  const container = deployment.spec.template.spec.containers.find((c) => c.name === 'presence-hub');
  if (!container) throw new Error('Deployment presence-hub: no container presence-hub');
  const env = containerEnvironment(m, container, imageEnv);
  return { deployment, container, env, values: Object.fromEntries([...env].map(([k, v]) => [k, v.value])) };
}
