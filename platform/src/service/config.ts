/**
 * Environment configuration, validated with zod at start-up.
 *
 * Every service reads its settings only from the environment. Values that have a
 * development default are marked DEV-ONLY: they exist so `npm start` works on a laptop
 * and must be overridden in any shared or production deployment.
 */
import { z } from 'zod';
import type { MetricsAccess } from '../http/index.js';
import { chargeSecret, configuredSecret, DERIVE_FROM_GATEWAY_SECRET, subgraphSecret } from './service-secrets.js';
import { timingBudgetFields, timingBudgetProblems, type TimingBudget } from './timing-budget.js';

/**
 * DEV-ONLY shared secret between gateway and subgraphs. Public in this repository, so it
 * protects nothing outside a laptop: set `GATEWAY_SECRET` in any real deployment.
 */
export const DEV_GATEWAY_SECRET = 'dev-only-gateway-secret-change-me';
/** DEV-ONLY HS256 key for JWTs. Public in this repository: set `JWT_SECRET` in any real deployment. */
export const DEV_JWT_SECRET = 'dev-only-jwt-secret-at-least-32-bytes-long!!';

/** Least length of a secret in production (characters; e.g. `openssl rand -hex 32` gives 64). */
export const MIN_SECRET_LENGTH = 32;

/** The public DEV-ONLY values, refused for any `*_SECRET` setting in production. */
const DEV_SECRETS = new Set([DEV_GATEWAY_SECRET, DEV_JWT_SECRET, DERIVE_FROM_GATEWAY_SECRET]);

/** Settings every service shares. */
export const baseEnv = z.object({
  /**
   * `production` refuses what is only safe on a laptop: a `*_SECRET` that is missing, public or
   * shorter than {@link MIN_SECRET_LENGTH}, and dev conveniences switched on (see loadConfig).
   */
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  /** HTTP port to listen on. */
  PORT: z.coerce.number().int().min(0).max(65535),
  /** Interface to bind; defaults to all interfaces (containers). */
  HOST: z.string().default('0.0.0.0'),
  NATS_URL: z.string().default('nats://127.0.0.1:4222'),
  /**
   * This service's NATS user and password. The server gives each service's user only what its
   * role on the bus needs (platform/src/messaging/nats-auth.ts); required in production.
   */
  NATS_USER: z.string().min(1).optional(),
  NATS_PASSWORD: z.string().min(1).optional(),
  /** PEM file of the CA that signed the NATS server's certificate: connect over TLS and verify it. */
  NATS_TLS_CA_FILE: z.string().min(1).optional(),
  /** PEM client certificate and key, for a NATS server that verifies clients (mutual TLS). */
  NATS_TLS_CERT_FILE: z.string().min(1).optional(),
  NATS_TLS_KEY_FILE: z.string().min(1).optional(),
  /** Optional subject/stream namespace, isolating deployments or test runs on one NATS server. */
  NATS_NAMESPACE: z
    .string()
    .regex(/^[A-Za-z0-9_-]*$/)
    .default(''),
  /**
   * The gateway's secret, from which each internal hop's own is derived (service-secrets.ts). A
   * subgraph holds it only outside production, to derive its own.
   */
  GATEWAY_SECRET: z.string().min(8).default(DEV_GATEWAY_SECRET),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /**
   * Token a scraper sends (`Authorization: Bearer …`) to read `GET /metrics`. Unset: metrics are
   * open on subgraphs (an internal network), and on the gateway except in production (off).
   */
  METRICS_TOKEN: z.string().min(16).optional(),
  /** The timing budget (timing-budget.ts): deadlines checked against one another by loadConfig. */
  ...timingBudgetFields,
});

/** Settings every subgraph shares on top of {@link baseEnv}. */
export const subgraphEnv = baseEnv.extend({
  /** MongoDB connection string including this subgraph's own database name. */
  MONGODB_URI: z.string().min(1),
  /**
   * Required in production, where `GATEWAY_SECRET` must be unset: the secret the gateway sends
   * this subgraph (`subgraphSecret(GATEWAY_SECRET, name)`, printed by `npm run secrets`). Unset
   * outside production, the subgraph derives it from `GATEWAY_SECRET`.
   */
  SUBGRAPH_SECRET: z.string().min(8).default(DERIVE_FROM_GATEWAY_SECRET),
  GATEWAY_SECRET: z.string().min(8).optional(),
  /**
   * Fault injection for tests: `off` publishes no event, so events stay in the outbox
   * as if the process died before publishing them. Never set it in production.
   */
  OUTBOX_RELAY: z.enum(['on', 'off']).default('on'),
  /** Copies JetStream keeps of the streams this subgraph creates: 1 on a single server, 3 on a three-node cluster. */
  NATS_STREAM_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
});

/**
 * `CHARGE_SECRET`, the setting of the two ends of registration → payment's charge endpoint:
 * required in production (`chargeSecret(GATEWAY_SECRET)`, printed by `npm run secrets`); unset
 * outside production, derived from `GATEWAY_SECRET`. Read it with {@link chargeSecretOf}.
 */
export const chargeSecretSetting = z.string().min(8).default(DERIVE_FROM_GATEWAY_SECRET);

/** The charge endpoint's secret of a configuration holding {@link chargeSecretSetting}. */
export function chargeSecretOf(config: { CHARGE_SECRET: string; GATEWAY_SECRET?: string }): string {
  return configuredSecret(config.CHARGE_SECRET, config.GATEWAY_SECRET ?? DEV_GATEWAY_SECRET, chargeSecret);
}

/** The secret subgraph `name` accepts from the gateway, of its configuration (`SUBGRAPH_SECRET`, see subgraphEnv). */
export function subgraphSecretOf(config: { SUBGRAPH_SECRET: string; GATEWAY_SECRET?: string }, name: string): string {
  return configuredSecret(config.SUBGRAPH_SECRET, config.GATEWAY_SECRET ?? DEV_GATEWAY_SECRET, (master) => subgraphSecret(master, name));
}

/** Raised at start-up when the environment does not satisfy a service's schema. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Parses `env` with `schema`, filling `defaults` first (used for the per-service default PORT),
 * and checks the timing budget's relations (timing-budget.ts) when the schema holds it.
 * With `NODE_ENV=production` it also refuses every `*_SECRET` that is unset (so the DEV-ONLY
 * default would apply), one of the public DEV-ONLY values, or shorter than
 * {@link MIN_SECRET_LENGTH}; a subgraph holding `GATEWAY_SECRET`; a missing
 * `NATS_USER`/`NATS_PASSWORD`; and `DEV_TOKENS=on`.
 * @throws ConfigError listing every invalid or missing variable.
 */
export function loadConfig<S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
  defaults: Record<string, string> = {},
): z.infer<S> {
  const merged: Record<string, string | undefined> = { ...defaults };
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') merged[k] = v;
  const parsed = schema.safeParse(merged);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const data = parsed.data as Record<string, unknown>;
  // Every schema built on baseEnv holds the whole budget.
  if (Object.keys(timingBudgetFields).every((k) => typeof data[k] === 'number')) {
    const broken = timingBudgetProblems(data as unknown as TimingBudget);
    if (broken.length) throw new ConfigError(`inconsistent timing budget:\n${broken.map((l) => `  ${l}`).join('\n')}`);
  }
  if (data.NODE_ENV === 'production') {
    const unsafe = productionProblems(data);
    if (unsafe.length) throw new ConfigError(`unsafe configuration for NODE_ENV=production:\n${unsafe.map((l) => `  ${l}`).join('\n')}`);
  }
  return parsed.data;
}

/** What a parsed configuration must not have in production, one line per problem. */
function productionProblems(data: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(data)) {
    if (!key.endsWith('_SECRET') || typeof value !== 'string') continue;
    if (DEV_SECRETS.has(value))
      problems.push(`${key}: unset or the public DEV-ONLY default; set ${MIN_SECRET_LENGTH}+ random bytes, e.g. \`openssl rand -hex 32\``);
    else if (value.length < MIN_SECRET_LENGTH)
      problems.push(`${key}: ${value.length} characters; at least ${MIN_SECRET_LENGTH} random ones, e.g. \`openssl rand -hex 32\``);
  }
  if (data.SUBGRAPH_SECRET !== undefined && data.GATEWAY_SECRET !== undefined)
    problems.push(
      "GATEWAY_SECRET: a subgraph must not hold the gateway's secret (with it, it could call every subgraph as the gateway); give it only SUBGRAPH_SECRET (npm run secrets)",
    );
  if (!data.NATS_USER || !data.NATS_PASSWORD)
    problems.push(
      'NATS_USER / NATS_PASSWORD: unset; every service authenticates to NATS as its own user (see docker-compose.yml and deploy/nats.conf)',
    );
  if (data.DEV_TOKENS === true) problems.push('DEV_TOKENS: demo sign-in hands out any token; it never runs in production');
  return problems;
}

/**
 * Who may read a service's `/metrics` (see ServiceHostOptions.metricsAccess): those who send
 * `METRICS_TOKEN` when it is set; else anyone, unless the port faces the public (`publicPort`,
 * the gateway's) in production, where it is off.
 */
export function metricsAccess(c: { NODE_ENV: string; METRICS_TOKEN?: string }, publicPort: boolean): MetricsAccess {
  if (c.METRICS_TOKEN) return { token: c.METRICS_TOKEN };
  return publicPort && c.NODE_ENV === 'production' ? 'off' : 'open';
}
