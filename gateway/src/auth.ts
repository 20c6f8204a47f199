/**
 * JWT authentication at the gateway (jose, HS256 only). Claims: `sub` (user id), `role`
 * (STUDENT | INSTRUCTOR | ADMIN), `exp` (required, at most {@link TokenPolicy.maxTtlSeconds}
 * ahead), and `iss` / `aud` when the policy names them (RFC 7519 §4.1). The identity is then
 * forwarded to subgraphs in headers (see @courses/platform identity).
 */
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { LRUCache } from 'lru-cache';
import { isRole, ROLES, type Identity, type Role } from '@courses/platform';

/** A token that failed verification; `expired` tells an expired one from a bad one. */
export class AuthError extends Error {
  override name = 'AuthError';
  constructor(
    message: string,
    readonly expired = false,
  ) {
    super(message);
  }
}

/**
 * The HMAC key of `secret`, imported once (WebCrypto `importKey`, which jose otherwise runs for
 * every token it verifies: a rush of first-time tokens spent a share of the gateway's CPU there).
 */
const keys = new Map<string, Promise<CryptoKey>>();
function key(secret: string): Promise<CryptoKey> {
  let k = keys.get(secret);
  if (!k) {
    k = crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
    keys.set(secret, k);
  }
  return k;
}

/** Longest a token may still be valid when presented, by default (s): 24 h. */
export const DEFAULT_MAX_TTL_SECONDS = 24 * 3600;

/**
 * What a token must satisfy: the HS256 key, and optionally the issuer and audience it must
 * name, and the longest it may still be valid (s; default {@link DEFAULT_MAX_TTL_SECONDS}).
 */
export interface TokenRules {
  secret: string;
  issuer?: string;
  audience?: string;
  maxTtlSeconds?: number;
}

/** {@link TokenRules}, or a bare string: the rules of just that key. */
export type TokenPolicy = string | TokenRules;

const policyOf = (p: TokenPolicy): TokenRules => (typeof p === 'string' ? { secret: p } : p);

/** The identity of a verified token and its expiry (epoch seconds, if any). */
export interface VerifiedToken {
  identity: Identity;
  exp: number;
}

/**
 * Tokens verified recently, by secret and token. Verifying an HS256 token again gives the same
 * answer until it expires, so a client's repeated requests cost one HMAC, not one each (the
 * verification took 14 % of the gateway's CPU under `npm run bench:load`). Expiry is checked on
 * every use.
 */
const verified = new LRUCache<string, VerifiedToken>({ max: 10_000 });

/**
 * Verifies `token` (without the `Bearer ` prefix) against `policy`.
 * @throws AuthError when the signature, algorithm, expiry (missing, past, or more than the
 *   policy's maximum ahead), issuer, audience or claims are wrong.
 */
export async function verifyToken(token: string, policy: TokenPolicy): Promise<VerifiedToken> {
  const p = policyOf(policy);
  const key = `${p.secret}\u0000${p.issuer ?? ''}\u0000${p.audience ?? ''}\u0000${p.maxTtlSeconds ?? ''}\u0000${token}`;
  const hit = verified.get(key);
  if (hit && hit.exp * 1000 > Date.now()) return hit;
  if (hit) verified.delete(key);
  const result = await verifyUncached(token, p);
  verified.set(key, result);
  return result;
}

async function verifyUncached(token: string, p: TokenRules): Promise<VerifiedToken> {
  try {
    const { payload } = await jwtVerify(token, await key(p.secret), {
      algorithms: ['HS256'],
      requiredClaims: ['exp'],
      issuer: p.issuer,
      audience: p.audience,
    });
    const role = payload.role;
    if (typeof payload.sub !== 'string' || !payload.sub) throw new AuthError('token has no sub claim');
    if (!isRole(role)) throw new AuthError(`token role must be one of ${ROLES.join(', ')}`);
    const maxTtl = p.maxTtlSeconds ?? DEFAULT_MAX_TTL_SECONDS;
    if (payload.exp! - Date.now() / 1000 > maxTtl) throw new AuthError(`token lives too long: exp may be at most ${maxTtl} s ahead`);
    return { identity: { sub: payload.sub, role: role as Role }, exp: payload.exp! };
  } catch (err) {
    if (err instanceof AuthError) throw err;
    if (err instanceof joseErrors.JWTExpired) throw new AuthError('token expired', true);
    throw new AuthError(`invalid token: ${(err as Error).message}`);
  }
}

/**
 * Reads an `Authorization` value (`Bearer <jwt>`); undefined when absent.
 * @throws AuthError when present but not a valid token.
 */
export async function identityFromAuthorization(value: unknown, policy: TokenPolicy): Promise<VerifiedToken | undefined> {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new AuthError('Authorization must be a string "Bearer <token>"');
  const m = /^Bearer\s+(.+)$/i.exec(value.trim());
  if (!m) throw new AuthError('Authorization must be "Bearer <token>"');
  return verifyToken(m[1], policy);
}

/**
 * Signs a token for `identity`, valid for `ttlSeconds` (default 8 h), naming the policy's issuer
 * and audience when it has them. For dev tools and tests.
 */
export async function issueToken(identity: Identity, policy: TokenPolicy, ttlSeconds = 8 * 3600): Promise<string> {
  const p = policyOf(policy);
  const jwt = new SignJWT({ role: identity.role })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(identity.sub)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds);
  if (p.issuer) jwt.setIssuer(p.issuer);
  if (p.audience) jwt.setAudience(p.audience);
  return jwt.sign(await key(p.secret));
}

/** Longest delay setTimeout takes (ms): 2^31 - 1; a longer one fires at once (Node docs, timers). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Calls `fn` once when a token with expiry `exp` (epoch seconds) has expired, however far ahead
 * that is: a timer past setTimeout's ~24.8 days is re-armed in steps. Unref'd.
 * @returns a function that cancels it.
 */
export function whenExpired(exp: number, fn: () => void): () => void {
  let timer: NodeJS.Timeout;
  const arm = () => {
    const ms = exp * 1000 - Date.now();
    if (ms <= 0) return fn();
    timer = setTimeout(arm, Math.min(ms, MAX_TIMER_MS));
    timer.unref();
  };
  arm();
  return () => clearTimeout(timer);
}
