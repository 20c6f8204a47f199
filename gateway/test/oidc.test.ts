/**
 * Tokens of an OpenID issuer, verified against its published keys: the embedded identity
 * provider (node-oidc-provider) plays the university's. Rotation, and every refusal the issue on
 * sign-in lists, each with its code.
 */
import { decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '@courses/devkit/graphql-client';
import { startIdentityProvider, type RunningIdentityProvider } from '@courses/identity-provider';
import { loadConfig } from '@courses/platform';
import { verifyToken, type TokenRules } from '../src/auth.js';
import { gatewayEnv, tokenPolicy } from '../src/config.js';

let idp: RunningIdentityProvider;
let rules: TokenRules;

const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('tokens of an OpenID issuer', () => {
  beforeAll(async () => {
    idp = await startIdentityProvider({
      users: [
        { sub: 's-oidc', name: 'Student', roles: ['STUDENT'] },
        { sub: 'i-oidc', name: 'Instructor', roles: ['INSTRUCTOR', 'STUDENT'] },
        { sub: 'g-oidc', name: 'Guest', roles: ['guest'] },
        { sub: 'n-oidc', name: 'Nobody', roles: [] },
      ],
    });
    rules = { oidc: { issuer: idp.issuer, audience: idp.audience, keysCooldownMs: 200 } };
  });
  afterAll(() => idp?.stop());

  it('verifies the issuer’s token: subject, and the strongest mapped role', async () => {
    const token = await idp.tokenFor('s-oidc');
    const student = await verifyToken(token, rules);
    expect(student.identity).toEqual({ sub: 's-oidc', role: 'STUDENT' });
    expect(student.exp).toBe(decodeJwt(token).exp);
    expect((await verifyToken(await idp.tokenFor('i-oidc'), rules)).identity.role).toBe('INSTRUCTOR');
  });

  it('verifies RS256 and EdDSA tokens as well', async () => {
    for (const alg of ['RS256', 'EdDSA'] as const) {
      const other = await startIdentityProvider({ users: [{ sub: 's-alg', name: 'x', roles: ['STUDENT'] }], signingAlgorithm: alg });
      try {
        const token = await other.tokenFor('s-alg');
        expect(decodeProtectedHeader(token).alg).toBe(alg);
        const own: TokenRules = { oidc: { issuer: other.issuer, audience: other.audience } };
        expect((await verifyToken(token, own)).identity).toEqual({ sub: 's-alg', role: 'STUDENT' });
      } finally {
        await other.stop();
      }
    }
  });

  it('maps roles and reads them from a nested claim, as configured', async () => {
    const mapped: TokenRules = { oidc: { ...rules.oidc!, roleMap: { guest: 'STUDENT' } } };
    expect((await verifyToken(await idp.tokenFor('g-oidc'), mapped)).identity.role).toBe('STUDENT');
    // No role at the configured path: refused as FORBIDDEN (a known person, no known role).
    const nested: TokenRules = { oidc: { ...rules.oidc!, roleClaim: 'realm_access.roles' } };
    await expect(verifyToken(await idp.tokenFor('s-oidc'), nested)).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });

  it('refuses a role claim that is missing or mapped to nothing with FORBIDDEN', async () => {
    await expect(verifyToken(await idp.tokenFor('g-oidc'), rules)).rejects.toMatchObject({ code: 'FORBIDDEN', status: 403 });
    await expect(verifyToken(await idp.tokenFor('n-oidc'), rules)).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });

  it('follows a key rotation: new tokens verify without a restart, old ones until they expire', async () => {
    const old = await idp.tokenFor('s-oidc');
    const unseen = await idp.tokenFor('s-oidc'); // of the old key, first verified after the rotation
    const oldKid = decodeProtectedHeader(old).kid;
    await verifyToken(old, rules);
    const kid = await idp.rotateKeys();
    const fresh = await idp.tokenFor('s-oidc');
    expect(decodeProtectedHeader(fresh).kid).toBe(kid);
    expect(kid).not.toBe(oldKid);
    // The new kid is unknown to the cached key set: fetched again once the cooldown has passed.
    const verified = await eventually(() => verifyToken(fresh, rules), 5_000, 'the new key fetched');
    expect(verified.identity.sub).toBe('s-oidc');
    // A token of the old key verified for the first time: the old key is still published.
    expect(decodeProtectedHeader(unseen).kid).toBe(oldKid);
    expect((await verifyToken(unseen, rules)).identity.sub).toBe('s-oidc');
    // The old kid with a stranger's signature: refused.
    await expect(verifyToken(await signedWithOldKidLike(old), rules)).rejects.toThrow(/signature verification failed/);
  });

  it('refuses another issuer, a wrong audience, an expired token, an unknown kid, alg none, and HS256 signed with the public key', async () => {
    // Another issuer: its own keys and its own iss.
    const other = await startIdentityProvider({ users: [{ sub: 's-oidc', name: 'x', roles: ['STUDENT'] }] });
    try {
      const foreign = await other.tokenFor('s-oidc');
      await expect(verifyToken(foreign, rules)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    } finally {
      await other.stop();
    }
    // A wrong audience.
    const token = await idp.tokenFor('s-oidc');
    await expect(verifyToken(token, { oidc: { ...rules.oidc!, audience: 'urn:someone-else' } })).rejects.toThrow(/"aud" claim/);
    // Expired.
    const shortLived = await startIdentityProvider({ users: [{ sub: 's-oidc', name: 'x', roles: ['STUDENT'] }], accessTokenTtlSeconds: 1 });
    try {
      const expiring = await shortLived.tokenFor('s-oidc');
      const shortRules: TokenRules = { oidc: { issuer: shortLived.issuer, audience: shortLived.audience } };
      // Valid until its 1 s lifetime is over, then refused as expired.
      const refusal = await eventually(
        () =>
          verifyToken(expiring, shortRules).then(
            () => undefined,
            (e: unknown) => e,
          ),
        10_000,
        'the token expired',
      );
      expect(refusal).toMatchObject({ expired: true, code: 'UNAUTHENTICATED' });
    } finally {
      await shortLived.stop();
    }
    // An unknown kid, still unknown after the key set is fetched again.
    const { privateKey } = await generateKeyPair('ES256');
    const claims = { sub: 's-oidc', roles: ['STUDENT'], iss: idp.issuer, aud: idp.audience, exp: Math.floor(Date.now() / 1000) + 600 };
    const unknownKid = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'not-a-published-key' }).sign(privateKey);
    await new Promise((r) => setTimeout(r, 250));
    await expect(verifyToken(unknownKid, rules)).rejects.toThrow(/publishes no key not-a-published-key/);
    // alg none.
    await expect(verifyToken(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`, rules)).rejects.toThrow(/alg none is not accepted/);
    // Algorithm confusion: HS256, the issuer's public key as the HMAC secret; refused whether or
    // not shared-secret tokens are accepted too (they meet the shared secret, never the key).
    const jwks = (await (await fetch(`${idp.issuer}/jwks`)).json()) as { keys: object[] };
    const publicKeyText = JSON.stringify(jwks.keys[0]);
    const confused = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'HS256', kid: (jwks.keys[0] as { kid: string }).kid })
      .sign(new TextEncoder().encode(publicKeyText));
    await expect(verifyToken(confused, rules)).rejects.toThrow(/shared-secret \(HS256\) tokens are not accepted/);
    const both: TokenRules = { ...rules, secret: 'a-shared-secret-of-at-least-32-bytes!!' };
    await expect(verifyToken(confused, both)).rejects.toThrow(/signature verification failed/);
    // An HS256 key also cannot sign what passes as the issuer's (any other alg names the issuer).
    const asIssuer = await new SignJWT(claims).setProtectedHeader({ alg: 'HS512' }).sign(new TextEncoder().encode(publicKeyText.repeat(2)));
    await expect(verifyToken(asIssuer, both)).rejects.toThrow(/alg HS512 is not accepted/);
  });

  it('reads the discovery document where OIDC_DISCOVERY_URL says, and still requires it to name the issuer', async () => {
    // The same provider reached by another name (localhost): a gateway on a private network.
    const elsewhere = `http://localhost:${idp.port}/.well-known/openid-configuration`;
    const token = await idp.tokenFor('s-oidc');
    const viaUrl: TokenRules = { oidc: { ...rules.oidc!, issuer: idp.issuer, discoveryUrl: elsewhere } };
    expect((await verifyToken(token, viaUrl)).identity.sub).toBe('s-oidc');
    // A discovery document naming another issuer than the configured one is refused.
    const claimed = `http://localhost:${idp.port}`;
    const mismatch: TokenRules = { oidc: { issuer: claimed, audience: idp.audience, discoveryUrl: elsewhere } };
    await expect(verifyToken(token, mismatch)).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    await expect(verifyToken(token, mismatch)).rejects.toThrow(/names issuer http:\/\/127\.0\.0\.1/);
  });

  it('keeps verifying with the keys it has while the issuer is down', async () => {
    const provider = await startIdentityProvider({ users: [{ sub: 's-down', name: 'x', roles: ['STUDENT'] }] });
    const own: TokenRules = { oidc: { issuer: provider.issuer, audience: provider.audience } };
    const first = await provider.tokenFor('s-down');
    const second = await provider.tokenFor('s-down');
    await verifyToken(first, own); // keys fetched
    await provider.stop();
    expect((await verifyToken(second, own)).identity.sub).toBe('s-down');
    // A new issuer that cannot be reached at all: SERVICE_UNAVAILABLE, not a bad token.
    const unreachable: TokenRules = { oidc: { issuer: provider.issuer.replace(/:\d+$/, ':1'), audience: 'x' } };
    await expect(verifyToken(first, unreachable)).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE', status: 503 });
  });
});

/** `token` re-signed by a stranger under the same header (kid of the old key): fails its signature. */
async function signedWithOldKidLike(token: string): Promise<string> {
  const header = decodeProtectedHeader(token);
  const { privateKey } = await generateKeyPair('ES256');
  return new SignJWT({ ...decodeJwt(token), jti: 'another' }).setProtectedHeader({ ...header, alg: 'ES256' }).sign(privateKey);
}

describe('which tokens a configuration accepts (AUTH_MODE)', () => {
  const prod = { NODE_ENV: 'production', NATS_USER: 'gateway', NATS_PASSWORD: 'x'.repeat(32), GATEWAY_SECRET: 'g'.repeat(40) };
  const policy = (env: Record<string, string>) => tokenPolicy(loadConfig(gatewayEnv, env, { PORT: '4000' }));

  it('takes an issuer when OIDC_ISSUER is set, shared-secret tokens outside production otherwise', () => {
    expect(policy({ OIDC_ISSUER: 'https://idp.example.edu/realms/u' })).toMatchObject({
      secret: undefined,
      oidc: { issuer: 'https://idp.example.edu/realms/u', roleClaim: 'roles', subjectClaim: 'sub' },
    });
    expect(policy({}).secret).toBeDefined();
    expect(policy({}).oidc).toBeUndefined();
    expect(policy({ OIDC_ISSUER: 'https://idp.example.edu', AUTH_MODE: 'oidc+shared-secret' })).toMatchObject({
      secret: expect.any(String),
      oidc: { issuer: 'https://idp.example.edu' },
    });
    expect(policy({ OIDC_ISSUER: 'https://idp.example.edu', ROLE_MAP: 'student=STUDENT, Faculty=INSTRUCTOR' }).oidc!.roleMap).toEqual({
      student: 'STUDENT',
      Faculty: 'INSTRUCTOR',
    });
    expect(() => policy({ ROLE_MAP: 'student=PROFESSOR' })).toThrow(/ROLE_MAP.*not word=ROLE/s);
    expect(() => policy({ AUTH_MODE: 'oidc' })).toThrow(/OIDC_ISSUER is unset/);
    expect(() => policy({ OIDC_ISSUER: 'https://idp.example.edu', DEV_TOKENS: 'on' })).toThrow(/DEV_TOKENS/);
  });

  it('in production: refuses shared-secret tokens unless AUTH_MODE names them, and an issuer without an audience', () => {
    expect(() => policy(prod)).toThrow(/OIDC_ISSUER: unset.*AUTH_MODE=shared-secret/s);
    expect(() => policy({ ...prod, AUTH_MODE: 'shared-secret' })).toThrow(/JWT_SECRET: unset/);
    expect(policy({ ...prod, AUTH_MODE: 'shared-secret', JWT_SECRET: 's'.repeat(40) }).secret).toBe('s'.repeat(40));
    expect(() => policy({ ...prod, OIDC_ISSUER: 'https://idp.example.edu' })).toThrow(/OIDC_AUDIENCE: unset/);
    expect(policy({ ...prod, OIDC_ISSUER: 'https://idp.example.edu', OIDC_AUDIENCE: 'courses' })).toMatchObject({
      secret: undefined,
      oidc: { audience: 'courses' },
    });
  });
});
