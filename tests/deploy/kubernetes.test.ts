/**
 * The Kubernetes manifests (deploy/k8s): each overlay renders with kustomize and every object
 * decodes strictly into the Kubernetes API types (deploy/k8s/check: no unknown field, no wrong
 * type) and satisfies the API's OpenAPI schema (kubernetes-models: required fields, enums,
 * formats), offline; and the
 * deployment holds to what the services need: probes on the health endpoints, requests and limits,
 * a drain that fits the grace period, an autoscaler and a disruption budget where promised,
 * secrets only from Secret objects, and network policies that let only the gateway reach the
 * subgraphs (and only registration reach payment's charge endpoint).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { toolAvailable } from '@courses/test-kit/env';
import { gatewayEnv } from '../../gateway/src/config.js';
import { dashboardEnv } from '../../subgraphs/dashboard/src/wiring.js';
import { lectureEnv } from '../../subgraphs/lecture/src/wiring.js';
import { paymentEnv } from '../../subgraphs/payment/src/wiring.js';
import { registrationEnv } from '../../subgraphs/registration/src/wiring.js';

const K8S = fileURLToPath(new URL('../../deploy/k8s/', import.meta.url));
type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; spec?: any; data?: any };

/** The API schema of each kind the manifests may hold. */
const MODELS: Record<string, new (o: any) => { validate(): void }> = {
  'v1/ServiceAccount': ServiceAccount,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
};

/** Each service's configuration schema: the variables it reads. */
const ENV_SCHEMAS: Record<string, { shape: Record<string, unknown> }> = {
  gateway: gatewayEnv,
  registration: registrationEnv as unknown as { shape: Record<string, unknown> },
  payment: paymentEnv,
  lecture: lectureEnv,
  dashboard: dashboardEnv,
};
const SERVICES = Object.keys(ENV_SCHEMAS);
const SUBGRAPHS = SERVICES.filter((s) => s !== 'gateway');

/** The checker npm test built (devkit/src/provision.mjs); without Go there is none, and these tests are skipped. */
const CHECK = toolAvailable('the manifests checker', !!process.env.K8S_CHECK_BIN, 'npm test builds it with Go (devkit/src/tools.mjs)')
  ? process.env.K8S_CHECK_BIN
  : undefined;

/** The objects `dir` renders to, once each decoded strictly (the checker fails otherwise). */
function render(dir: string): Obj[] {
  const text = execFileSync(CHECK!, [`${K8S}${dir}`], { encoding: 'utf8' });
  return parseAllDocuments(text).map((d) => d.toJS() as Obj);
}

const kindOf = (objs: Obj[], kind: string) => objs.filter((o) => o.kind === kind);
const named = (objs: Obj[], kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata.name === name);

describe.skipIf(!CHECK).each(['dev', 'prod'])('deploy/k8s/overlays/%s', (overlay) => {
  const objs = CHECK ? render(`overlays/${overlay}`) : [];

  it('renders objects that are valid against the Kubernetes API schemas', () => {
    expect(objs.length).toBeGreaterThan(20);
    for (const o of objs) {
      const Model = MODELS[`${o.apiVersion}/${o.kind}`];
      expect(Model, `a schema for ${o.apiVersion} ${o.kind}`).toBeDefined();
      expect(() => new Model(o).validate(), `${o.kind}/${o.metadata.name}`).not.toThrow();
      expect(o.metadata.namespace, `${o.kind}/${o.metadata.name} namespace`).toBe(overlay === 'prod' ? 'courses' : 'courses-dev');
    }
  });

  it('leaves the replica count of an autoscaled Deployment to its autoscaler (an apply would reset it), and sets it elsewhere', () => {
    const scaled = new Set(kindOf(objs, 'HorizontalPodAutoscaler').map((h) => h.spec.scaleTargetRef.name));
    expect([...scaled].sort()).toEqual(['gateway', 'registration']);
    for (const d of kindOf(objs, 'Deployment'))
      if (scaled.has(d.metadata.name)) expect(d.spec.replicas, d.metadata.name).toBeUndefined();
      else expect(d.spec.replicas, d.metadata.name).toBe(overlay === 'prod' ? 3 : 1);
  });

  it.each(SERVICES)('runs %s with probes, resources, a drain within its grace period, and its Service', (name) => {
    const d = named(objs, 'Deployment', name)!;
    expect(d, `Deployment ${name}`).toBeDefined();
    const pod = d.spec.template.spec;
    const c = pod.containers[0];
    expect(c.startupProbe.httpGet.path).toBe('/health/ready');
    expect(c.readinessProbe.httpGet.path).toBe('/health/ready');
    // Not out on one slow answer (readiness no longer includes NATS: the services ride its outages).
    expect(c.readinessProbe.failureThreshold * c.readinessProbe.periodSeconds).toBeGreaterThanOrEqual(6);
    expect(c.livenessProbe.httpGet.path).toBe('/health/live');
    for (const r of ['cpu', 'memory']) {
      expect(c.resources.requests[r], `${name} requests.${r}`).toBeTruthy();
      expect(c.resources.limits[r], `${name} limits.${r}`).toBeTruthy();
    }
    // preStop pause + the graceful stop's hard bound (20 s, lifecycle.ts) fit the grace period.
    const pause = Number(c.lifecycle.preStop.exec.command[1]);
    expect(pause).toBeGreaterThan(0);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(pause + 20);
    expect(d.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.automountServiceAccountToken).toBe(false);
    // The selector finds the pods, and the Service finds them on the port the probes use.
    expect(d.spec.template.metadata.labels).toMatchObject(d.spec.selector.matchLabels);
    const svc = named(objs, 'Service', name)!;
    expect(svc.spec.selector).toEqual(d.spec.selector.matchLabels);
    expect(c.ports.map((p: { name: string }) => p.name)).toEqual(
      expect.arrayContaining(svc.spec.ports.map((p: { targetPort: string }) => p.targetPort)),
    );
  });

  it.each(SERVICES)('gives %s only variables it reads, every secret from a Secret object', (name) => {
    const c = named(objs, 'Deployment', name)!.spec.template.spec.containers[0];
    const config = named(objs, 'ConfigMap', 'courses-config')!.data as Record<string, string>;
    const vars: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: object } }> = c.env;
    const known = new Set([...Object.keys(ENV_SCHEMAS[name].shape), 'SERVICE', 'NODE_OPTIONS']);
    for (const v of [...vars.map((v) => v.name), ...Object.keys(config)]) {
      if (!v.startsWith('OTEL_')) expect(known.has(v), `${name} reads ${v}`).toBe(true);
    }
    for (const v of vars) {
      if (/SECRET|PASSWORD|TOKEN|MONGODB_URI/.test(v.name))
        expect(v.valueFrom?.secretKeyRef, `${name} ${v.name} from a Secret`).toBeDefined();
    }
    for (const key of Object.keys(config)) expect(key).not.toMatch(/SECRET|PASSWORD|TOKEN|MONGODB_URI/);
    // The gateway's own ConfigMap (sign-in, trusted proxies): variables it reads, none secret,
    // and a configuration it starts with in production (shared-secret tokens named until an
    // issuer is set).
    const fromMaps = (c.envFrom as Array<{ configMapRef: { name: string } }>).map((e) => e.configMapRef.name);
    if (name === 'gateway') {
      expect(fromMaps).toContain('courses-gateway-auth');
      const auth = named(objs, 'ConfigMap', 'courses-gateway-auth')!.data as Record<string, string>;
      for (const key of Object.keys(auth)) {
        expect(known.has(key), `gateway reads ${key}`).toBe(true);
        expect(key).not.toMatch(/SECRET|PASSWORD|TOKEN/);
      }
      expect(auth.AUTH_MODE === 'oidc' ? !!auth.OIDC_ISSUER && !!auth.OIDC_AUDIENCE : auth.AUTH_MODE).toBeTruthy();
    } else expect(fromMaps).toEqual(['courses-config']);
    const required = [
      'NATS_USER',
      'NATS_PASSWORD',
      ...(name === 'gateway' ? ['GATEWAY_SECRET', 'JWT_SECRET'] : ['SUBGRAPH_SECRET', 'MONGODB_URI']),
    ];
    if (name === 'registration' || name === 'payment') required.push('CHARGE_SECRET');
    expect(vars.map((v) => v.name)).toEqual(expect.arrayContaining(required));
    // Only the gateway holds GATEWAY_SECRET (with it, a pod could call every subgraph as the gateway).
    if (name !== 'gateway') expect(vars.map((v) => v.name)).not.toContain('GATEWAY_SECRET');
    expect(config.NODE_ENV).toBe('production');
  });

  it('autoscales the gateway and registration on CPU, and has a disruption budget for every service', () => {
    const hpas = kindOf(objs, 'HorizontalPodAutoscaler');
    expect(hpas.map((h) => h.spec.scaleTargetRef.name).sort()).toEqual(['gateway', 'registration']);
    for (const h of hpas) {
      expect(named(objs, 'Deployment', h.spec.scaleTargetRef.name)).toBeDefined();
      expect(h.spec.metrics[0].resource.name).toBe('cpu');
      expect(h.spec.maxReplicas).toBeGreaterThan(h.spec.minReplicas);
    }
    for (const name of SERVICES) {
      const pdb = kindOf(objs, 'PodDisruptionBudget').find((p) => p.spec.selector.matchLabels['app.kubernetes.io/name'] === name);
      expect(pdb, `PodDisruptionBudget for ${name}`).toBeDefined();
    }
  });

  it('lets only the gateway reach the subgraphs, and only registration reach payment’s charge endpoint', () => {
    const policies = kindOf(objs, 'NetworkPolicy');
    const policyOf = (name: string) =>
      policies.find((p) => p.spec.policyTypes.includes('Ingress') && p.spec.podSelector.matchLabels?.['app.kubernetes.io/name'] === name)!;
    const peers = (rule: { from?: Array<{ podSelector?: { matchLabels: Record<string, string> }; namespaceSelector?: object }> }) =>
      (rule.from ?? []).map(
        (f) => f.podSelector?.matchLabels['app.kubernetes.io/name'] ?? (f.namespaceSelector ? 'namespace:monitoring' : 'any'),
      );
    for (const name of SUBGRAPHS) {
      const p = policyOf(name);
      expect(p.spec.policyTypes).toContain('Ingress');
      const rules: Array<{ from?: any[]; ports: Array<{ port: string }> }> = p.spec.ingress;
      const http = rules.find((r) => r.ports.some((x) => x.port === 'http'))!;
      expect(peers(http).sort()).toEqual(['gateway', 'namespace:monitoring']);
      const internal = rules.find((r) => r.ports.some((x) => x.port === 'internal'));
      if (name === 'payment') expect(peers(internal!)).toEqual(['registration']);
      else expect(internal).toBeUndefined();
    }
    // Registration calls payment on the internal port, which payment serves there.
    const reg = named(objs, 'Deployment', 'registration')!.spec.template.spec.containers[0];
    const pay = named(objs, 'Deployment', 'payment')!.spec.template.spec.containers[0];
    const internalPort = pay.ports.find((p: { name: string }) => p.name === 'internal').containerPort;
    expect(reg.env.find((v: { name: string }) => v.name === 'PAYMENT_URL').value).toBe(`http://payment:${internalPort}`);
    expect(pay.env.find((v: { name: string }) => v.name === 'INTERNAL_PORT').value).toBe(String(internalPort));
  });
});

describe.skipIf(!CHECK)('deploy/k8s egress', () => {
  it('lets each service open only the connections it needs: DNS, NATS, OTLP; a subgraph MongoDB; the gateway the subgraphs and HTTPS', () => {
    const policies = kindOf(render('overlays/prod'), 'NetworkPolicy').filter((p) => p.spec.policyTypes.includes('Egress'));
    type Rule = { to?: Array<{ podSelector?: any; namespaceSelector?: any }>; ports: Array<{ port: number | string }> };
    const reach = (name: string) => {
      const p = policies.find((x) => x.spec.podSelector.matchLabels?.['app.kubernetes.io/name'] === name);
      expect(p, `egress policy of ${name}`).toBeDefined();
      return (p!.spec.egress as Rule[]).flatMap((r) =>
        r.ports.map((port) => {
          const to = r.to?.[0];
          const target =
            to?.podSelector?.matchLabels?.['app.kubernetes.io/name'] ?? (to?.podSelector?.matchExpressions ? 'subgraphs' : undefined);
          const ns = to?.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'];
          return `${target ?? (ns ? `namespace:${ns}` : 'anywhere')}:${port.port}`;
        }),
      );
    };
    const common = [
      'namespace:kube-system:53',
      'namespace:kube-system:53',
      'nats:4222',
      'namespace:monitoring:4317',
      'namespace:monitoring:4318',
    ];
    expect(reach('gateway').sort()).toEqual([...common, 'subgraphs:http', 'redis:6379', 'anywhere:443'].sort());
    expect(reach('registration').sort()).toEqual([...common, 'courses-mongo:27017', 'payment:internal'].sort());
    for (const name of ['payment', 'lecture', 'dashboard'])
      expect(reach(name).sort(), name).toEqual([...common, 'courses-mongo:27017'].sort());
  });
});

describe.skipIf(!CHECK)('deploy/k8s/infra', () => {
  it('lets only the services (and nats-box) reach NATS clients’ port, only NATS pods its routes, and only the subgraphs MongoDB', () => {
    const objs = render('infra');
    const policy = (name: string) => named(objs, 'NetworkPolicy', name)!.spec;
    const nats = policy('nats-ingress');
    const byPort = (spec: { ingress: Array<{ from: any[]; ports: Array<{ port: number }> }> }, port: number) =>
      spec.ingress.find((r) => r.ports.some((p) => p.port === port))!.from;
    expect(byPort(nats, 4222)[0].podSelector.matchExpressions[0].values.sort()).toEqual([...SERVICES].sort());
    expect(byPort(nats, 4222)[1].podSelector.matchLabels['app.kubernetes.io/component']).toBe('nats-box');
    expect(byPort(nats, 6222)).toEqual([
      { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'nats', 'app.kubernetes.io/component': 'nats' } } },
    ]);
    const mongo = policy('mongo-ingress');
    expect(byPort(mongo, 27017)[0].podSelector.matchExpressions[0].values.sort()).toEqual([...SUBGRAPHS].sort());
    // Redis (the gateways' shared rate limits): the gateway alone.
    expect(byPort(policy('redis-ingress'), 6379)).toEqual([{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'gateway' } } }]);
    expect(named(objs, 'Service', 'redis')!.spec.selector).toEqual(policy('redis-ingress').podSelector.matchLabels);
    // The replica set's pods carry the label the policies select.
    const rs = objs.find((o) => o.kind === 'MongoDBCommunity')!;
    expect(rs.spec.statefulSet.spec.template.metadata.labels['app.kubernetes.io/name']).toBe(
      mongo.podSelector.matchLabels['app.kubernetes.io/name'],
    );
  });

  it('runs MongoDB as a three-member replica set from the MongoDB Community Operator, one least-privilege user per subgraph', () => {
    const [mongo] = render('infra');
    expect(mongo).toMatchObject({ apiVersion: 'mongodbcommunity.mongodb.com/v1', kind: 'MongoDBCommunity' });
    expect(mongo.spec).toMatchObject({ type: 'ReplicaSet', members: 3 });
    for (const name of SUBGRAPHS) {
      const user = mongo.spec.users.find((u: { name: string }) => u.name === name);
      expect(user.roles).toEqual([{ name: 'readWrite', db: `courses_${name}` }]);
      expect(user.passwordSecretRef.name).toBe(`mongo-${name}-password`);
    }
  });
});

describe.skipIf(!CHECK)('the checker', () => {
  it('refuses a manifest with an unknown field', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'k8s-check-'));
    try {
      writeFileSync(path.join(dir, 'kustomization.yaml'), 'resources: [svc.yaml]\n');
      writeFileSync(
        path.join(dir, 'svc.yaml'),
        'apiVersion: v1\nkind: Service\nmetadata: { name: x }\nspec:\n  selector: { app: x }\n  portz: [{ port: 80 }]\n',
      );
      const r = spawnSync(CHECK!, [dir], { encoding: 'utf8' });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/unknown field "spec.portz"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
