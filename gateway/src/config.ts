/** Gateway environment (validated with zod). */
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { baseEnv, DEV_JWT_SECRET } from '@courses/platform';

const url = z.string().url().optional();

export const gatewayEnv = baseEnv.extend({
  /** HS256 key that signs and verifies JWTs; DEV-ONLY default when unset. */
  JWT_SECRET: z.string().min(32).default(DEV_JWT_SECRET),
  /** Service base URLs (GraphQL at `<base>/graphql`), overriding the supergraph's routing URLs. */
  REGISTRATION_URL: url,
  PAYMENT_URL: url,
  LECTURE_URL: url,
  DASHBOARD_URL: url,
  /** Path of the composed supergraph SDL. */
  SUPERGRAPH_PATH: z.string().default(fileURLToPath(new URL('../../schema/supergraph.graphql', import.meta.url))),
  /** Serve GraphiQL to browsers on GET /graphql and /; set to false in production for a plain landing page. */
  GRAPHIQL: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
  /** Cache whole responses as long as the subgraphs' Cache-Control allows (the public catalog, 2 s); `false` turns it off. */
  RESPONSE_CACHE: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
  /** Events buffered per subscription before a too-slow client is disconnected from it. */
  SUBSCRIPTION_BUFFER: z.coerce.number().int().positive().default(256),
});
export type GatewayConfig = z.infer<typeof gatewayEnv>;

/** The routing-URL overrides of a config, keyed by subgraph name. */
export function routingOverrides(c: GatewayConfig): Record<string, string | undefined> {
  return { registration: c.REGISTRATION_URL, payment: c.PAYMENT_URL, lecture: c.LECTURE_URL, dashboard: c.DASHBOARD_URL };
}
