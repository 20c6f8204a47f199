/**
 * A local stand-in for the Kubernetes deployment (deploy/k8s), in this process: `replicas` of
 * every subgraph and `gateways` gateways, each service behind a {@link Balancer} (its Service),
 * on databases and NATS subjects of its own. The gateway reaches the subgraphs, and registration
 * reaches payment, only through the balancers, as pods reach each other through Services.
 *
 * A replica's {@link Replica.restart} is a pod's replacement in a rolling update: a graceful stop
 * (what SIGTERM does), then a start on the same address; it resolves once the balancer routes to
 * it again (with readiness off: once it answers ready), as a rollout waits for the new pod.
 */
import type { Violation } from '@courses/devkit/consistency';
import { eventually } from '@courses/devkit/graphql-client';
import { DEV_JWT_SECRET, type Role, type RunningSubgraph } from '@courses/platform';
import { startGateway, type RunningGateway } from '../../gateway/src/app.js';
import { issueToken } from '../../gateway/src/auth.js';
import { startBalancer, type Balancer } from './balancer.js';
import { mongoUri, uniqueTag } from './env.js';
import { startOwnNatsServer, type OwnNatsServer } from './nats-server.js';
import { commonEnv, consistencyOf, reservedPort, starters, type Name } from './system.js';

export type ServiceName = Name | 'gateway';

export interface ClusterOptions {
  /** Replicas of each subgraph (default 2). */
  replicas?: number;
  /** Gateways (default 2). */
  gateways?: number;
  /** Whether the balancers route by readiness (default true; see Balancer). */
  readiness?: boolean;
  /** SHUTDOWN_DELAY_MS of every process: longer than the balancers' probe period (default 400). */
  drainDelayMs?: number;
  logLevel?: string;
}

/** One process of the cluster (a pod). */
export interface Replica {
  service: ServiceName;
  index: number;
  /** `http://127.0.0.1:<port>`, the same across restarts. */
  url: string;
  /** Graceful stop, then a start on the same address; resolves once it is routed to again. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface Cluster {
  tag: string;
  nats: OwnNatsServer;
  /** The gateways' balancer: the address clients use. */
  url: string;
  balancers: Record<ServiceName, Balancer>;
  /** Every process, gateways last. */
  replicas: Replica[];
  token(role: Role, sub: string): Promise<string>;
  /** Waits (up to 30 s) until the consistency checker finds no violation; throws with the report otherwise. */
  assertConsistent(): Promise<void>;
  check(): Promise<Violation[]>;
  stop(): Promise<void>;
}

const SUBGRAPHS: Name[] = ['payment', 'lecture', 'dashboard', 'registration'];

/** What every process of one cluster shares: its tag, NATS, common environment, balancers. */
interface Shared {
  tag: string;
  nats: OwnNatsServer;
  common: Record<string, string>;
  counts: Record<ServiceName, number>;
  balancers: Record<ServiceName, Balancer>;
  readiness: boolean;
}

/** The environment of replica `s` on `port`: the gateway reaches the subgraphs through their balancers. */
function envOf({ tag, nats, common, counts, balancers }: Shared, s: ServiceName, port: number): Record<string, string> {
  const base = { ...common, ...nats.credentials(s), PORT: String(port) };
  if (s === 'gateway')
    return {
      ...base,
      REGISTRATION_URL: balancers.registration.url,
      PAYMENT_URL: balancers.payment.url,
      LECTURE_URL: balancers.lecture.url,
      DASHBOARD_URL: balancers.dashboard.url,
      MUTATION_RATE_LIMIT: '1000000',
      QUERY_RATE_LIMIT: '1000000',
      WS_MAX_SOCKETS_PER_CLIENT: '10000',
    };
  // Half the connections of a lone process each, so that the replicas together open no more
  // than one system does: FerretDB v1 stalls once its pool is exhausted (devkit/src/provision.mjs).
  const uri = new URL(mongoUri(`${tag}_${s}`));
  uri.searchParams.set('maxPoolSize', String(Math.max(2, Math.floor(8 / counts[s]))));
  return {
    ...base,
    MONGODB_URI: uri.toString(),
    ...(s === 'registration' ? { PAYMENT_URL: balancers.payment.url } : {}),
  };
}

/** Starts replica `index` of `s` on `port`; its restart resolves once its balancer routes to it again. */
async function startReplica(shared: Shared, s: ServiceName, index: number, port: number): Promise<Replica> {
  const start = (): Promise<RunningSubgraph | RunningGateway> =>
    s === 'gateway' ? startGateway(envOf(shared, s, port)) : starters[s](envOf(shared, s, port));
  let running: RunningSubgraph | RunningGateway | undefined = await start();
  const url = `http://127.0.0.1:${port}`;
  const routed = () =>
    eventually(
      async () =>
        shared.readiness ? shared.balancers[s].endpoints.includes(url) : (await fetch(`${url}/health/ready`).catch(() => undefined))?.ok,
      30_000,
      `${s} #${index} back in service`,
    );
  const stop = async () => {
    await running?.stop();
    running = undefined;
  };
  return {
    service: s,
    index,
    url,
    stop,
    async restart() {
      await stop();
      running = await start();
      await routed();
    },
  };
}

/** Starts the cluster (see the module comment). */
export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const tag = uniqueTag('k');
  const nats = await startOwnNatsServer({ namespace: tag });
  const readiness = opts.readiness ?? true;
  const common = { ...commonEnv(nats, tag, opts.logLevel, 5_000), SHUTDOWN_DELAY_MS: String(opts.drainDelayMs ?? 400) };
  const counts: Record<ServiceName, number> = {
    payment: opts.replicas ?? 2,
    lecture: opts.replicas ?? 2,
    dashboard: opts.replicas ?? 2,
    registration: opts.replicas ?? 2,
    gateway: opts.gateways ?? 2,
  };
  const ports = {} as Record<ServiceName, number[]>;
  const balancers = {} as Record<ServiceName, Balancer>;
  for (const s of [...SUBGRAPHS, 'gateway'] as ServiceName[]) {
    ports[s] = [];
    for (let i = 0; i < counts[s]; i++) ports[s].push(await reservedPort());
    balancers[s] = await startBalancer(
      ports[s].map((p) => `http://127.0.0.1:${p}`),
      { readiness },
    );
  }
  const shared: Shared = { tag, nats, common, counts, balancers, readiness };
  const replicas: Replica[] = [];
  for (const s of [...SUBGRAPHS, 'gateway'] as ServiceName[]) {
    for (const [index, port] of ports[s].entries()) replicas.push(await startReplica(shared, s, index, port));
  }
  // Every replica in service before the cluster is handed over.
  await eventually(async () => Object.values(balancers).every((b) => !readiness || b.endpoints.length > 0), 30_000, 'balancers ready');

  return {
    tag,
    nats,
    url: balancers.gateway.url,
    balancers,
    replicas,
    token: (role, sub) => issueToken({ role, sub }, DEV_JWT_SECRET),
    ...consistencyOf(tag, 30_000),
    async stop() {
      for (const r of [...replicas].reverse()) await r.stop().catch(() => undefined);
      for (const b of Object.values(balancers)) await b.stop();
      await nats.dispose();
    },
  };
}
