/**
 * Environment configuration, validated with zod at start-up.
 *
 * Every service reads its settings only from the environment. Values that have a
 * development default are marked DEV-ONLY: they exist so `npm start` works on a laptop
 * and must be overridden in any shared or production deployment.
 */
import { z } from 'zod';

/**
 * DEV-ONLY shared secret between gateway and subgraphs. Public in this repository, so it
 * protects nothing outside a laptop: set `GATEWAY_SECRET` in any real deployment.
 */
export const DEV_GATEWAY_SECRET = 'dev-only-gateway-secret-change-me';
/** DEV-ONLY HS256 key for JWTs. Public in this repository: set `JWT_SECRET` in any real deployment. */
export const DEV_JWT_SECRET = 'dev-only-jwt-secret-at-least-32-bytes-long!!';

/** Settings every service shares. */
export const baseEnv = z.object({
  /** HTTP port to listen on. */
  PORT: z.coerce.number().int().min(0).max(65535),
  /** Interface to bind; defaults to all interfaces (containers). */
  HOST: z.string().default('0.0.0.0'),
  NATS_URL: z.string().default('nats://127.0.0.1:4222'),
  /** Optional subject/stream namespace, isolating deployments or test runs on one NATS server. */
  NATS_NAMESPACE: z.string().regex(/^[A-Za-z0-9_-]*$/).default(''),
  GATEWAY_SECRET: z.string().min(8).default(DEV_GATEWAY_SECRET),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Milliseconds a graceful shutdown waits for in-flight requests before closing sockets. */
  SHUTDOWN_GRACE_MS: z.coerce.number().int().nonnegative().default(10_000),
});

/** Settings every subgraph shares on top of {@link baseEnv}. */
export const subgraphEnv = baseEnv.extend({
  /** MongoDB connection string including this subgraph's own database name. */
  MONGODB_URI: z.string().min(1),
  /**
   * Fault injection for tests: `off` publishes no event, so events stay in the outbox
   * as if the process died before publishing them. Never set it in production.
   */
  OUTBOX_RELAY: z.enum(['on', 'off']).default('on'),
});

/** Raised at start-up when the environment does not satisfy a service's schema. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Parses `env` with `schema`, filling `defaults` first (used for the per-service default PORT).
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
  return parsed.data;
}
