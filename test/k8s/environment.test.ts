import { describe, expect, it } from 'vitest';
import { envSchema, loadConfig } from '../../shared/config/config.js';
import { readDockerfile } from '../support/dockerfile.js';
import { hubPod, Manifests, secretValues, type ConfigMap, type Secret, type Service, type Workload } from '../support/k8s-manifests.js';

const m = new Manifests();
const image = readDockerfile();
const { deployment: hub, container, env, values } = hubPod(m, image.env);
const known = new Set(Object.keys(envSchema.shape));
/** Variables that hold credentials (a Redis URL may carry a password). */
const SECRET = /KEY|SECRET|PASSWORD|^REDIS_URL$/;

describe("the hub's environment in k8s/ is the config schema's", () => {
  it('names only variables the config schema knows, from the ConfigMap, the Secret and the pod', () => {
    expect(env.size).toBeGreaterThan(10);
    for (const [name, { from }] of env) expect(known.has(name), `${name} (${from}) is not in envSchema`).toBe(true);
  });

  it('reads the ConfigMap and Secret of k8s/, and nothing from the Services', () => {
    expect(container.envFrom?.map((s) => s.configMapRef?.name ?? `secret:${s.secretRef?.name}`)).toEqual(['presence-hub', 'secret:presence-hub']);
    expect(m.get<ConfigMap>('ConfigMap', 'presence-hub').data).toBeDefined();
    expect(m.get<Secret>('Secret', 'presence-hub').stringData).toBeDefined();
    expect(hub.spec.template.spec.enableServiceLinks).toBe(false);
  });

  it('keeps credentials in the Secret and everything else in the ConfigMap', () => {
    const configMap = Object.keys(m.get<ConfigMap>('ConfigMap', 'presence-hub').data ?? {});
    const secret = Object.keys(secretValues(m.get<Secret>('Secret', 'presence-hub')));
    expect(configMap.filter((k) => SECRET.test(k))).toEqual([]);
    expect(secret.filter((k) => !SECRET.test(k) && !/CLIENT_ID$/.test(k))).toEqual([]);
    expect(secret).toEqual(expect.arrayContaining(['ENCRYPTION_KEY', 'BOOTSTRAP_ADMIN_KEY', 'OPERATOR_KEY', 'REDIS_URL']));
  });

  it('is accepted by loadConfig as a production configuration that shares Redis and writes no key file', () => {
    const config = loadConfig(values);
    expect(config.env).toBe('production');
    // Without ENCRYPTION_KEY the service would write a development key file to DATA_DIR.
    expect(config.encryptionKey).toHaveLength(32);
    expect(config.redis?.url).toMatch(/^rediss?:\/\//);
    expect(config.bootstrap.adminKey).toBeTruthy();
    expect(config.operatorKey).toBeTruthy();
    expect(config.calendars.publicBaseUrl).toMatch(/^https:\/\//);
    expect(config.http.trustProxy).toBe(1);
    expect(config.sip.advertise).toBe('10.244.1.7');
    expect(config.host).toBe('0.0.0.0');
  });

  it('would be refused by loadConfig if the Secret lost its encryption key or PUBLIC_BASE_URL went plain http', () => {
    expect(() => loadConfig({ ...values, ENCRYPTION_KEY: '' })).toThrow(/ENCRYPTION_KEY/);
    expect(() => loadConfig({ ...values, PUBLIC_BASE_URL: 'http://presence.example.com' })).toThrow(/PUBLIC_BASE_URL/);
  });

  it("points REDIS_URL at the Redis StatefulSet's stable pod name and port", () => {
    const url = new URL(env.get('REDIS_URL')!.value);
    const redis = m.get<Workload>('StatefulSet', 'redis');
    const service = m.get<Service>('Service', redis.spec.serviceName!);
    expect(service.spec.clusterIP).toBe('None');
    expect(url.hostname).toBe(`${redis.metadata.name}-0.${service.metadata.name}`);
    expect(Number(url.port)).toBe(service.spec.ports.find((p) => p.name === 'redis')!.port);
  });
});
