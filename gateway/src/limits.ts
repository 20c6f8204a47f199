/**
 * Bounds on what one operation, and one caller, may ask of the supergraph.
 *
 * - Per operation: at most `MAX_TOKENS` tokens, counted by graphql-js's parser (`maxTokens`), so
 *   an alias or token bomb stops parsing at the limit (GRAPHQL_PARSE_FAILED, HTTP 400); then
 *   GraphQL Armor (Escape's, https://escape.tech/graphql-armor/): max depth, max aliases, max
 *   directives and a cost limit (GRAPHQL_VALIDATION_FAILED), and field suggestions hidden where
 *   the config says so.
 *   Introspection is exempt from depth and cost, as Armor does by default.
 * - Per caller, a rate limit on mutations (rate-limiter-flexible's in-memory limiter): at most
 *   `MUTATION_RATE_LIMIT` per `MUTATION_RATE_WINDOW_SECONDS` for one token `sub`, or for one IP
 *   address when anonymous; past it, RATE_LIMITED with `retryAfterSeconds` and HTTP 429. The
 *   count is per gateway process: N replicas allow N times as much.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import { GraphQLError, type ValidationRule } from 'graphql';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { ErrorCode } from '@courses/platform';
import { devDefault, type GatewayConfig } from './config.js';
import type { GatewayContext } from './subgraph-client.js';

/** Armor's plugins and validation rules for the config's limits, and the parser's token limit. */
export function operationLimits(c: GatewayConfig): {
  plugins: ApolloServerPlugin<GatewayContext>[];
  validationRules: ValidationRule[];
  parseOptions: { maxTokens: number };
} {
  const armor = new ApolloArmor({
    // Armor's token check throws from a plugin hook, which Apollo answers with HTTP 500: graphql-js's
    // own parser limit does it instead (see parseOptions).
    maxTokens: { enabled: false },
    maxDepth: { n: c.MAX_DEPTH, ignoreIntrospection: true },
    maxAliases: { n: c.MAX_ALIASES },
    costLimit: { maxCost: c.MAX_COST, ignoreIntrospection: true },
    maxDirectives: { n: 50 },
    blockFieldSuggestion: { enabled: !devDefault(c.FIELD_SUGGESTIONS, c) },
  });
  const { plugins, validationRules } = armor.protect();
  return { plugins: plugins as ApolloServerPlugin<GatewayContext>[], validationRules, parseOptions: { maxTokens: c.MAX_TOKENS } };
}

/**
 * The mutation rate limit as an Apollo plugin (see the module doc). Queries and subscriptions
 * are not counted: the response cache and the subgraphs' DataLoaders absorb repeated reads.
 */
export function mutationRateLimit(
  c: Pick<GatewayConfig, 'MUTATION_RATE_LIMIT' | 'MUTATION_RATE_WINDOW_SECONDS'>,
): ApolloServerPlugin<GatewayContext> {
  const limiter = new RateLimiterMemory({ points: c.MUTATION_RATE_LIMIT, duration: c.MUTATION_RATE_WINDOW_SECONDS });
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, contextValue }) {
          if (operation?.operation !== 'mutation') return;
          const key = contextValue.identity ? `sub:${contextValue.identity.sub}` : `ip:${contextValue.clientIp ?? 'unknown'}`;
          try {
            await limiter.consume(key);
          } catch (res) {
            if (!(res instanceof RateLimiterRes)) throw res;
            const retryAfterSeconds = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
            throw new GraphQLError(
              `too many mutations: at most ${c.MUTATION_RATE_LIMIT} per ${c.MUTATION_RATE_WINDOW_SECONDS} s; retry in ${retryAfterSeconds} s`,
              {
                extensions: {
                  code: ErrorCode.RATE_LIMITED,
                  retryAfterSeconds,
                  // Apollo Server sets these on the HTTP answer (it iterates a Map of headers).
                  http: {
                    status: 429,
                    headers: new Map([['retry-after', String(retryAfterSeconds)]]) as unknown as Record<string, string>,
                  },
                },
              },
            );
          }
        },
      };
    },
  };
}
