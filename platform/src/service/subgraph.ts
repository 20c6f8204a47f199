/**
 * The runtime every subgraph shares: its MongoDB connection, NATS connection, outbox,
 * durable consumers, and an Apollo subgraph server behind the {@link createServiceHost} HTTP host.
 *
 * A subgraph module supplies only its SDL, resolvers, aggregate collections and consumers;
 * start-up order, readiness and graceful shutdown are the same everywhere.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { ApolloServer } from '@apollo/server';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import type { Connection } from 'mongoose';
import type { z } from 'zod';
import { busRole, streamOf, type Context } from '@courses/contracts';
import {
  createServiceHost,
  formatSubgraphError,
  HEADERS,
  HttpError,
  identityFromHeaders,
  logUnexpectedErrors,
  sameSecret,
  type RequestContext,
  type RouteHandler,
  type ServiceHost,
} from '../http/index.js';
import {
  connectNats,
  natsAuthOf,
  NatsBus,
  Outbox,
  startConsumer,
  type BatchHandler,
  type Bus,
  type ConsumerLag,
  type EventHandlers,
  type RunningConsumer,
} from '../messaging/index.js';
import {
  apolloLogger,
  createLogger,
  createMetrics,
  graphqlSpanPlugin,
  serviceGauge,
  type Logger,
  type ServiceMetrics,
} from '../observability/index.js';
import { connectMongo, mongoReady } from '../persistence/index.js';
import { metricsAccess, subgraphSecretOf, type subgraphEnv } from './config.js';
import { crashes } from './crash-registry.js';
import { stopAll } from './lifecycle.js';

/** The resolver map `buildSubgraphSchema` takes, named from its public signature (not its dist files). */
type SubgraphResolverMap = NonNullable<Extract<Parameters<typeof buildSubgraphSchema>[0], { typeDefs: unknown }>['resolvers']>;

/** Configuration every subgraph accepts (see `subgraphEnv`). */
export type SubgraphConfig = z.infer<typeof subgraphEnv>;

/** Connections and helpers handed to a subgraph's wiring code. */
export interface SubgraphRuntime {
  name: string;
  config: SubgraphConfig;
  logger: Logger;
  metrics: ServiceMetrics;
  conn: Connection;
  /** The event bus: NATS JetStream, or the in-memory twin a test passes (see createSubgraphRuntime). */
  bus: Bus;
  namespace: string;
  /** The service's transactional outbox: every event-raising change goes through it. */
  outbox: Outbox;
}

/** What a subgraph contributes on top of the shared runtime. */
export interface SubgraphParts<Ctx extends RequestContext = RequestContext> {
  /** SDL (Federation 2 `@link`) of the subgraph. */
  typeDefs: string;
  /** The resolver map, typed by the subgraph's generated `Resolvers` (graphql-codegen). */
  resolvers: object;
  /** The context this subgraph publishes events for, if any (its stream is created at start). */
  publishes?: Context;
  /** Starts the durable consumers. */
  startConsumers?: () => Promise<RunningConsumer[]>;
  /** Builds the per-request context from the forwarded identity. */
  context?: (base: RequestContext, req: IncomingMessage) => Promise<Ctx> | Ctx;
  /** Extra HTTP routes on the service's port. */
  routes?: Record<string, RouteHandler>;
  /**
   * Routes for other services, not for the gateway (payment's charge endpoint): on `port` when it
   * is set, a listener of their own that network policies can open to those callers alone (see
   * deploy/k8s); else on the service's port with the rest.
   */
  internal?: { port?: number; routes: Record<string, RouteHandler> };
  /** Extra stop steps (the service's own background work), run after HTTP and consumers stop and before the outbox and connections. */
  onStop?: Array<() => Promise<unknown> | unknown>;
}

/** A started subgraph process (or in-process instance, in tests). */
export interface RunningSubgraph {
  name: string;
  port: number;
  /** `http://127.0.0.1:<port>` */
  url: string;
  runtime: SubgraphRuntime;
  host: ServiceHost;
  stop(): Promise<void>;
}

/** Reads a subgraph's `schema.graphql` next to its package root (`../schema.graphql` from src/ or dist/). */
export function readSchema(moduleUrl: string): string {
  return readFileSync(new URL('../schema.graphql', moduleUrl), 'utf8');
}

/**
 * Starts durable consumer `durable` on the stream of `context` (in the runtime's namespace),
 * with one handler per event type; see {@link startConsumer} for ack/nak/term rules.
 * @throws when the service's role in `BUS` (`@courses/contracts`) does not declare this durable
 *   on this context: its NATS user would not be allowed to read it.
 */
export function consumeFrom(
  rt: SubgraphRuntime,
  context: Context,
  durable: string,
  handlers: EventHandlers | BatchHandler,
): Promise<RunningConsumer> {
  if (busRole(rt.name).consumes?.[durable] !== context) {
    throw new Error(
      `${rt.name} does not declare durable consumer ${durable} on ${context} in BUS (@courses/contracts), so its NATS user may not read it`,
    );
  }
  return startConsumer({
    bus: rt.bus,
    stream: streamOf(context, rt.namespace),
    durable,
    namespace: rt.namespace,
    service: rt.name,
    logger: rt.logger,
    metrics: rt.metrics,
    handlers,
    streamReplicas: rt.config.NATS_STREAM_REPLICAS,
  });
}

/**
 * The gauges a subgraph's dashboards need from its event plumbing, read at each scrape:
 * `outbox_oldest_claim_age_seconds`, `outbox_unpublished_claims`, and per durable consumer
 * `consumer_pending_messages` and `consumer_unacked_messages` (from the NATS server).
 */
function registerRuntimeGauges(rt: SubgraphRuntime, consumers: RunningConsumer[]): void {
  const { metrics, outbox } = rt;
  serviceGauge(
    metrics,
    'outbox_oldest_claim_age_seconds',
    'Age of the oldest change not yet published and released (s), any replica',
    async (g) => g.set((await outbox.oldestClaimAgeMs()) / 1000),
  );
  serviceGauge(metrics, 'outbox_unpublished_claims', 'Changes this process could not publish yet (count)', (g) => g.set(outbox.unsettled));
  // Both consumer gauges come from one info request per consumer and scrape: the second gauge
  // collected in the same scrape (within a second) reuses the first one's answer.
  let asked: { at: number; lags: Promise<Array<{ durable: string; lag?: ConsumerLag }>> } | undefined;
  const lags = () => {
    if (!asked || Date.now() - asked.at > 1_000)
      asked = {
        at: Date.now(),
        lags: Promise.all(consumers.map(async (c) => ({ durable: c.durable, lag: await c.lag().catch(() => undefined) }))),
      };
    return asked.lags;
  };
  serviceGauge(
    metrics,
    'consumer_pending_messages',
    'Messages of the stream not yet delivered to the durable consumer (count)',
    async (g) => {
      for (const { durable, lag } of await lags()) if (lag) g.set({ durable }, lag.pending);
    },
    ['durable'],
  );
  serviceGauge(
    metrics,
    'consumer_unacked_messages',
    'Messages delivered to the durable consumer and not acked yet (count)',
    async (g) => {
      for (const { durable, lag } of await lags()) if (lag) g.set({ durable }, lag.unacked);
    },
    ['durable'],
  );
}

/**
 * Connects to MongoDB and the event bus for subgraph `name`: NATS (`NATS_URL`, as its own user),
 * or `opts.bus` when given (an {@link InMemoryBus} shared with the test that runs the service;
 * the runtime closes it when the service stops).
 * @throws the driver's or NATS' error when either cannot be reached (nothing is left open).
 */
export async function createSubgraphRuntime(name: string, config: SubgraphConfig, opts: { bus?: Bus } = {}): Promise<SubgraphRuntime> {
  const logger = createLogger(name, config.LOG_LEVEL);
  const metrics = createMetrics(name);
  const conn = await connectMongo(config.MONGODB_URI, logger, metrics);
  let bus: Bus;
  try {
    bus = opts.bus ?? new NatsBus(await connectNats(config.NATS_URL, name, logger, natsAuthOf(config)), config.NATS_NAMESPACE, logger);
  } catch (err) {
    await conn.close();
    throw err;
  }
  const outbox = new Outbox({ conn, bus, logger, metrics, publish: config.OUTBOX_RELAY === 'on' });
  return { name, config, logger, metrics, conn, bus, namespace: config.NATS_NAMESPACE, outbox };
}

/**
 * Starts the subgraph: stream, outbox sweeper, consumers, then HTTP. Requests without the
 * gateway secret get 401 (health and metrics stay open). Stop order: HTTP (drain) → consumers →
 * outbox (changes in flight finish publishing) → extra steps → bus drain → MongoDB close.
 */
export async function startSubgraph<Ctx extends RequestContext>(
  runtime: SubgraphRuntime,
  parts: SubgraphParts<Ctx>,
): Promise<RunningSubgraph> {
  const { name, config, logger } = runtime;
  if (parts.publishes) await ensurePublishedStream(runtime, parts.publishes);
  runtime.outbox.start();
  const consumers = parts.startConsumers ? await parts.startConsumers() : [];
  registerRuntimeGauges(runtime, consumers);
  const apollo = await startApollo<Ctx>(parts, logger);
  const { host, internal } = createHosts(runtime, parts, apollo);
  const port = await host.listen(config.PORT, config.HOST);
  await internal?.listen(parts.internal!.port!, config.HOST);

  let stopping: Promise<void> | undefined;
  const hosts = internal ? [host, internal] : [host];
  const running: RunningSubgraph = {
    name,
    port,
    url: `http://127.0.0.1:${port}`,
    runtime,
    host,
    stop() {
      stopping ??= stopAll(
        [
          () => Promise.all(hosts.map((h) => h.stop())),
          ...consumers.map((c) => () => c.stop()),
          // The service's own background work first: it may still change aggregates through the outbox.
          ...(parts.onStop ?? []),
          () => runtime.outbox.stop(),
          () => runtime.bus.close({ drain: true }),
          () => runtime.conn.close(),
        ],
        logger,
      );
      return stopping;
    },
  };
  crashes.set(running, () => (stopping ??= crash(runtime, parts, hosts, consumers, apollo)));
  return running;
}

/** Creates the stream of the context `name` publishes (its role in BUS must say so). */
async function ensurePublishedStream(runtime: SubgraphRuntime, context: Context): Promise<void> {
  const { name, config, logger, bus } = runtime;
  if (busRole(name).publishes !== context) throw new Error(`${name} does not publish ${context} in BUS (@courses/contracts)`);
  const stream = streamOf(context, runtime.namespace);
  if ((await bus.ensureStream(stream, config.NATS_STREAM_REPLICAS)) === 'differs')
    logger.warn({ stream: stream.name }, "the stream's limits differ from this configuration's; the operator user may change them");
}

/** The subgraph's Apollo Server (Federation 2 schema, domain errors mapped, spans, unexpected errors logged), started. */
async function startApollo<Ctx extends RequestContext>(parts: SubgraphParts<Ctx>, logger: Logger): Promise<ApolloServer<Ctx>> {
  const apollo = new ApolloServer<Ctx>({
    schema: buildSubgraphSchema({ typeDefs: parse(parts.typeDefs), resolvers: parts.resolvers as SubgraphResolverMap }),
    introspection: true,
    includeStacktraceInErrorResponses: false,
    formatError: formatSubgraphError,
    logger: apolloLogger(logger),
    plugins: [graphqlSpanPlugin<Ctx>(), logUnexpectedErrors(logger)],
  });
  await apollo.start();
  return apollo;
}

/** The service's host (GraphQL for the gateway only, health, metrics) and, with `internal.port`, the internal routes' own. */
function createHosts<Ctx extends RequestContext>(
  runtime: SubgraphRuntime,
  parts: SubgraphParts<Ctx>,
  apollo: ApolloServer<Ctx>,
): { host: ServiceHost; internal?: ServiceHost } {
  const { name, config, logger, metrics, bus, conn } = runtime;
  // This subgraph's own secret, the only one its gateway hop accepts (service-secrets.ts).
  const secret = subgraphSecretOf(config, name);
  // Ready while it can take writes (into MongoDB, the events into the outbox); a bus outage is
  // ridden out (the outbox publishes when it is back) and only reported as degraded.
  const health = { readiness: { mongo: () => mongoReady(conn) }, degradedBy: { nats: () => bus.ready() } };
  const common = { name, logger, metrics, graceMs: config.SHUTDOWN_GRACE_MS, drainDelayMs: config.SHUTDOWN_DELAY_MS, ...health };
  const ownPort = parts.internal?.port !== undefined;
  const internal = ownPort ? createServiceHost({ ...common, metricsAccess: 'off', routes: parts.internal!.routes }) : undefined;
  const host = createServiceHost<Ctx>({
    ...common,
    apollo,
    metricsAccess: metricsAccess(config, false),
    routes: ownPort ? parts.routes : { ...parts.routes, ...parts.internal?.routes },
    async context(req) {
      const get = (h: string) => {
        const v = req.headers[h];
        return Array.isArray(v) ? v[0] : v;
      };
      if (!sameSecret(get(HEADERS.secret), secret)) {
        throw new HttpError(401, 'subgraphs answer only the gateway: missing or wrong x-gateway-secret', 'UNAUTHENTICATED');
      }
      const base: RequestContext = { identity: identityFromHeaders(get) };
      return parts.context ? parts.context(base, req) : (base as Ctx);
    },
  });
  return { host, internal };
}

/** Dies like a killed process would, as far as the outside sees (see `crashSubgraph` in testing.ts). */
async function crash<Ctx extends RequestContext>(
  runtime: SubgraphRuntime,
  parts: SubgraphParts<Ctx>,
  hosts: ServiceHost[],
  consumers: RunningConsumer[],
  apollo: ApolloServer<Ctx>,
): Promise<void> {
  for (const h of hosts) {
    h.server.close();
    h.server.closeAllConnections();
  }
  for (const c of consumers) void c.stop(); // no wait: stop pulling, drop what is in hand
  void runtime.outbox.stop();
  for (const step of parts.onStop ?? []) {
    try {
      void step();
    } catch {
      /* dying anyway */
    }
  }
  await runtime.bus.close().catch(() => undefined);
  await runtime.conn.close(true).catch(() => undefined);
  await apollo.stop().catch(() => undefined);
}
