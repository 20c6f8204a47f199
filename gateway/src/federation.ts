/**
 * The federation part of the gateway: Apollo Gateway over the supergraph (a data source per
 * subgraph, with its own secret and timeout), and the Apollo Server that runs it with the
 * gateway's limits, trusted documents, rate limits, field usage and response cache.
 */
import { readFileSync } from 'node:fs';
// First: @apollo/gateway must load @apollo/federation-internals' plain exports (federation-exports.ts).
import './federation-exports.js';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import responseCachePlugin from '@apollo/server-plugin-response-cache';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import type { InMemoryLRUCache } from '@apollo/utils.keyvaluecache';
import type { GraphQLFormattedError, GraphQLSchema } from 'graphql';
import type { Redis } from 'ioredis';
import {
  apolloLogger,
  ErrorCode,
  graphqlSpanPlugin,
  operationMetricsPlugin,
  subgraphSecret,
  type Logger,
  type ServiceMetrics,
} from '@courses/platform';
import { devDefault, routingOverrides, type GatewayConfig } from './config.js';
import type { FieldUsage } from './field-usage.js';
import { rateLimits, type operationLimits } from './limits.js';
import { SubgraphDataSource, type GatewayContext } from './subgraph-client.js';
import type { Executor } from './subscriptions/engine.js';
import { trustedOnlyPlugin, type TrustedDocuments } from './trusted-documents.js';

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

/** Apollo Gateway over the supergraph file, its data sources (to close on stop), and the API schema once loaded. */
export function createFederation(config: GatewayConfig): {
  gateway: ApolloGateway;
  dataSources: SubgraphDataSource[];
  schema: () => GraphQLSchema | undefined;
} {
  const overrides = routingOverrides(config);
  const dataSources: SubgraphDataSource[] = [];
  let apiSchema: GraphQLSchema | undefined;
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
  return { gateway, dataSources, schema: () => apiSchema };
}

/** What the gateway's Apollo Server is built from (see createApolloServer). */
export interface ApolloParts {
  config: GatewayConfig;
  gateway: ApolloGateway;
  limits: ReturnType<typeof operationLimits>;
  trusted: TrustedDocuments;
  usage: FieldUsage;
  redis: Redis | undefined;
  /** Whole responses, while RESPONSE_CACHE is on. */
  responses: InMemoryLRUCache<string>;
  metrics: ServiceMetrics;
  logger: Logger;
}

/**
 * The gateway's Apollo Server, not started. Whole responses are cached for as long as every
 * subgraph that answered allows (its Cache-Control: the public catalog, 2 s). PUBLIC ones serve
 * everyone (signed-in callers and anonymous ones apart); PRIVATE ones only their caller. A client
 * may ask past it (`cache-control: no-cache`), and a lecture opened or canceled empties it (a count
 * may lag by the 2 s; live updates come through `lectureUpdated`, whose queries never read from
 * it: see GatewayContext.fresh).
 */
export function createApolloServer(p: ApolloParts): ApolloServer<GatewayContext> {
  const { config, limits, trusted } = p;
  const cache = responseCachePlugin<GatewayContext>({
    cache: p.responses,
    sessionId: async ({ contextValue: { identity } }) => (identity ? `${identity.role}:${identity.sub}` : null),
    shouldReadFromCache: async ({ request, contextValue }) =>
      !contextValue.fresh && !/no-cache/i.test(request.http?.headers.get('cache-control') ?? ''),
  });
  return new ApolloServer<GatewayContext>({
    gateway: p.gateway,
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
      operationMetricsPlugin<GatewayContext>(p.metrics),
      p.usage.plugin(),
      ...limits.plugins,
      ...(trusted.mode === 'only' ? [trustedOnlyPlugin(trusted)] : []),
      rateLimits(config, p.redis),
      ...(config.RESPONSE_CACHE ? [cache] : []),
    ],
    logger: apolloLogger(p.logger),
  });
}

/** Runs an operation of a subscription transport (an event's query, or a client's own: see Executor), as `identity`, through Apollo's pipeline. */
export function executorOf(apollo: ApolloServer<GatewayContext>): Executor {
  return async (document, variables, identity, operationName, client) => {
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
}
