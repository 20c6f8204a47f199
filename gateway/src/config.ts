/** Gateway environment (validated with zod). */
import { fileURLToPath } from 'node:url';
import proxyaddr from 'proxy-addr';
import { z } from 'zod';
import { baseEnv, ConfigError, DEV_JWT_SECRET, isRole, ROLES, type Role } from '@courses/platform';
import type { TokenRules } from './auth.js';

const url = z.string().url().optional();
/** `true`/`false`, or unset for the environment's default (see {@link devDefault}). */
const flag = z
  .enum(['true', 'false'])
  .optional()
  .transform((v) => (v === undefined ? undefined : v === 'true'));

/** A flag's value, or when unset: on, except with NODE_ENV=production. */
export function devDefault(value: boolean | undefined, c: Pick<GatewayConfig, 'NODE_ENV'>): boolean {
  return value ?? c.NODE_ENV !== 'production';
}

/** `word=ROLE,word=ROLE`: an issuer's role words mapped to this product's roles. */
const roleMap = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (!v) return undefined;
    const map: Record<string, Role> = {};
    for (const pair of v
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean)) {
      const i = pair.lastIndexOf('=');
      const role = pair.slice(i + 1).trim();
      if (i <= 0 || !isRole(role)) {
        ctx.addIssue({ code: 'custom', message: `"${pair}" is not word=ROLE, ROLE one of ${ROLES.join(', ')}` });
        return z.NEVER;
      }
      map[pair.slice(0, i).trim()] = role;
    }
    return map;
  });

export const gatewayEnv = baseEnv.extend({
  /**
   * Which tokens are accepted: `oidc` (an OpenID issuer's, OIDC_ISSUER), `shared-secret`
   * (HS256 with JWT_SECRET: tests and dev tools) or `oidc+shared-secret`. Default: `oidc` when
   * OIDC_ISSUER is set; otherwise `shared-secret`, except in production, which refuses to start
   * unless this names it.
   */
  AUTH_MODE: z.enum(['oidc', 'shared-secret', 'oidc+shared-secret']).optional(),
  /** The OpenID issuer whose tokens are accepted; its keys come from its discovery document's `jwks_uri`. */
  OIDC_ISSUER: z.string().url().optional(),
  /**
   * Where the gateway reads the issuer's discovery document, when it reaches the issuer at another
   * address than clients do (compose: `http://keycloak:8080/realms/courses/.well-known/openid-configuration`).
   */
  OIDC_DISCOVERY_URL: z.string().url().optional(),
  /** The audience (`aud`) an issuer's tokens must name; required in production. */
  OIDC_AUDIENCE: z.string().min(1).optional(),
  /** The claim (or dotted path, e.g. Keycloak's `realm_access.roles`) holding an issuer's roles. */
  ROLE_CLAIM: z.string().min(1).default('roles'),
  /** `word=ROLE,…`: the issuer's role words as STUDENT, INSTRUCTOR or ADMIN; default: those names, any case. */
  ROLE_MAP: roleMap,
  /** The client id the pages sign in with at the issuer (a public client: Authorization Code + PKCE, no secret). */
  PAGES_CLIENT_ID: z.string().min(1).default('courses-web'),
  /** The scopes the pages ask the issuer for (space-separated; `offline_access` brings the refresh token that renews them). */
  PAGES_SCOPE: z.string().min(1).default('openid profile offline_access api'),
  /** The claim naming the person in an issuer's tokens. */
  SUBJECT_CLAIM: z.string().min(1).default('sub'),
  /** Least time between two fetches of the issuer's keys (ms): a new `kid` verifies at most this long after the last fetch. */
  OIDC_KEYS_COOLDOWN_MS: z.coerce.number().int().min(0).default(30_000),
  /** HS256 key of shared-secret tokens (AUTH_MODE); DEV-ONLY default when unset outside production. */
  JWT_SECRET: z.string().min(32).optional(),
  /** When set, shared-secret tokens must name this issuer (`iss`). */
  JWT_ISSUER: z.string().min(1).optional(),
  /** When set, shared-secret tokens must name this audience (`aud`). */
  JWT_AUDIENCE: z.string().min(1).optional(),
  /** Longest a token may still be valid when presented (s; `exp` is required): 24 h. */
  JWT_MAX_TTL_SECONDS: z.coerce
    .number()
    .int()
    .positive()
    .default(24 * 3600),
  /** Service base URLs (GraphQL at `<base>/graphql`), overriding the supergraph's routing URLs. */
  REGISTRATION_URL: url,
  PAYMENT_URL: url,
  LECTURE_URL: url,
  DASHBOARD_URL: url,
  /** Path of the composed supergraph SDL. */
  SUPERGRAPH_PATH: z.string().default(fileURLToPath(new URL('../../schema/supergraph.graphql', import.meta.url))),
  /**
   * Trusted documents (trusted-documents.ts): `allow` serves the manifests' documents by hash and
   * any other document too; `only` runs nothing else (a production option: ad-hoc documents,
   * GraphiQL's included, are refused PERSISTED_QUERY_NOT_IN_LIST); `off` reads no manifest.
   */
  TRUSTED_DOCUMENTS: z.enum(['off', 'allow', 'only']).default('allow'),
  /**
   * Comma-separated manifest files (`{ sha256: document }`, graphql-codegen's persisted documents).
   * List one per client version in service, so that a new client's manifest reaches the gateways
   * before the client does. Default: the pages' and @courses/client's.
   */
  TRUSTED_DOCUMENTS_MANIFESTS: z
    .string()
    .default(fileURLToPath(new URL('../../client/src/generated/persisted-documents.json', import.meta.url)))
    .transform((v) =>
      v
        .split(',')
        .map((f) => f.trim())
        .filter(Boolean),
    ),
  /** Serve GraphiQL to browsers on GET /graphql and / (else a plain landing page); default: on, off in production. */
  GRAPHIQL: flag,
  /** Answer introspection queries; default: on, off in production. */
  INTROSPECTION: flag,
  /**
   * DEV-ONLY demo sign-in: `GET /dev/token?role=…&sub=…` signs any token asked for. Off unless
   * `on` (`npm start` turns it on); refused in production (see loadConfig).
   */
  DEV_TOKENS: z
    .enum(['on', 'off'])
    .default('off')
    .transform((v) => v === 'on'),
  /** Cache whole responses as long as the subgraphs' Cache-Control allows (the public catalog, 2 s); `false` turns it off. */
  RESPONSE_CACHE: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true'),
  /** "Did you mean …?" in validation errors; default: on, off in production. */
  FIELD_SUGGESTIONS: flag,
  /** Deepest selection an operation may have (introspection aside). */
  MAX_DEPTH: z.coerce.number().int().positive().default(8),
  /** Most aliases in an operation. */
  MAX_ALIASES: z.coerce.number().int().positive().default(15),
  /** Most tokens (names, punctuation, values) in an operation's text. */
  MAX_TOKENS: z.coerce.number().int().positive().default(2_000),
  /**
   * Whether a client's W3C `traceparent` continues its trace through the gateway (off: each
   * request starts a trace of its own, so clients pick neither trace ids nor sampling). For
   * clients of your own that trace end to end.
   */
  TRUST_CLIENT_TRACEPARENT: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true'),
  /** Highest cost of an operation (GraphQL Armor's cost: objects 2, scalars 1, times a depth factor 1.5). */
  MAX_COST: z.coerce.number().int().positive().default(5_000),
  /**
   * Mutations one caller (the token's sub, else the client address) may send per
   * MUTATION_RATE_WINDOW_SECONDS: across every gateway replica when REDIS_URL is set, else per process.
   */
  MUTATION_RATE_LIMIT: z.coerce.number().int().positive().default(30),
  MUTATION_RATE_WINDOW_SECONDS: z.coerce.number().int().positive().default(10),
  /**
   * Queries one caller may send per QUERY_RATE_WINDOW_SECONDS, on every transport, counted as
   * mutations are (each query also stays under MAX_COST, so this bounds a caller's cost per second).
   * The default is far above what a person's pages send (a few queries per page), and
   * low enough that one client cannot keep a gateway busy.
   */
  QUERY_RATE_LIMIT: z.coerce.number().int().positive().default(600),
  QUERY_RATE_WINDOW_SECONDS: z.coerce.number().int().positive().default(10),
  /**
   * Redis the gateway replicas count rate limits in together (`redis://host:6379`); unset, each
   * process counts alone (fine for a single gateway).
   */
  REDIS_URL: z.string().url().optional(),
  /**
   * While Redis cannot be reached: `open` counts in each process's memory instead (N replicas then
   * allow N times the limit) and logs it; `closed` refuses rate-limited operations (and new
   * subscription connections) SERVICE_UNAVAILABLE until Redis is back.
   */
  RATE_LIMITS_WITHOUT_REDIS: z.enum(['open', 'closed']).default('open'),
  /**
   * Proxies whose `X-Forwarded-For` names the client (comma-separated CIDRs or addresses, or
   * `loopback`, `linklocal`, `uniquelocal`): the ingress in front of the gateway. Unset: the
   * peer's address is the client's. Per-client caps and the anonymous rate limit key on it.
   */
  TRUSTED_PROXIES: z
    .string()
    .optional()
    .refine(
      (v) => {
        try {
          proxyaddr.compile(trustedProxies({ TRUSTED_PROXIES: v }));
          return true;
        } catch {
          return false;
        }
      },
      { message: 'comma-separated CIDRs or addresses (e.g. 10.0.0.0/8), or loopback, linklocal, uniquelocal' },
    ),
  /**
   * Gateway processes sharing the port on this machine (node:cluster; workers.ts): 1 runs the
   * gateway in this process. More use more cores; run them with REDIS_URL so that limits and caps
   * hold across them.
   */
  GATEWAY_WORKERS: z.coerce.number().int().min(1).max(64).default(1),
  /** Open WebSockets one client address may hold. */
  WS_MAX_SOCKETS_PER_CLIENT: z.coerce.number().int().positive().default(20),
  /** Operations one WebSocket may run at once. */
  WS_MAX_SUBSCRIPTIONS_PER_SOCKET: z.coerce.number().int().positive().default(50),
  /** Milliseconds between pings of one WebSocket; one that has not answered by the next ping is dropped. */
  WS_KEEPALIVE_MS: z.coerce.number().int().min(100).default(15_000),
  /**
   * Browser origins (comma-separated, e.g. `https://app.example.com`) that may open a WebSocket
   * besides the gateway's own; `*` any. Default: any, only the gateway's own in production.
   */
  WS_ALLOWED_ORIGINS: z.string().optional(),
  /** Events buffered per subscription before a too-slow client is disconnected from it. */
  SUBSCRIPTION_BUFFER: z.coerce.number().int().positive().default(256),
  /**
   * Events per context the gateway keeps to resume subscriptions from, and the most one resume
   * may replay per context (count): an older position gets RESUME_EXPIRED.
   */
  SUBSCRIPTION_REPLAY_MAX: z.coerce.number().int().positive().default(10_000),
});
export type GatewayConfig = z.infer<typeof gatewayEnv>;

/** The routing-URL overrides of a config, keyed by subgraph name. */
export function routingOverrides(c: GatewayConfig): Record<string, string | undefined> {
  return { registration: c.REGISTRATION_URL, payment: c.PAYMENT_URL, lecture: c.LECTURE_URL, dashboard: c.DASHBOARD_URL };
}

/** The kinds of token a config accepts (see AUTH_MODE). */
export function authModes(c: GatewayConfig): { oidc: boolean; sharedSecret: boolean } {
  const mode = c.AUTH_MODE ?? (c.OIDC_ISSUER ? 'oidc' : 'shared-secret');
  return { oidc: mode.startsWith('oidc'), sharedSecret: mode.endsWith('shared-secret') };
}

/**
 * The token rules of a config (see auth.ts).
 * @throws ConfigError when the accepted tokens are not configured: `oidc` without OIDC_ISSUER,
 *   DEV_TOKENS without shared-secret tokens;
 *   in production, shared-secret tokens not named by AUTH_MODE or without JWT_SECRET, or an
 *   issuer without OIDC_AUDIENCE.
 */
export function tokenPolicy(c: GatewayConfig): TokenRules {
  const modes = authModes(c);
  const production = c.NODE_ENV === 'production';
  const problems: string[] = [];
  if (modes.oidc && !c.OIDC_ISSUER) problems.push('AUTH_MODE: names oidc, but OIDC_ISSUER is unset');
  if (c.DEV_TOKENS && !modes.sharedSecret) problems.push('DEV_TOKENS: signs shared-secret tokens, which AUTH_MODE does not accept');
  if (production) {
    if (modes.sharedSecret && !c.AUTH_MODE)
      problems.push(
        'OIDC_ISSUER: unset; set it to your identity provider, or accept shared-secret tokens by name: AUTH_MODE=shared-secret',
      );
    if (modes.sharedSecret && !c.JWT_SECRET) problems.push('JWT_SECRET: unset, and AUTH_MODE accepts shared-secret tokens');
    if (modes.oidc && !c.OIDC_AUDIENCE) problems.push("OIDC_AUDIENCE: unset; production requires the audience of the issuer's tokens");
  }
  if (problems.length)
    throw new ConfigError(
      `invalid configuration${production ? ' for NODE_ENV=production' : ''}:\n${problems.map((l) => `  ${l}`).join('\n')}`,
    );
  return {
    secret: modes.sharedSecret ? (c.JWT_SECRET ?? DEV_JWT_SECRET) : undefined,
    issuer: c.JWT_ISSUER,
    audience: c.JWT_AUDIENCE,
    maxTtlSeconds: c.JWT_MAX_TTL_SECONDS,
    oidc: modes.oidc
      ? {
          issuer: c.OIDC_ISSUER!,
          audience: c.OIDC_AUDIENCE,
          roleClaim: c.ROLE_CLAIM,
          roleMap: c.ROLE_MAP,
          subjectClaim: c.SUBJECT_CLAIM,
          keysCooldownMs: c.OIDC_KEYS_COOLDOWN_MS,
        }
      : undefined,
  };
}

/** TRUSTED_PROXIES as a list (empty: trust none). */
export function trustedProxies(c: Pick<GatewayConfig, 'TRUSTED_PROXIES'>): string[] {
  return (c.TRUSTED_PROXIES ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
}

/** The browser origins allowed to open a WebSocket besides the gateway's own; undefined: any (see WS_ALLOWED_ORIGINS). */
export function allowedOrigins(c: GatewayConfig): string[] | undefined {
  const listed = c.WS_ALLOWED_ORIGINS?.split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  if (listed?.includes('*')) return undefined;
  return listed ?? (c.NODE_ENV === 'production' ? [] : undefined);
}
