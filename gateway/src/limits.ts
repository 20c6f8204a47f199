/**
 * Bounds on what one operation, and one caller, may ask of the supergraph.
 *
 * - Per operation: at most `MAX_TOKENS` tokens, counted by graphql-js's parser (`maxTokens`), so
 *   an alias or token bomb stops parsing at the limit (GRAPHQL_PARSE_FAILED, HTTP 400); then
 *   GraphQL Armor (Escape's, https://escape.tech/graphql-armor/): max depth, max aliases, max
 *   directives and a cost limit (GRAPHQL_VALIDATION_FAILED), and field suggestions hidden where
 *   the config says so.
 *   Introspection is exempt from depth and cost, as Armor does by default. Armor's cost
 *   multiplies a list by its literal `first`/`last`; one given by a variable counts as 1 when
 *   validating, so {@link variablePageCost} checks such an operation again with its variables'
 *   values written in (HTTP queries and mutations here; subscriptions in their engine).
 * - Per caller, a rate limit on mutations and one on queries (rate-limiter-flexible): at most
 *   `MUTATION_RATE_LIMIT` per `MUTATION_RATE_WINDOW_SECONDS` (and `QUERY_RATE_LIMIT` per
 *   `QUERY_RATE_WINDOW_SECONDS`) for one token `sub`, or for one client address when anonymous; past it, RATE_LIMITED with `retryAfterSeconds` and HTTP 429. With `REDIS_URL` every
 *   gateway replica counts in the same Redis (RateLimiterRedis), so N replicas allow the limit
 *   once; while Redis is down, `RATE_LIMITS_WITHOUT_REDIS` says what happens (`open`: each
 *   process counts in memory, rate-limiter-flexible's insurance limiter; `closed`:
 *   SERVICE_UNAVAILABLE). Without `REDIS_URL`, each process counts alone.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import { GraphQLError, Kind, visit, type DocumentNode, type GraphQLSchema, type ValidationRule } from 'graphql';
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { ErrorCode } from '@courses/platform';
import { devDefault, type GatewayConfig } from './config.js';
import type { GatewayContext } from './subgraph-client.js';
import { graphqlCjs } from './subscriptions/documents.js';

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
  return {
    plugins: [...(plugins as ApolloServerPlugin<GatewayContext>[]), variablePageCostPlugin(variablePageCost(c))],
    validationRules,
    parseOptions: { maxTokens: c.MAX_TOKENS },
  };
}

/** Per document: whether some `first`/`last` argument takes a variable (checked once). */
const pagedByVariable = new WeakMap<DocumentNode, boolean>();

function hasVariablePageSize(document: DocumentNode): boolean {
  let found = pagedByVariable.get(document);
  if (found === undefined) {
    found = false;
    visit(document, {
      Argument(node) {
        if ((node.name.value === 'first' || node.name.value === 'last') && node.value.kind === Kind.VARIABLE) found = true;
      },
    });
    pagedByVariable.set(document, found);
  }
  return found;
}

/**
 * Armor's cost limit for an operation whose page sizes come from variables
 * (`lectures(first: $n)`): once the variables are known, the document is validated again by
 * Armor's cost rule with each such `first`/`last` written in as the literal it stands for, so 15
 * aliases of `lectures(first: $n)` with n = 100 cost what `lectures(first: 100)` does. Documents
 * with literal page sizes only (all of this product's own) are not looked at again.
 * @returns the refusal's message, or undefined when the operation is within the limit
 */
export type VariablePageCost = (schema: GraphQLSchema, document: DocumentNode, variables: Record<string, unknown>) => string | undefined;

/** The {@link VariablePageCost} check of the config's MAX_COST. */
export function variablePageCost(c: Pick<GatewayConfig, 'MAX_COST'>): VariablePageCost {
  const costOnly = new ApolloArmor({
    maxTokens: { enabled: false },
    maxDepth: { enabled: false },
    maxAliases: { enabled: false },
    maxDirectives: { enabled: false },
    blockFieldSuggestion: { enabled: false },
    costLimit: { maxCost: c.MAX_COST, ignoreIntrospection: true },
  }).protect().validationRules;
  return (schema, document, variables) => {
    if (!hasVariablePageSize(document)) return undefined;
    const written = visit(document, {
      Argument(node) {
        if ((node.name.value !== 'first' && node.name.value !== 'last') || node.value.kind !== Kind.VARIABLE) return undefined;
        const value = variables[node.value.name.value];
        if (typeof value !== 'number' || !Number.isInteger(value)) return undefined;
        return { ...node, value: { kind: Kind.INT, value: String(value) } };
      },
    });
    try {
      // graphql-js as Apollo and Armor load it: the schema is that copy's.
      return graphqlCjs.validate(schema, written, costOnly)[0]?.message;
    } catch (err) {
      // Armor's rule throws its refusal (propagateOnRejection) rather than report it.
      if (!(err instanceof graphqlCjs.GraphQLError)) throw err;
      return err.message;
    }
  };
}

/** {@link variablePageCost} for HTTP operations: refused GRAPHQL_VALIDATION_FAILED, HTTP 400, before anything runs. */
function variablePageCostPlugin(check: VariablePageCost): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, request, schema }) {
          const refusal = check(schema, document, request.variables ?? {});
          if (refusal)
            throw new GraphQLError(refusal, {
              extensions: {
                code: 'GRAPHQL_VALIDATION_FAILED',
                http: { status: 400, headers: new Map() as unknown as Record<string, string> },
              },
            });
        },
      };
    },
  };
}

/** Queries a gateway takes from the shared query limit at once (see LeasedLimiter): a 60th of the limit, 1 to 10. */
const queryBlock = (limit: number) => Math.max(1, Math.min(10, Math.floor(limit / 60)));

/** One operation type's limit: points per window. */
interface Limit {
  /** `mutations` or `queries`: the refusal's word and the Redis key prefix's */
  name: string;
  points: number;
  /** seconds */
  duration: number;
}

function limiterOf(limit: Limit, withoutRedis: 'open' | 'closed', redis?: Redis): RateLimiterMemory | RateLimiterRedis {
  const opts = { points: limit.points, duration: limit.duration };
  return redis
    ? new RateLimiterRedis({
        ...opts,
        storeClient: redis,
        keyPrefix: `courses:${limit.name}`,
        insuranceLimiter: withoutRedis === 'open' ? new RateLimiterMemory(opts) : undefined,
      })
    : new RateLimiterMemory(opts);
}

/**
 * A limiter in Redis asked for a block of points at a time: a process serves the rest of its block
 * for a key from memory until the block is spent or the limiter's window ends, so a query costs a
 * Redis round trip once per `block` queries of one caller instead of every time (measured: one
 * round trip per query was +0.07 ms of gateway CPU per federated query, about 20 %). The price: a
 * caller may be refused up to `block - 1` operations per replica before its limit, never allowed
 * more than it.
 */
class LeasedLimiter {
  private readonly held = new Map<string, { left: number; until: number }>();

  constructor(
    private readonly limiter: RateLimiterRedis,
    private readonly block: number,
  ) {
    // Spent and expired blocks go once a window (a caller seen once holds one entry until then).
    setInterval(() => {
      const now = Date.now();
      for (const [key, h] of this.held) if (h.until <= now) this.held.delete(key);
    }, limiter.duration * 1000).unref();
  }

  /** As RateLimiterRedis.consume(key): resolves when allowed, rejects with its RateLimiterRes (or a store error) when not. */
  async consume(key: string): Promise<void> {
    const now = Date.now();
    const h = this.held.get(key);
    if (h && h.left > 0 && now < h.until) {
      h.left--;
      return;
    }
    const res = await this.limiter.consume(key, this.block);
    this.held.set(key, { left: this.block - 1, until: now + res.msBeforeNext });
  }
}

/** The refusal of an operation past its limit (RATE_LIMITED, HTTP 429), or while Redis cannot count (SERVICE_UNAVAILABLE, 503). */
function refusal(limit: Limit, res: unknown): GraphQLError {
  // Redis unreachable and no insurance limiter (RATE_LIMITS_WITHOUT_REDIS=closed).
  if (!(res instanceof RateLimiterRes))
    return new GraphQLError('the rate limit cannot be counted now (its store is unreachable); retry in a second', {
      extensions: {
        code: ErrorCode.SERVICE_UNAVAILABLE,
        retryAfterSeconds: 1,
        http: { status: 503, headers: new Map([['retry-after', '1']]) as unknown as Record<string, string> },
      },
    });
  const retryAfterSeconds = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
  return new GraphQLError(`too many ${limit.name}: at most ${limit.points} per ${limit.duration} s; retry in ${retryAfterSeconds} s`, {
    extensions: {
      code: ErrorCode.RATE_LIMITED,
      retryAfterSeconds,
      // Apollo Server sets these on the HTTP answer (it iterates a Map of headers).
      http: {
        status: 429,
        headers: new Map([['retry-after', String(retryAfterSeconds)]]) as unknown as Record<string, string>,
      },
    },
  });
}

/**
 * The rate limits on mutations and on queries as an Apollo plugin (see the module doc), on every
 * transport: HTTP, and the queries and mutations sent over graphql-ws, SSE and multipart (which
 * run through Apollo's pipeline). Subscriptions themselves are bounded by the connection caps and
 * the operations per socket; the queries the gateway runs for their events count against nobody
 * (GatewayContext.internal).
 */
export function rateLimits(
  c: Pick<
    GatewayConfig,
    'MUTATION_RATE_LIMIT' | 'MUTATION_RATE_WINDOW_SECONDS' | 'QUERY_RATE_LIMIT' | 'QUERY_RATE_WINDOW_SECONDS' | 'RATE_LIMITS_WITHOUT_REDIS'
  >,
  redis?: Redis,
): ApolloServerPlugin<GatewayContext> {
  const mutation: Limit = { name: 'mutations', points: c.MUTATION_RATE_LIMIT, duration: c.MUTATION_RATE_WINDOW_SECONDS };
  const query: Limit = { name: 'queries', points: c.QUERY_RATE_LIMIT, duration: c.QUERY_RATE_WINDOW_SECONDS };
  const queries = limiterOf(query, c.RATE_LIMITS_WITHOUT_REDIS, redis);
  const block = queryBlock(query.points);
  const limiters = {
    mutation: { limit: mutation, limiter: limiterOf(mutation, c.RATE_LIMITS_WITHOUT_REDIS, redis) },
    // Queries are many: counted in Redis a block at a time (LeasedLimiter); mutations one by one.
    query: {
      limit: query,
      limiter: queries instanceof RateLimiterRedis && block > 1 ? new LeasedLimiter(queries, block) : queries,
    },
  };
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, contextValue }) {
          const type = operation?.operation;
          if (contextValue.internal || (type !== 'mutation' && type !== 'query')) return;
          const { limit, limiter } = limiters[type];
          const key = contextValue.identity ? `sub:${contextValue.identity.sub}` : `ip:${contextValue.clientIp ?? 'unknown'}`;
          try {
            await limiter.consume(key);
          } catch (res) {
            throw refusal(limit, res);
          }
        },
      };
    },
  };
}
