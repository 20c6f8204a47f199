/**
 * The gateway: the single entry point. Apollo Gateway executes queries and mutations over
 * the composed supergraph (query plans over HTTP to the subgraphs, with the gateway secret
 * and the caller's identity in headers); the subscription engine serves Subscription fields
 * over graphql-ws on the same URL, and over Server-Sent Events and multipart HTTP; browsers
 * get GraphiQL.
 */
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApolloServer } from '@apollo/server';
import { InMemoryLRUCache } from '@apollo/utils.keyvaluecache';
import { Redis } from 'ioredis';
import {
  connectNats,
  createLogger,
  createMetrics,
  createServiceHost,
  HttpError,
  loadConfig,
  metricsAccess,
  natsAuthOf,
  NatsBus,
  natsReady,
  serviceCounter,
  serviceGauge,
  stopAll,
  type Logger,
  type NatsConnection,
  type ServiceHost,
  type ServiceMetrics,
} from '@courses/platform';
import { AuthError, identityFromAuthorization, warmIssuer, type TokenRules } from './auth.js';
import { clientAddressOf } from './client-address.js';
import { allowedOrigins, devDefault, gatewayEnv, tokenPolicy, trustedProxies, type GatewayConfig } from './config.js';
import { createApolloServer, createFederation, executorOf } from './federation.js';
import { FieldUsage } from './field-usage.js';
import { browserPage } from './graphiql.js';
import { operationLimits, variablePageCost } from './limits.js';
import { pageRoutes } from './pages.js';
import type { GatewayContext } from './subgraph-client.js';
import { ClientCaps, SharedConnectionCounts } from './subscriptions/client-caps.js';
import { DocumentCache } from './subscriptions/documents.js';
import { createSubscriptionEngine } from './subscriptions/engine.js';
import { EventHub } from './subscriptions/event-hub.js';
import { createHttpStreams, type HttpStreams } from './subscriptions/http-streams.js';
import { startSubscriptionServer, type SubscriptionServer } from './subscriptions/server.js';
import { documentIdAsPersistedQuery, TrustedDocuments } from './trusted-documents.js';
import { clusterMetricsOf } from './workers.js';

export type { GatewayContext };

export interface RunningGateway {
  port: number;
  url: string;
  config: GatewayConfig;
  logger: Logger;
  apollo: ApolloServer<GatewayContext>;
  hub: EventHub;
  subscriptions: SubscriptionServer;
  /** Subscriptions over SSE and multipart HTTP. */
  httpStreams: HttpStreams;
  nc: NatsConnection;
  stop(): Promise<void>;
}

export { formatGatewayError } from './federation.js';
export { pageOperations } from './pages.js';

/** Starts the gateway from `env` (process.env by default). */
export async function startGateway(env: Record<string, string | undefined> = process.env): Promise<RunningGateway> {
  const config = loadConfig(gatewayEnv, env, { PORT: '4000' });
  const logger = createLogger('gateway', config.LOG_LEVEL);
  const metrics = createMetrics('gateway');
  const tokens = tokenPolicy(config);
  announceTokens(config, tokens, logger);
  const { gateway, dataSources, schema } = createFederation(config);
  const responses = new InMemoryLRUCache<string>({ maxSize: 32 * 1024 * 1024 });
  const limits = operationLimits(config);
  const trusted = TrustedDocuments.load(config.TRUSTED_DOCUMENTS, config.TRUSTED_DOCUMENTS_MANIFESTS);
  const usage = new FieldUsage(metrics.registry);
  const redis = await openLimitsStore(config, logger);
  logger.info({ mode: trusted.mode, documents: trusted.size }, 'trusted documents');
  const apollo = createApolloServer({ config, gateway, limits, trusted, usage, redis, responses, metrics, logger });
  await apollo.start();
  const nc = await connectNats(config.NATS_URL, 'gateway', logger, natsAuthOf(config));
  const hub = new EventHub(new NatsBus(nc, config.NATS_NAMESPACE, logger), logger, config.SUBSCRIPTION_REPLAY_MAX);
  const forgetCatalog = config.RESPONSE_CACHE ? forgetCatalogOnChange(hub, responses) : () => undefined;

  const execute = executorOf(apollo);
  // One document cache, engine and per-client cap for graphql-ws, SSE and multipart.
  const documents = new DocumentCache(limits.validationRules, limits.parseOptions);
  const clientAddress = clientAddressOf(trustedProxies(config));
  const { caps, sharedCounts } = clientCapsOf(config, redis, clientAddress);
  const engine = createSubscriptionEngine({
    execute,
    hub,
    documents,
    logger,
    bufferSize: config.SUBSCRIPTION_BUFFER,
    count: subscriptionCounters(metrics),
    pageCost: variablePageCost(config),
  });
  const httpStreams = createHttpStreams({ schema, execute, engine, documents, trusted, usage, tokens, caps, logger });
  const host = gatewayHost({ config, apollo, logger, metrics, schema, nc, trusted, tokens, httpStreams, clientAddress });

  const subscriptions = startSubscriptionServer({
    httpServer: host.server,
    schema,
    execute,
    engine,
    documents,
    trusted,
    usage,
    caps,
    tokens,
    logger,
    ...socketRules(config),
  });
  registerStreamGauges(metrics, subscriptions, httpStreams);

  const port = await host.listen(config.PORT, config.HOST);
  let stopping: Promise<void> | undefined;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    config,
    logger,
    apollo,
    hub,
    subscriptions,
    httpStreams,
    nc,
    stop() {
      stopping ??= stopAll(
        [
          // Not ready, still serving (SHUTDOWN_DELAY_MS); then sockets are told to go (1001: clients
          // reconnect, through the balancer, to another gateway) before the listener closes.
          () => host.drain(),
          () => subscriptions.close(),
          async () => httpStreams.close(),
          () => host.stop(),
          forgetCatalog,
          () => hub.close(),
          () => nc.drain(),
          ...dataSources.map((d) => () => d.close()),
          async () => sharedCounts?.close(),
          async () => redis?.disconnect(),
        ],
        logger,
      );
      return stopping;
    },
  };
}

/**
 * The Redis the rate limits and connection caps count in (REDIS_URL), once it answers or 2 s
 * passed (counting starts in memory meanwhile: see limitsStore); undefined without REDIS_URL.
 */
async function openLimitsStore(config: GatewayConfig, logger: Logger): Promise<Redis | undefined> {
  if (!config.REDIS_URL) return undefined;
  const redis = limitsStore(config.REDIS_URL, config.RATE_LIMITS_WITHOUT_REDIS, logger);
  await Promise.race([once(redis, 'ready').catch(() => undefined), new Promise((r) => setTimeout(r, 2_000).unref())]);
  return redis;
}

/** Empties the response cache when a lecture is opened or canceled (the catalog changed); returns the function that stops. */
function forgetCatalogOnChange(hub: EventHub, responses: InMemoryLRUCache<string>): () => void {
  return hub.listen('lecture', (e) => {
    if (e.type === 'lecture.opened' || e.type === 'lecture.canceled') responses.clear();
  });
}

/** Per-client connection caps, counted across replicas when they share a Redis, as the rate limits are. */
function clientCapsOf(config: GatewayConfig, redis: Redis | undefined, clientAddress: (req: IncomingMessage) => string) {
  const sharedCounts = redis ? new SharedConnectionCounts(redis) : undefined;
  const caps = new ClientCaps(config.WS_MAX_SOCKETS_PER_CLIENT, clientAddress, sharedCounts, config.RATE_LIMITS_WITHOUT_REDIS);
  return { caps, sharedCounts };
}

/** What graphql-ws sockets may do: operations per socket, the keep-alive period, the origins allowed. */
function socketRules(config: GatewayConfig) {
  return {
    maxSubscriptionsPerSocket: config.WS_MAX_SUBSCRIPTIONS_PER_SOCKET,
    keepAliveMs: config.WS_KEEPALIVE_MS,
    allowedOrigins: allowedOrigins(config),
  };
}

/** What the gateway's HTTP host serves from (see gatewayHost). */
interface HostParts {
  config: GatewayConfig;
  apollo: ApolloServer<GatewayContext>;
  logger: Logger;
  metrics: ServiceMetrics;
  schema: () => unknown;
  nc: NatsConnection;
  trusted: TrustedDocuments;
  tokens: TokenRules;
  httpStreams: HttpStreams;
  clientAddress: (req: IncomingMessage) => string;
}

/** The gateway's HTTP host: GraphQL (with SSE and multipart), the pages, health and metrics. */
function gatewayHost(p: HostParts): ServiceHost {
  const { config, trusted, httpStreams } = p;
  return createServiceHost<GatewayContext>({
    name: 'gateway',
    apollo: p.apollo,
    logger: p.logger,
    metrics: p.metrics,
    graceMs: config.SHUTDOWN_GRACE_MS,
    drainDelayMs: config.SHUTDOWN_DELAY_MS,
    metricsAccess: metricsAccess(config, true),
    // Under GATEWAY_WORKERS, every worker's metrics summed (workers.ts).
    metricsText: clusterMetricsOf(p.metrics.registry),
    // Queries and mutations need no NATS; live updates resume after an outage: reported, not unready.
    readiness: { supergraph: () => !!p.schema() },
    degradedBy: { nats: () => natsReady(p.nc) },
    // The public edge: a client's traceparent starts nothing here (TRUST_CLIENT_TRACEPARENT to allow it).
    trustTraceparent: config.TRUST_CLIENT_TRACEPARENT,
    rewriteGraphQLRequest: trusted.mode === 'off' ? undefined : documentIdAsPersistedQuery,
    onGet: browserPage(devDefault(config.GRAPHIQL, config)),
    routes: {
      ...pageRoutes(config, trusted, p.tokens),
      '/graphql': (req: IncomingMessage, res: ServerResponse, body: Buffer) => httpStreams.graphql(req, res, body),
      '/graphql/stream': (req: IncomingMessage, res: ServerResponse, body: Buffer) => httpStreams.sse(req, res, body),
    },
    context: callerContext(p.tokens, p.clientAddress),
  });
}

/** Says which tokens the gateway accepts (a shared secret is a warning in production), and fetches the issuer's keys early. */
function announceTokens(config: GatewayConfig, tokens: TokenRules, logger: Logger): void {
  if (tokens.oidc) {
    logger.info(
      { issuer: tokens.oidc.issuer, audience: tokens.oidc.audience, roleClaim: tokens.oidc.roleClaim },
      'accepting tokens of an OpenID issuer',
    );
    void warmIssuer(tokens.oidc);
  }
  if (tokens.secret !== undefined)
    logger[config.NODE_ENV === 'production' ? 'warn' : 'info'](
      { authMode: config.AUTH_MODE ?? '(default)' },
      'accepting shared-secret (HS256) tokens: anyone holding JWT_SECRET can sign in as anyone',
    );
}

/** The counters the subscription engine keeps: executions, deliveries, overflows. */
function subscriptionCounters(metrics: ServiceMetrics): { execution(): void; delivery(): void; overflow(): void } {
  const counter = (name: string, help: string) => serviceCounter(metrics, name, help);
  const executions = counter('subscription_executions_total', 'Supergraph queries run for subscription events (a shared one counts once)');
  const deliveries = counter('subscription_deliveries_total', 'Subscription payloads sent to clients');
  const overflows = counter('subscription_overflows_total', 'Subscriptions ended with SUBSCRIPTION_OVERFLOW');
  return { execution: () => executions.inc(), delivery: () => deliveries.inc(), overflow: () => overflows.inc() };
}

/** The per-request context of HTTP operations: the caller's verified identity and address. */
function callerContext(tokens: TokenRules, clientAddress: (req: IncomingMessage) => string) {
  return async (req: IncomingMessage): Promise<GatewayContext> => {
    try {
      const verified = await identityFromAuthorization(req.headers.authorization, tokens);
      return { identity: verified?.identity, clientIp: clientAddress(req) };
    } catch (err) {
      if (err instanceof AuthError) throw new HttpError(err.status, err.message, err.code);
      throw err;
    }
  };
}

/** Gauges of the live transports: graphql-ws operations and connections, SSE and multipart streams. */
function registerStreamGauges(metrics: ServiceMetrics, subscriptions: SubscriptionServer, httpStreams: HttpStreams): void {
  serviceGauge(metrics, 'graphql_subscriptions_active', 'Subscriptions (graphql-ws operations) running now', (g) =>
    g.set(subscriptions.operations),
  );
  serviceGauge(metrics, 'graphql_http_streams', 'Open SSE and multipart subscription responses', (g) => g.set(httpStreams.open));
  serviceGauge(metrics, 'graphql_ws_connections', 'Open graphql-ws connections', (g) => g.set(subscriptions.connections));
}

/**
 * The Redis the replicas count rate limits in (limits.ts): commands fail at once while it is
 * unreachable (no offline queue), so a request never waits on it; ioredis reconnects by itself.
 * Losing and regaining it is logged, with what the limits do meanwhile.
 */
function limitsStore(url: string, withoutRedis: 'open' | 'closed', logger: Logger): Redis {
  const redis = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2_000 });
  let down = false;
  redis.on('error', (err: Error) => {
    if (down) return;
    down = true;
    logger.warn(
      { err: err.message, rateLimitsWithoutRedis: withoutRedis },
      withoutRedis === 'open'
        ? 'rate-limit store unreachable: each gateway process counts alone until it is back'
        : 'rate-limit store unreachable: rate-limited operations are refused SERVICE_UNAVAILABLE until it is back',
    );
  });
  redis.on('ready', () => {
    if (down) logger.info('rate-limit store reachable again');
    down = false;
  });
  return redis;
}

export { createLogger };
