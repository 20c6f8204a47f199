#!/usr/bin/env node
/**
 * `npm run secrets` (or `node scripts/derive-secrets.mjs [ENV_FILE]`, which needs no install):
 * prints, as `NAME=value` lines for a .env file or a Kubernetes Secret, the secret of each
 * internal hop derived from the gateway's `GATEWAY_SECRET` (platform/src/service/service-secrets.ts):
 * `<SUBGRAPH>_SUBGRAPH_SECRET` for each subgraph (give it to that subgraph as `SUBGRAPH_SECRET`)
 * and `CHARGE_SECRET` (registration and payment). `GATEWAY_SECRET` is read from ENV_FILE when
 * given (e.g. `.env`), else from the environment.
 *
 * HKDF-SHA256 (RFC 5869) with an empty salt and `courses/subgraph/<name>` or `courses/charge` as
 * info, 32 bytes as hex: the same as platform's `subgraphSecret` / `chargeSecret`
 * (tests/contracts/service-secrets.test.ts holds the two together).
 */
import { hkdfSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The subgraphs of the supergraph, by their names in schema/supergraph.config.json. */
export const SUBGRAPHS = ['registration', 'payment', 'lecture', 'dashboard'];

/** HKDF-SHA256 of `master` with info `courses/<label>`, 32 bytes, hex. */
export function deriveSecret(master, label) {
  return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), `courses/${label}`, 32)).toString('hex');
}

/** The derived secrets of `master`, as [name, value] pairs in the order they are printed. */
export function derivedSecrets(master) {
  return [
    ...SUBGRAPHS.map((s) => [`${s.toUpperCase()}_SUBGRAPH_SECRET`, deriveSecret(master, `subgraph/${s}`)]),
    ['CHARGE_SECRET', deriveSecret(master, 'charge')],
  ];
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  const fromFile = file ? /^GATEWAY_SECRET=(.*)$/m.exec(readFileSync(file, 'utf8'))?.[1]?.trim() : undefined;
  const master = fromFile ?? process.env.GATEWAY_SECRET;
  if (!master) {
    console.error(`✖ no GATEWAY_SECRET ${file ? `in ${file}` : 'in the environment'}`);
    process.exit(1);
  }
  for (const [name, value] of derivedSecrets(master)) console.log(`${name}=${value}`);
}
