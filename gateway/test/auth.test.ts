import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { AuthError, identityFromAuthorization, issueToken, verifyToken } from '../src/auth.js';

const secret = 'test-secret-that-is-long-enough-for-hs256!!';

describe('gateway JWT authentication', () => {
  it('accepts its own tokens and reads sub and role', async () => {
    const t = await issueToken({ sub: 's-1', role: 'STUDENT' }, secret);
    expect((await verifyToken(t, secret)).identity).toEqual({ sub: 's-1', role: 'STUDENT' });
    expect((await identityFromAuthorization(`Bearer ${t}`, secret))?.identity.sub).toBe('s-1');
    expect(await identityFromAuthorization(undefined, secret)).toBeUndefined();
  });

  it('rejects a wrong signature, an unknown role, a missing sub, an expired token, and a non-Bearer header', async () => {
    const good = await issueToken({ sub: 's-1', role: 'STUDENT' }, secret);
    await expect(verifyToken(good, `${secret}x`)).rejects.toBeInstanceOf(AuthError);
    const key = new TextEncoder().encode(secret);
    const badRole = await new SignJWT({ role: 'ROOT' }).setProtectedHeader({ alg: 'HS256' }).setSubject('x').sign(key);
    await expect(verifyToken(badRole, secret)).rejects.toThrow(/role/);
    const noSub = await new SignJWT({ role: 'ADMIN' }).setProtectedHeader({ alg: 'HS256' }).sign(key);
    await expect(verifyToken(noSub, secret)).rejects.toThrow(/sub/);
    const expired = await new SignJWT({ role: 'ADMIN' }).setProtectedHeader({ alg: 'HS256' }).setSubject('a').setExpirationTime(Math.floor(Date.now() / 1000) - 10).sign(key);
    await expect(verifyToken(expired, secret)).rejects.toMatchObject({ expired: true });
    await expect(identityFromAuthorization(`Basic ${good}`, secret)).rejects.toBeInstanceOf(AuthError);
  });
});
