/**
 * JWT authentication at the gateway (jose). Two kinds of token, chosen by configuration:
 * - **an OpenID issuer's** (`OIDC_ISSUER`): RS256, ES256 or EdDSA, verified against the keys the
 *   issuer publishes (OpenID Connect Discovery 1.0 §4 → `jwks_uri`; jose's remote JWK set: cached,
 *   picked by `kid`, fetched again when an unknown `kid` appears, at most every 30 s). The
 *   subject and role come from configurable claims ({@link IssuerRules}).
 * - **shared-secret** HS256 tokens (`AUTH_MODE` naming `shared-secret`): tests and dev tools.
 *
 * A token's header `alg` picks the kind, and each kind accepts only its own algorithms, so a
 * token signed HS256 with an issuer's public key as the secret (algorithm confusion) meets the
 * shared secret, and `alg: none` meets neither. Claims: `exp` (required, at most
 * {@link TokenRules.maxTtlSeconds} ahead), `iss` / `aud` when the rules name them (RFC 7519
 * §4.1). The identity is then forwarded to subgraphs in headers (see @courses/platform identity).
 */
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  SignJWT,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { LRUCache } from 'lru-cache';
import { isRole, ROLES, type Identity, type Role } from '@courses/platform';

/** What a refused token is answered with: no or a bad token, no known role, or the issuer unreachable. */
export type AuthErrorCode = 'UNAUTHENTICATED' | 'FORBIDDEN' | 'SERVICE_UNAVAILABLE';

/** A token that failed verification; `expired` tells an expired one from a bad one. */
export class AuthError extends Error {
  override name = 'AuthError';
  constructor(
    message: string,
    readonly expired = false,
    readonly code: AuthErrorCode = 'UNAUTHENTICATED',
  ) {
    super(message);
  }

  /** The HTTP status of {@link code}: 401, 403 or 503. */
  get status(): number {
    return this.code === 'FORBIDDEN' ? 403 : this.code === 'SERVICE_UNAVAILABLE' ? 503 : 401;
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

/** The algorithms an issuer's tokens may use (never `none`, never an HMAC). */
export const ISSUER_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'] as const;

/** How an OpenID issuer's tokens are read. */
export interface IssuerRules {
  /** The issuer identifier (`iss`); its discovery document is at `<issuer>/.well-known/openid-configuration`. */
  issuer: string;
  /**
   * Where to read the discovery document instead, when the gateway reaches the issuer at another
   * address than its clients do (a private network name); the document must still name `issuer`.
   */
  discoveryUrl?: string;
  /** The audience tokens must name (`aud`); required in production (see config.ts). */
  audience?: string;
  /**
   * Where the roles are: a claim name or a dotted path (`roles`, `realm_access.roles` for
   * Keycloak, `groups`), holding a string or an array of strings. Default `roles`.
   */
  roleClaim?: string;
  /**
   * The issuer's role words → this product's roles. Default: the role names themselves, in any
   * case. A person with several mapped roles gets the strongest (ADMIN, then INSTRUCTOR, then
   * STUDENT).
   */
  roleMap?: Readonly<Record<string, Role>>;
  /** The claim naming the person; default `sub`. */
  subjectClaim?: string;
  /**
   * The least time between two fetches of the issuer's keys (ms; default 30 s): how soon a token
   * of a new `kid` verifies after the last fetch, and the most often tokens of unknown `kid`s
   * can make the gateway fetch.
   */
  keysCooldownMs?: number;
}

/** Longest a token may still be valid when presented, by default (s): 24 h. */
export const DEFAULT_MAX_TTL_SECONDS = 24 * 3600;

/**
 * What a token must satisfy: signed by an OpenID issuer (`oidc`) or with the HS256 `secret`
 * (either may be absent, not both), the issuer and audience an HS256 token must name, and the
 * longest any token may still be valid (s; default {@link DEFAULT_MAX_TTL_SECONDS}).
 */
export interface TokenRules {
  secret?: string;
  issuer?: string;
  audience?: string;
  maxTtlSeconds?: number;
  oidc?: IssuerRules;
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
 * Tokens verified recently, by rules and token. Verifying a token again gives the same answer
 * until it expires, so a client's repeated requests cost one signature check, not one each (the
 * verification took 14 % of the gateway's CPU under `npm run bench:load`). Expiry is checked on
 * every use. A key the issuer has since rotated out keeps its tokens valid until they expire, as
 * providers rotating keys expect.
 */
const verified = new LRUCache<string, VerifiedToken>({ max: 10_000 });

/**
 * Verifies `token` (without the `Bearer ` prefix) against `policy`.
 * @throws AuthError when the signature, algorithm, expiry (missing, past, or more than the
 *   policy's maximum ahead), issuer, audience or claims are wrong.
 */
export async function verifyToken(token: string, policy: TokenPolicy): Promise<VerifiedToken> {
  const p = policyOf(policy);
  const key = `${rulesKey(p)}\u0000${token}`;
  const hit = verified.get(key);
  if (hit && hit.exp * 1000 > Date.now()) return hit;
  if (hit) verified.delete(key);
  const result = await verifyUncached(token, p);
  verified.set(key, result);
  return result;
}

const ruleKeys = new WeakMap<TokenRules, string>();
function rulesKey(p: TokenRules): string {
  let k = ruleKeys.get(p);
  if (!k) ruleKeys.set(p, (k = JSON.stringify([p.secret, p.issuer, p.audience, p.maxTtlSeconds, p.oidc])));
  return k;
}

async function verifyUncached(token: string, p: TokenRules): Promise<VerifiedToken> {
  let alg: string | undefined;
  try {
    alg = decodeProtectedHeader(token).alg;
  } catch {
    throw new AuthError('invalid token: not a signed JWT');
  }
  try {
    if (alg === 'HS256') {
      if (p.secret === undefined)
        throw new AuthError('shared-secret (HS256) tokens are not accepted here: sign in with the identity provider');
      const { payload } = await jwtVerify(token, await key(p.secret), {
        algorithms: ['HS256'],
        requiredClaims: ['exp'],
        issuer: p.issuer,
        audience: p.audience,
      });
      if (!isRole(payload.role)) throw new AuthError(`token role must be one of ${ROLES.join(', ')}`, false, 'FORBIDDEN');
      return checked(payload, payload.sub, payload.role, p);
    }
    if (!p.oidc) throw new AuthError(`alg ${alg ?? '(none)'} is not accepted here: only shared-secret (HS256) tokens`);
    if (!(ISSUER_ALGORITHMS as readonly (string | undefined)[]).includes(alg))
      throw new AuthError(`alg ${alg ?? '(none)'} is not accepted: an issuer's tokens use ${ISSUER_ALGORITHMS.join(', ')}`);
    const o = p.oidc;
    const { payload } = await jwtVerify(token, await issuerKeys(o), {
      algorithms: [...ISSUER_ALGORITHMS],
      requiredClaims: ['exp'],
      issuer: o.issuer,
      audience: o.audience,
    });
    return checked(payload, claimAt(payload, o.subjectClaim ?? 'sub'), roleOf(payload, o), p);
  } catch (err) {
    if (err instanceof AuthError) throw err;
    if (err instanceof joseErrors.JWTExpired) throw new AuthError('token expired', true);
    if (err instanceof joseErrors.JWKSNoMatchingKey)
      throw new AuthError(`invalid token: the issuer publishes no key ${decodeProtectedHeader(token).kid ?? '(no kid)'}`);
    throw new AuthError(`invalid token: ${(err as Error).message}`);
  }
}

/** The identity of a verified payload, once its subject, role and lifetime pass. */
function checked(payload: JWTPayload, sub: unknown, role: Role | undefined, p: TokenRules): VerifiedToken {
  if (typeof sub !== 'string' || !sub) throw new AuthError('token names no subject');
  if (!role) throw new AuthError('token carries no role this service knows', false, 'FORBIDDEN');
  const maxTtl = p.maxTtlSeconds ?? DEFAULT_MAX_TTL_SECONDS;
  if (payload.exp! - Date.now() / 1000 > maxTtl) throw new AuthError(`token lives too long: exp may be at most ${maxTtl} s ahead`);
  return { identity: { sub, role }, exp: payload.exp! };
}

/** The value at a claim name or dotted path (`realm_access.roles`). */
function claimAt(payload: JWTPayload, path: string): unknown {
  if (path in payload) return payload[path];
  let v: unknown = payload;
  for (const part of path.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
  return v;
}

/** Strongest first: the role a person with several gets. */
const STRENGTH: readonly Role[] = ['ADMIN', 'INSTRUCTOR', 'STUDENT'];

/** The strongest of the payload's roles that {@link IssuerRules.roleMap} maps, if any. */
function roleOf(payload: JWTPayload, o: IssuerRules): Role | undefined {
  const raw = claimAt(payload, o.roleClaim ?? 'roles');
  const words = typeof raw === 'string' ? [raw] : Array.isArray(raw) ? raw.filter((w): w is string => typeof w === 'string') : [];
  const mapped = new Set(words.map((w) => (o.roleMap ? o.roleMap[w] : ROLES.find((r) => r === w.toUpperCase()))));
  return STRENGTH.find((r) => mapped.has(r));
}

/** An issuer's keys: discovery once, then its JWK set, per issuer. */
const issuers = new Map<string, { keys: Promise<JWTVerifyGetKey>; failedAt?: number }>();

/** How long a failed discovery is answered from memory before it is tried again (ms). */
const DISCOVERY_RETRY_MS = 1_000;

/**
 * The key resolver of an issuer: its discovery document (at `discoveryUrl`, by default under
 * the issuer) names the `jwks_uri`, and must name the same issuer (OpenID Connect Discovery 1.0
 * §4.3). One per issuer and discovery address. Keys are fetched with a 5 s timeout, kept
 * 10 minutes, fetched again for an unknown `kid` at most every `keysCooldownMs`; while the issuer is
 * unreachable, the keys last fetched keep verifying.
 * @throws AuthError SERVICE_UNAVAILABLE when discovery fails (tried again after 1 s).
 */
function issuerKeys(rules: IssuerRules): Promise<JWTVerifyGetKey> {
  const key = `${rules.issuer} ${rules.discoveryUrl ?? ''}`;
  const known = issuers.get(key);
  if (known && !(known.failedAt && Date.now() - known.failedAt > DISCOVERY_RETRY_MS)) return known.keys;
  const entry: { keys: Promise<JWTVerifyGetKey>; failedAt?: number } = {
    keys: discover(rules).catch((err) => {
      entry.failedAt = Date.now();
      throw new AuthError(`the identity provider cannot be reached: ${(err as Error).message}`, false, 'SERVICE_UNAVAILABLE');
    }),
  };
  entry.keys.catch(() => undefined);
  issuers.set(key, entry);
  return entry.keys;
}

async function discover({ issuer, discoveryUrl, keysCooldownMs = 30_000 }: IssuerRules): Promise<JWTVerifyGetKey> {
  const url = discoveryUrl ?? `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`discovery answered ${res.status}`);
  const doc = (await res.json()) as { issuer?: string; jwks_uri?: string };
  if (doc.issuer !== issuer) throw new Error(`discovery names issuer ${doc.issuer}, not ${issuer}`);
  if (!doc.jwks_uri) throw new Error('discovery names no jwks_uri');
  const remote = createRemoteJWKSet(new URL(doc.jwks_uri), {
    timeoutDuration: 5_000,
    cooldownDuration: keysCooldownMs,
    cacheMaxAge: 600_000,
  });
  return async (header, token) => {
    try {
      return await remote(header, token);
    } catch (err) {
      // Unreachable (timeout, refused, not 200): the keys fetched last still verify.
      const last = remote.jwks();
      if (last && !(err instanceof joseErrors.JWKSNoMatchingKey) && !(err instanceof joseErrors.JWKSMultipleMatchingKeys))
        return createLocalJWKSet(last)(header, token);
      throw err;
    }
  };
}

/** Reads `issuer`'s discovery and keys now, so the first token does not wait for them. Never throws. */
export async function warmIssuer(rules: IssuerRules): Promise<void> {
  await issuerKeys(rules).catch(() => undefined);
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
 * Signs a shared-secret (HS256) token for `identity`, valid for `ttlSeconds` (default 8 h),
 * naming the policy's issuer and audience when it has them. For dev tools and tests.
 * @throws Error when the policy has no secret.
 */
export async function issueToken(identity: Identity, policy: TokenPolicy, ttlSeconds = 8 * 3600): Promise<string> {
  const p = policyOf(policy);
  if (p.secret === undefined) throw new Error('issueToken signs shared-secret tokens: these rules have no secret');
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
