/**
 * The gateway: the single entry point. Apollo Gateway executes queries and mutations over
 * the composed supergraph (query plans over HTTP to the subgraphs, with the gateway secret
 * and the caller's identity in headers); the subscription engine serves Subscription fields
 * over graphql-ws on the same URL, and over Server-Sent Events and multipart HTTP; browsers
 * get GraphiQL.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import responseCachePlugin from '@apollo/server-plugin-response-cache';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { InMemoryLRUCache } from '@apollo/utils.keyvaluecache';
import { parse, print, separateOperations, type GraphQLFormattedError, type GraphQLSchema } from 'graphql';
import { Redis } from 'ioredis';
import {
  apolloLogger,
  connectNats,
  createLogger,
  createMetrics,
  createServiceHost,
  ErrorCode,
  graphqlSpanPlugin,
  HttpError,
  isRole,
  loadConfig,
  metricsAccess,
  natsAuthOf,
  natsReady,
  operationMetricsPlugin,
  sendJson,
  serviceCounter,
  serviceGauge,
  stopAll,
  subgraphSecret,
  type Logger,
  type NatsConnection,
  type Role,
} from '@courses/platform';
import { AuthError, identityFromAuthorization, issueToken, warmIssuer, type TokenPolicy, type TokenRules } from './auth.js';
import { clientAddressOf } from './client-address.js';
import { allowedOrigins, devDefault, gatewayEnv, routingOverrides, tokenPolicy, trustedProxies, type GatewayConfig } from './config.js';
import { FieldUsage } from './field-usage.js';
import { browserPage, PAGE_HEADERS } from './graphiql.js';
import { operationLimits, rateLimits, variablePageCost } from './limits.js';
import { SubgraphDataSource, type GatewayContext } from './subgraph-client.js';
import { ClientCaps, SharedConnectionCounts } from './subscriptions/client-caps.js';
import { DocumentCache } from './subscriptions/documents.js';
import { createSubscriptionEngine, type Executor } from './subscriptions/engine.js';
import { EventHub } from './subscriptions/event-hub.js';
import { createHttpStreams, type HttpStreams } from './subscriptions/http-streams.js';
import { startSubscriptionServer, type SubscriptionServer } from './subscriptions/server.js';
import { documentIdAsPersistedQuery, TrustedDocuments, trustedOnlyPlugin } from './trusted-documents.js';
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

/** How Apollo Gateway words a subgraph it could not reach (node-fetch's transport errors). */
const UNREACHABLE = /^request to \S+ failed, reason: /;

/**
 * Client-facing errors: a subgraph that cannot be reached becomes SERVICE_UNAVAILABLE with a
 * retry hint, without the internal address; a subgraph's non-2xx answer loses the
 * `extensions.response` (URL, status, body) Apollo Gateway attaches; everything else passes
 * through as formatted.
 */
export function formatGatewayError(formatted: GraphQLFormattedError): GraphQLFormattedError {
  if (formatted.extensions?.response) {
    // A subgraph's non-2xx answer: Apollo Gateway attaches its URL, status and body, which are
    // internal. The client keeps the message and code.
    const { response: _internal, ...extensions } = formatted.extensions;
    formatted = { ...formatted, extensions };
  }
  if (formatted.extensions?.code === 'INTERNAL_SERVER_ERROR' && UNREACHABLE.test(formatted.message)) {
    return {
      message: 'a service this operation needs is temporarily unavailable; please try again shortly',
      path: formatted.path,
      extensions: { code: ErrorCode.SERVICE_UNAVAILABLE, retryAfterSeconds: 1 },
    };
  }
  return formatted;
}

/**
 * A page of public/ (app.html, the student page; instructor.html, the instructor console), read
 * once, with what it shares with the other (public/page.css, public/page.js) and the operations
 * (public/operations.graphql, one document per name) put in. `<` is escaped so that no text in a
 * document can end the page's script element.
 */
function pageHtml(file: string, operations: Record<string, string | { hash: string }>): string {
  const read = (name: string) => readFileSync(new URL(`../public/${name}`, import.meta.url), 'utf8');
  return read(file)
    .replace('/*OPERATIONS*/ {}', JSON.stringify(operations).replace(/</g, '\\u003c'))
    .replace('/*STYLE*/', () => read('page.css'))
    .replace('/*SHARED*/', () => read('page.js'));
}
/**
 * The pages, with their operations as trusted documents (`{ hash }`) when the gateway holds the
 * manifest that has them all (trusted-documents.ts), else as text.
 */
function pages(trusted: TrustedDocuments): Record<string, string> {
  const texts = pageOperations();
  const hashes = trusted.operationHashes();
  const operations = Object.keys(texts).every((name) => hashes[name])
    ? Object.fromEntries(Object.keys(texts).map((name) => [name, { hash: hashes[name]! }]))
    : texts;
  return { '/app': pageHtml('app.html', operations), '/app/instructor': pageHtml('instructor.html', operations) };
}

/** oauth4webapi's browser build (ESM), which the pages sign in with: served, never fetched from elsewhere. */
const OAUTH4WEBAPI = readFileSync(createRequire(import.meta.url).resolve('oauth4webapi'), 'utf8');

/**
 * The pages' sign-in routes: `GET /app/sign-in.json` → `{ issuer, clientId, audience, scope }` (the
 * issuer null when the gateway trusts none), and `GET /app/oauth4webapi.js`, the library that
 * runs Authorization Code + PKCE in the page (public/page.js).
 */
function signInRoutes(config: GatewayConfig, tokens: TokenRules) {
  const described = JSON.stringify(
    tokens.oidc
      ? { issuer: tokens.oidc.issuer, clientId: config.PAGES_CLIENT_ID, audience: tokens.oidc.audience ?? null }
      : { issuer: null },
  );
  return {
    '/app/sign-in.json': (req: IncomingMessage, res: ServerResponse) => {
      if (req.method !== 'GET') return false;
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(described);
    },
    '/app/oauth4webapi.js': (req: IncomingMessage, res: ServerResponse) => {
      if (req.method !== 'GET') return false;
      res.writeHead(200, {
        'content-type': 'text/javascript; charset=utf-8',
        'x-content-type-options': 'nosniff',
        'cache-control': 'max-age=3600',
      });
      res.end(OAUTH4WEBAPI);
    },
  };
}

/**
 * The page's operations: public/operations.graphql split into one printed document per
 * operation name, each with the fragments it uses (graphql-js `separateOperations`).
 */
export function pageOperations(): Record<string, string> {
  const doc = parse(readFileSync(new URL('../public/operations.graphql', import.meta.url), 'utf8'));
  return Object.fromEntries(Object.entries(separateOperations(doc)).map(([name, d]) => [name, print(d)]));
}

/**
 * `GET /dev/token?role=STUDENT&sub=s-1` → `{ token }`: demo sign-in for the client page and
 * GraphiQL. DEV-ONLY: mounted only with `DEV_TOKENS=on`, which production refuses.
 */
function devTokenRoute(tokens: TokenPolicy) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    if (req.method !== 'GET') return false;
    const q = new URL(req.url ?? '/', 'http://x').searchParams;
    const role = (q.get('role') ?? 'STUDENT').toUpperCase();
    const sub = q.get('sub') ?? '';
    if (!isRole(role) || !/^[A-Za-z0-9_.-]{1,64}$/.test(sub)) {
      return (sendJson(res, 400, { error: 'role must be STUDENT, INSTRUCTOR or ADMIN and sub 1-64 of [A-Za-z0-9_.-]' }), true);
    }
    // 8 h, or less when tokens may not live that long (JWT_MAX_TTL_SECONDS): it would be refused.
    const ttl = Math.min(8 * 3600, (typeof tokens === 'string' ? undefined : tokens.maxTtlSeconds) ?? 8 * 3600);
    sendJson(res, 200, { token: await issueToken({ sub, role: role as Role }, tokens, ttl), devOnly: true });
    return true;
  };
}

/** Starts the gateway from `env` (process.env by default). */
export async function startGateway(env: Record<string, string | undefined> = process.env): Promise<RunningGateway> {
  const config = loadConfig(gatewayEnv, env, { PORT: '4000' });
  const logger = createLogger('gateway', config.LOG_LEVEL);
  const metrics = createMetrics('gateway');
  const overrides = routingOverrides(config);
  const tokens = tokenPolicy(config);
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
  let apiSchema: GraphQLSchema | undefined;

  const dataSources: SubgraphDataSource[] = [];
  const gateway = new ApolloGateway({
    supergraphSdl: readFileSync(config.SUPERGRAPH_PATH, 'utf8'),
    buildService: ({ name, url }) => {
      const base = overrides[name];
      const source = new SubgraphDataSource(
        base ? `${base.replace(/\/$/, '')}/graphql` : url!,
        subgraphSecret(config.GATEWAY_SECRET, name),
        config.SUBGRAPH_TIMEOUT_MS,
      );
      dataSources.push(source);
      return source;
    },
  });
  gateway.onSchemaLoadOrUpdate(({ apiSchema: s }) => (apiSchema = s));

  /**
   * Whole responses, for as long as every subgraph that answered allows (its Cache-Control:
   * the public catalog, 2 s). PUBLIC ones serve everyone (signed-in callers and anonymous ones
   * apart); PRIVATE ones only their caller. A client may ask past it (`cache-control: no-cache`),
   * and a lecture opened or canceled empties it (a count may lag by the 2 s; live updates come
   * through `lectureUpdated`, whose queries never read from it: see GatewayContext.fresh).
   */
  const responses = new InMemoryLRUCache<string>({ maxSize: 32 * 1024 * 1024 });
  const limits = operationLimits(config);
  const trusted = TrustedDocuments.load(config.TRUSTED_DOCUMENTS, config.TRUSTED_DOCUMENTS_MANIFESTS);
  const usage = new FieldUsage(metrics.registry);
  const redis = config.REDIS_URL ? limitsStore(config.REDIS_URL, config.RATE_LIMITS_WITHOUT_REDIS, logger) : undefined;
  // Count in Redis from the first request when it answers soon; else start anyway (see limitsStore).
  if (redis) await Promise.race([once(redis, 'ready').catch(() => undefined), new Promise((r) => setTimeout(r, 2_000).unref())]);
  logger.info({ mode: trusted.mode, documents: trusted.size }, 'trusted documents');
  const apollo = new ApolloServer<GatewayContext>({
    gateway,
    introspection: devDefault(config.INTROSPECTION, config),
    includeStacktraceInErrorResponses: false,
    allowBatchedHttpRequests: false,
    validationRules: limits.validationRules,
    parseOptions: limits.parseOptions,
    // Automatic persisted queries, with the trusted documents' manifests in the cache (trusted-documents.ts).
    persistedQueries: { cache: trusted.apqCache() },
    formatError: (formatted) => formatGatewayError(formatted),
    plugins: [
      ApolloServerPluginLandingPageDisabled(),
      graphqlSpanPlugin<GatewayContext>(),
      operationMetricsPlugin<GatewayContext>(metrics),
      usage.plugin(),
      ...limits.plugins,
      ...(trusted.mode === 'only' ? [trustedOnlyPlugin(trusted)] : []),
      rateLimits(config, redis),
      ...(config.RESPONSE_CACHE
        ? [
            responseCachePlugin<GatewayContext>({
              cache: responses,
              sessionId: async ({ contextValue: { identity } }) => (identity ? `${identity.role}:${identity.sub}` : null),
              shouldReadFromCache: async ({ request, contextValue }) =>
                !contextValue.fresh && !/no-cache/i.test(request.http?.headers.get('cache-control') ?? ''),
            }),
          ]
        : []),
    ],
    logger: apolloLogger(logger),
  });
  await apollo.start();
  const nc = await connectNats(config.NATS_URL, 'gateway', logger, natsAuthOf(config));
  const hub = new EventHub(nc, config.NATS_NAMESPACE, logger, config.SUBSCRIPTION_REPLAY_MAX);
  const forgetCatalog = config.RESPONSE_CACHE
    ? hub.listen('lecture', (e) => {
        if (e.type === 'lecture.opened' || e.type === 'lecture.canceled') responses.clear();
      })
    : () => undefined;

  const subscriptionCounter = (name: string, help: string) => serviceCounter(metrics, name, help);
  const executionsTotal = subscriptionCounter(
    'subscription_executions_total',
    'Supergraph queries run for subscription events (a shared one counts once)',
  );
  const deliveriesTotal = subscriptionCounter('subscription_deliveries_total', 'Subscription payloads sent to clients');
  const overflowsTotal = subscriptionCounter('subscription_overflows_total', 'Subscriptions ended with SUBSCRIPTION_OVERFLOW');
  /** Runs an operation of a subscription transport (an event's query, or a client's own: see Executor), as `identity`, through Apollo's pipeline. */
  const execute: Executor = async (document, variables, identity, operationName, client) => {
    // Fresh: an event says the entity just changed, so no cached answer will do.
    const res = await apollo.executeOperation(
      { query: document, variables, operationName: operationName ?? undefined },
      { contextValue: { identity, fresh: true, vetted: true, clientIp: client?.ip, internal: !client } },
    );
    if (res.body.kind !== 'single') throw new Error('incremental delivery is not supported over subscription transports');
    // Apollo's formatted result (plain errors) where the transports' types name graphql's
    // ExecutionResult (GraphQLError instances): the same JSON once serialized.
    return res.body.singleResult as never;
  };
  // One document cache, engine and per-client cap for graphql-ws, SSE and multipart.
  const documents = new DocumentCache(limits.validationRules, limits.parseOptions);
  const clientAddress = clientAddressOf(trustedProxies(config));
  // Across replicas when they share a Redis, as the rate limits are.
  const sharedCounts = redis ? new SharedConnectionCounts(redis) : undefined;
  const caps = new ClientCaps(config.WS_MAX_SOCKETS_PER_CLIENT, clientAddress, sharedCounts, config.RATE_LIMITS_WITHOUT_REDIS);
  const engine = createSubscriptionEngine({
    execute,
    hub,
    documents,
    logger,
    bufferSize: config.SUBSCRIPTION_BUFFER,
    count: { execution: () => executionsTotal.inc(), delivery: () => deliveriesTotal.inc(), overflow: () => overflowsTotal.inc() },
    pageCost: variablePageCost(config),
  });
  const httpStreams = createHttpStreams({ schema: () => apiSchema, execute, engine, documents, trusted, usage, tokens, caps, logger });

  const host = createServiceHost<GatewayContext>({
    name: 'gateway',
    apollo,
    logger,
    metrics,
    graceMs: config.SHUTDOWN_GRACE_MS,
    drainDelayMs: config.SHUTDOWN_DELAY_MS,
    metricsAccess: metricsAccess(config, true),
    // Under GATEWAY_WORKERS, every worker's metrics summed (workers.ts).
    metricsText: clusterMetricsOf(metrics.registry),
    // Queries and mutations need no NATS; live updates resume after an outage: reported, not unready.
    readiness: { supergraph: () => !!apiSchema },
    degradedBy: { nats: () => natsReady(nc) },
    // The public edge: a client's traceparent starts nothing here (TRUST_CLIENT_TRACEPARENT to allow it).
    trustTraceparent: config.TRUST_CLIENT_TRACEPARENT,
    rewriteGraphQLRequest: trusted.mode === 'off' ? undefined : documentIdAsPersistedQuery,
    onGet: browserPage(devDefault(config.GRAPHIQL, config)),
    routes: {
      ...Object.fromEntries(
        Object.entries(pages(trusted)).map(([path, html]) => [
          path,
          (req: IncomingMessage, res: ServerResponse) => {
            if (req.method !== 'GET') return false;
            res.writeHead(200, PAGE_HEADERS);
            res.end(html);
          },
        ]),
      ),
      ...signInRoutes(config, tokens),
      ...(config.DEV_TOKENS ? { '/dev/token': devTokenRoute(tokens) } : {}),
      '/graphql': (req: IncomingMessage, res: ServerResponse, body: Buffer) => httpStreams.graphql(req, res, body),
      '/graphql/stream': (req: IncomingMessage, res: ServerResponse, body: Buffer) => httpStreams.sse(req, res, body),
    },
    async context(req) {
      try {
        const verified = await identityFromAuthorization(req.headers.authorization, tokens);
        return { identity: verified?.identity, clientIp: clientAddress(req) };
      } catch (err) {
        if (err instanceof AuthError) throw new HttpError(err.status, err.message, err.code);
        throw err;
      }
    },
  });

  const subscriptions = startSubscriptionServer({
    httpServer: host.server,
    schema: () => apiSchema,
    execute,
    engine,
    documents,
    trusted,
    usage,
    caps,
    tokens,
    logger,
    maxSubscriptionsPerSocket: config.WS_MAX_SUBSCRIPTIONS_PER_SOCKET,
    keepAliveMs: config.WS_KEEPALIVE_MS,
    allowedOrigins: allowedOrigins(config),
  });
  serviceGauge(metrics, 'graphql_subscriptions_active', 'Subscriptions (graphql-ws operations) running now', (g) =>
    g.set(subscriptions.operations),
  );
  serviceGauge(metrics, 'graphql_http_streams', 'Open SSE and multipart subscription responses', (g) => g.set(httpStreams.open));
  serviceGauge(metrics, 'graphql_ws_connections', 'Open graphql-ws connections', (g) => g.set(subscriptions.connections));

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
