/** The provider's signing keys: made with jose, kept (private, 0600) in a JSON file between runs when one is given. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import type { SigningAlgorithm } from './provider.js';

/** A new private signing key of `alg` as a JWK, with a `kid` that names its algorithm and time. */
export async function newSigningKey(alg: SigningAlgorithm): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, alg, use: 'sig', kid: `${alg.toLowerCase()}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}` };
}

/** The keys kept in `file` ({ keys: JWK[] }); none when there is no file. */
export function loadKeys(file: string | undefined): JWK[] {
  if (!file || !existsSync(file)) return [];
  return (JSON.parse(readFileSync(file, 'utf8')) as { keys: JWK[] }).keys;
}

/** Keeps `keys` in `file` (owner-only); nothing when no file is given. */
export function saveKeys(file: string | undefined, keys: JWK[]): void {
  if (!file) return;
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify({ keys }, null, 2), { mode: 0o600 });
}
