/**
 * The secrets of the internal hops, one per hop, so that a compromised pod holds only its own.
 *
 * - Gateway → subgraph `name`: the gateway sends `x-gateway-secret: subgraphSecret(GATEWAY_SECRET, name)`;
 *   the subgraph is given only that value, as `SUBGRAPH_SECRET`. A lecture pod that leaks its
 *   secret cannot call registration, payment or dashboard as the gateway (or as ADMIN).
 * - Registration → payment's charge endpoint: `chargeSecret(GATEWAY_SECRET)`, given to those two
 *   as `CHARGE_SECRET`; the gateway's hop to payment's GraphQL does not open the charge endpoint.
 *
 * Each is derived from the gateway's `GATEWAY_SECRET` with HKDF-SHA256 (RFC 5869; node:crypto
 * `hkdfSync`), one `info` label per hop: one-way, so no derived secret reveals the gateway's or
 * another hop's. `npm run secrets` prints them for a deployment (scripts/derive-secrets.mjs). In
 * production a subgraph must be given its own (and must not hold `GATEWAY_SECRET`, see
 * config.ts); outside production, a subgraph given neither derives its own from `GATEWAY_SECRET`
 * (the DEV-ONLY default when unset), so local runs need one secret.
 */
import { hkdfSync } from 'node:crypto';

/** Bytes of key material each derived secret carries (256 bits), written as hex (64 characters). */
const DERIVED_BYTES = 32;

/**
 * `SUBGRAPH_SECRET` / `CHARGE_SECRET` when unset: a DEV-ONLY placeholder meaning "derive from
 * `GATEWAY_SECRET`"; production refuses it like every public DEV-ONLY value (config.ts).
 */
export const DERIVE_FROM_GATEWAY_SECRET = 'dev-only-derived-from-GATEWAY_SECRET';

/** HKDF-SHA256 of `master` with `courses/<label>` as info (empty salt), hex. scripts/derive-secrets.mjs does the same for deployments. */
function derive(master: string, label: string): string {
  return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), `courses/${label}`, DERIVED_BYTES)).toString('hex');
}

/**
 * The secret the gateway sends subgraph `name` (as named in the supergraph: `registration`,
 * `payment`, `lecture`, `dashboard`) in `x-gateway-secret`, derived from the gateway's `master`.
 */
export function subgraphSecret(master: string, name: string): string {
  return derive(master, `subgraph/${name}`);
}

/** The secret registration sends payment's `POST /internal/charges`, derived from the gateway's `master`. */
export function chargeSecret(master: string): string {
  return derive(master, 'charge');
}

/**
 * A hop's secret as configured: `given` unless it is the {@link DERIVE_FROM_GATEWAY_SECRET}
 * placeholder, else `fromMaster(master)`.
 */
export function configuredSecret(given: string, master: string, fromMaster: (master: string) => string): string {
  return given === DERIVE_FROM_GATEWAY_SECRET ? fromMaster(master) : given;
}
