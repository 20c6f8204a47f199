/**
 * The event bus's access rules: one NATS user per service, allowed exactly what its role in
 * `BUS` (`@courses/contracts`) needs, and the nats-server configuration that declares them.
 *
 * What a service may publish (everything else is refused by the server):
 * - its own context's events (`registration.>`), and nothing of another context;
 * - the JetStream API requests for its own stream and its own dead-letter stream (info and
 *   create; never update, delete or purge: a service taken over cannot shrink what a stream
 *   keeps), for its declared durable consumers (info, create, next) and the info of the streams
 *   they read;
 * - acks (`$JS.ACK.<stream>.<durable>.>`) of its own durable consumers only;
 * - its dead letters (`deadletter.<service>.>`).
 * What it may subscribe to: replies on its own inbox prefix (`_INBOX_<service>.>`, see
 * {@link inboxPrefixOf}), so no service reads the messages pulled by another.
 *
 * A listener (the gateway, `listens` in BUS) reads the streams of the contexts it listens to
 * through ephemeral ordered consumers (its live feed and its replays): the stream's info, and
 * create, pull from, look at and delete consumers of any name on it, except the services'
 * durable consumers, which it may neither create (that would change their configuration), pull
 * from (that would take their messages), look at nor delete. It acks nothing and publishes nothing.
 *
 * The `operator` user ({@link operatorPermissions}) is the people running the system: it reads
 * the dead-letter streams (`npm run dead-letters`) and may change the streams' limits, and
 * publishes no event and acks nothing.
 *
 * Subjects and API names follow the JetStream wire API
 * (https://docs.nats.io/reference/reference-protocols/nats_api_reference) and nats.js v3's use of
 * it (`@nats-io/jetstream`: `CONSUMER.CREATE.<stream>.<name>[.<filter>]` on servers ≥ 2.9,
 * `CONSUMER.DURABLE.CREATE` before).
 */
import { BUS, busRole, namespacedStream, streamOf, type BusRole, type BusService, type Context } from '@courses/contracts';

/** A NATS user's allow-lists (subjects, with `*` and `>` wildcards); absent means unrestricted. */
export interface NatsPermissions {
  publish: string[];
  subscribe: string[];
  /** Subjects refused for publishing even when `publish` allows them (a deny wins over an allow). */
  denyPublish?: string[];
}

/** The inbox prefix of `service`'s connection: replies to it arrive on `_INBOX_<service>.…`. */
export function inboxPrefixOf(service: string): string {
  return `_INBOX_${service}`;
}

/**
 * The dead-letter stream of `service`'s consumers: `DEADLETTER_<SERVICE>` (namespaced
 * `<NS>_DEADLETTER_<SERVICE>`), capturing `deadletter.<service>.>`; a consumer that gives up on a
 * message publishes it to `deadletter.<service>.<durable>`. One per service, so that each stream
 * has one writer and that writer's permissions name it.
 */
export function deadLetterStream(service: string, namespace = ''): { name: string; subjects: string[] } {
  const base = namespacedStream('deadletter', namespace);
  return { name: `${base.name}_${service.toUpperCase()}`, subjects: [base.subjects[0].replace(/>$/, `${service}.>`)] };
}

/** Subject prefix of a namespace (`t1.` or empty). */
function prefix(namespace: string): string {
  return namespace ? `${namespace}.` : '';
}

/**
 * What `service` may publish and subscribe to, in `namespace` (see the module comment).
 * @throws when `service` has no role in `BUS`.
 */
export function natsPermissions(service: BusService, namespace = ''): NatsPermissions {
  const role = busRole(service);
  const p = prefix(namespace);
  const publish = new Set<string>();
  const subscribe = new Set<string>([`${inboxPrefixOf(service)}.>`]);
  const manageStream = (name: string) => ['INFO', 'CREATE'].forEach((op) => publish.add(`$JS.API.STREAM.${op}.${name}`));
  if (role.publishes || role.consumes) publish.add('$JS.API.INFO');
  if (role.publishes) {
    publish.add(`${p}${role.publishes}.>`);
    manageStream(streamOf(role.publishes, namespace).name);
  }
  if (role.consumes && Object.keys(role.consumes).length) {
    const dlq = deadLetterStream(service, namespace);
    manageStream(dlq.name);
    publish.add(dlq.subjects[0]);
    for (const [durable, context] of Object.entries(role.consumes)) {
      const stream = streamOf(context, namespace).name;
      publish.add(`$JS.API.STREAM.INFO.${stream}`);
      for (const api of ['CONSUMER.INFO', 'CONSUMER.CREATE', 'CONSUMER.DURABLE.CREATE', 'CONSUMER.MSG.NEXT'])
        publish.add(`$JS.API.${api}.${stream}.${durable}`);
      publish.add(`$JS.API.CONSUMER.CREATE.${stream}.${durable}.>`);
      // Ack subjects: `$JS.ACK.<stream>.<durable>.…`, or with domain and account hash first (v2 form).
      publish.add(`$JS.ACK.${stream}.${durable}.>`);
      publish.add(`$JS.ACK.*.*.${stream}.${durable}.>`);
    }
  }
  const deny = new Set<string>();
  for (const context of role.listens ?? []) {
    const stream = streamOf(context, namespace).name;
    publish.add(`$JS.API.STREAM.INFO.${stream}`);
    for (const api of ['CONSUMER.CREATE', 'CONSUMER.MSG.NEXT', 'CONSUMER.INFO', 'CONSUMER.DELETE'])
      publish.add(`$JS.API.${api}.${stream}.*`);
    for (const other of Object.values(BUS) as BusRole[])
      for (const [durable, read] of Object.entries(other.consumes ?? {}))
        if (read === context)
          for (const api of ['CONSUMER.CREATE', 'CONSUMER.MSG.NEXT', 'CONSUMER.INFO', 'CONSUMER.DELETE'])
            deny.add(`$JS.API.${api}.${stream}.${durable}`);
  }
  return { publish: [...publish], subscribe: [...subscribe], ...(deny.size ? { denyPublish: [...deny] } : {}) };
}

/** The user name of the people running the system (see {@link operatorPermissions}). */
export const OPERATOR_USER = 'operator';

/**
 * What the `operator` user may do, in `namespace`: read every service's dead-letter stream
 * (its info, and ephemeral consumers on it: create, pull, look at, delete; or one message by
 * sequence), and look at and change the limits of every stream (`STREAM.UPDATE`, which services
 * may not). It publishes no event, acks nothing, deletes and purges no stream, and reads replies
 * on its own inbox prefix only.
 */
export function operatorPermissions(namespace = ''): NatsPermissions {
  const publish = new Set<string>(['$JS.API.INFO']);
  const services = Object.keys(BUS) as BusService[];
  for (const s of services) {
    const role = busRole(s);
    if (role.publishes)
      for (const op of ['INFO', 'UPDATE']) publish.add(`$JS.API.STREAM.${op}.${streamOf(role.publishes, namespace).name}`);
    if (role.consumes && Object.keys(role.consumes).length) {
      const dlq = deadLetterStream(s, namespace).name;
      for (const op of ['INFO', 'UPDATE', 'MSG.GET']) publish.add(`$JS.API.STREAM.${op}.${dlq}`);
      for (const api of ['CONSUMER.CREATE', 'CONSUMER.MSG.NEXT', 'CONSUMER.INFO', 'CONSUMER.DELETE'])
        publish.add(`$JS.API.${api}.${dlq}.*`);
      publish.add(`$JS.API.CONSUMER.CREATE.${dlq}.*.>`);
    }
  }
  return { publish: [...publish], subscribe: [`${inboxPrefixOf(OPERATOR_USER)}.>`] };
}

/** One user in a nats-server configuration. */
export interface NatsUser {
  user: string;
  /** The password, or a `$VARIABLE` the server reads from its environment. */
  password: string;
  /** Unrestricted when absent (an operator's user for tools and tests, never a service's). */
  permissions?: NatsPermissions;
}

/** What {@link natsServerConfig} writes. */
export interface NatsServerConfigOptions {
  /** `host:port` to listen on (default `0.0.0.0:4222`). */
  listen?: string;
  /** JetStream store directory (default: the server's). */
  storeDir?: string;
  /** HTTP monitoring port (default: off). */
  monitorPort?: number;
  users: NatsUser[];
  /** Client TLS: certificate and key files (PEM), and a CA to verify client certificates. */
  tls?: { certFile: string; keyFile: string; caFile?: string };
}

/** A string in nats-server configuration syntax: `$VAR` references stay bare, the rest quoted. */
function value(s: string): string {
  return /^\$[A-Z_][A-Z0-9_]*$/.test(s) ? s : JSON.stringify(s);
}

function list(items: string[], indent: string): string {
  return `[\n${items.map((s) => `${indent}  ${value(s)}`).join('\n')}\n${indent}]`;
}

/**
 * The nats-server configuration text for `opts`: JetStream on, every client authenticated as one
 * of `users` (anonymous connections are refused), each with its allow-lists.
 * Syntax: https://docs.nats.io/running-a-nats-service/configuration
 */
export function natsServerConfig(opts: NatsServerConfigOptions): string {
  const out = [`listen: ${value(opts.listen ?? '0.0.0.0:4222')}`];
  if (opts.monitorPort) out.push(`http_port: ${opts.monitorPort}`);
  out.push(opts.storeDir ? `jetstream {\n  store_dir: ${value(opts.storeDir)}\n}` : 'jetstream {}');
  if (opts.tls) {
    const t = opts.tls;
    out.push(
      `tls {\n  cert_file: ${value(t.certFile)}\n  key_file: ${value(t.keyFile)}${t.caFile ? `\n  ca_file: ${value(t.caFile)}\n  verify: true` : ''}\n}`,
    );
  }
  const users = opts.users.map((u) => {
    const lines = [`      user: ${value(u.user)}`, `      password: ${value(u.password)}`];
    if (u.permissions) {
      const denied = u.permissions.denyPublish?.length ? `, deny: ${list(u.permissions.denyPublish, '        ')}` : '';
      const pub = u.permissions.publish.length ? `{ allow: ${list(u.permissions.publish, '        ')}${denied} }` : '{ deny: [">"] }';
      lines.push(
        `      permissions: {\n        publish: ${pub}\n        subscribe: { allow: ${list(u.permissions.subscribe, '        ')} }\n      }`,
      );
    }
    return `    {\n${lines.join('\n')}\n    }`;
  });
  out.push(`authorization {\n  users: [\n${users.join('\n')}\n  ]\n}`);
  return `${out.join('\n')}\n`;
}

/**
 * The users of a system's NATS server: one per service in `BUS` with {@link natsPermissions},
 * the `operator` with {@link operatorPermissions} when `operatorPassword` is given, and, when
 * `opsPassword` is given, `ops` without restrictions (for tests and dev tools).
 * @param passwordOf the password (or `$VARIABLE`) of each service's user.
 */
export function natsUsers(
  passwordOf: (service: BusService) => string,
  namespace = '',
  opsPassword?: string,
  operatorPassword?: string,
): NatsUser[] {
  const users: NatsUser[] = (Object.keys(BUS) as BusService[]).map((s) => ({
    user: s,
    password: passwordOf(s),
    permissions: natsPermissions(s, namespace),
  }));
  if (operatorPassword) users.push({ user: OPERATOR_USER, password: operatorPassword, permissions: operatorPermissions(namespace) });
  if (opsPassword) users.push({ user: 'ops', password: opsPassword });
  return users;
}

/** The environment variable holding `service`'s (or the operator's) NATS password on the server: `NATS_<SERVICE>_PASSWORD`. */
export function natsPasswordVariable(service: BusService | typeof OPERATOR_USER): string {
  return `NATS_${service.toUpperCase()}_PASSWORD`;
}

/**
 * The configuration of a deployment's nats-server (deploy/nats.conf, mounted by
 * docker-compose.yml): JetStream stored in `/data`, monitoring on 8222 (keep it internal), one
 * user per service whose password the server reads from its environment
 * ({@link natsPasswordVariable}), and the operator's (`NATS_OPERATOR_PASSWORD`); no unrestricted
 * user.
 */
export function deploymentNatsConfig(opts: { namespace?: string; listen?: string; storeDir?: string } = {}): string {
  const header = [
    '# The event bus of the course registration supergraph: one user per service, each allowed only',
    '# what its role needs (BUS in schema/src/bus.ts, rules in platform/src/messaging/nats-auth.ts).',
    '# Generated by `npm run nats:config -- --write`; do not edit by hand. Passwords come from the',
    "# server's environment (NATS_<SERVICE>_PASSWORD); see docker-compose.yml.",
    '',
  ].join('\n');
  const users = natsUsers((s) => `$${natsPasswordVariable(s)}`, opts.namespace ?? '', undefined, `$${natsPasswordVariable(OPERATOR_USER)}`);
  return header + natsServerConfig({ listen: opts.listen ?? '0.0.0.0:4222', storeDir: opts.storeDir ?? '/data', monitorPort: 8222, users });
}

/**
 * Values for the NATS Helm chart (nats-io/k8s, chart `nats` 1.x) that run this system's event bus
 * on Kubernetes (deploy/k8s/infra/nats-values.yaml): a three-node cluster with JetStream on file
 * storage, and the same users and permissions as {@link deploymentNatsConfig}, included from a
 * ConfigMap; each password comes from the Secret `nats-users` (key NATS_<SERVICE>_PASSWORD).
 * Chart syntax (`$include`, `<< $VAR >>`): https://github.com/nats-io/k8s/tree/main/helm/charts/nats
 */
export function natsHelmValues(opts: { namespace?: string } = {}): string {
  const services = [...(Object.keys(BUS) as BusService[]), OPERATOR_USER] as const;
  const users = natsUsers((s) => `$${natsPasswordVariable(s)}`, opts.namespace ?? '', undefined, `$${natsPasswordVariable(OPERATOR_USER)}`);
  const conf = natsServerConfig({ users });
  const authorization = conf.slice(conf.indexOf('authorization {'));
  const indent = (text: string, n: number) =>
    text
      .trimEnd()
      .split('\n')
      .map((l) => ' '.repeat(n) + l)
      .join('\n');
  const env = services
    .map(
      (s) =>
        `    ${natsPasswordVariable(s)}:\n      valueFrom:\n        secretKeyRef: { name: nats-users, key: ${natsPasswordVariable(s)} }`,
    )
    .join('\n');
  return [
    '# NATS JetStream for the supergraph on Kubernetes, from the maintained chart (nats-io/k8s):',
    '#   helm repo add nats https://nats-io.github.io/k8s/helm/charts/',
    '#   helm upgrade --install nats nats/nats --version 1.3.x -n courses -f deploy/k8s/infra/nats-values.yaml',
    "# A three-node cluster (JetStream replicates each stream's data on its quorum), one user per",
    '# service with the permissions of its role (BUS in schema/src/bus.ts), passwords from the Secret',
    '# nats-users. Generated by `npm run nats:config -- --write`; do not edit by hand.',
    'config:',
    '  cluster:',
    '    enabled: true',
    '    replicas: 3',
    '    # Routes between the nodes authenticate as this user; give its password at install (README):',
    '    # helm … --set config.cluster.routeURLs.password=<32+ random bytes>. NetworkPolicies let only',
    '    # the NATS pods reach the route port (infra/network-policies.yaml).',
    '    routeURLs:',
    '      user: route',
    '  jetstream:',
    '    enabled: true',
    '    fileStore:',
    '      pvc:',
    '        size: 10Gi',
    '  merge:',
    '    00$include: auth.conf',
    'configMap:',
    '  merge:',
    '    data:',
    '      auth.conf: |',
    indent(authorization, 8),
    'container:',
    '  env:',
    env,
    'podTemplate:',
    '  topologySpreadConstraints:',
    '    kubernetes.io/hostname:',
    '      maxSkew: 1',
    '      whenUnsatisfiable: DoNotSchedule',
    '',
  ].join('\n');
}

export type { BusService, Context };
