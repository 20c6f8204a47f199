import { SignJWT } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuthError, identityFromAuthorization, issueToken, verifyToken, whenExpired } from '../src/auth.js';

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
    const badRole = await new SignJWT({ role: 'ROOT' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('x')
      .setExpirationTime('1h')
      .sign(key);
    await expect(verifyToken(badRole, secret)).rejects.toThrow(/role/);
    const noSub = await new SignJWT({ role: 'ADMIN' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(key);
    await expect(verifyToken(noSub, secret)).rejects.toThrow(/sub/);
    const expired = await new SignJWT({ role: 'ADMIN' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('a')
      .setExpirationTime(Math.floor(Date.now() / 1000) - 10)
      .sign(key);
    await expect(verifyToken(expired, secret)).rejects.toMatchObject({ expired: true });
    await expect(identityFromAuthorization(`Basic ${good}`, secret)).rejects.toBeInstanceOf(AuthError);
  });

  it('requires exp, and refuses one further ahead than the maximum lifetime', async () => {
    const key = new TextEncoder().encode(secret);
    const forever = await new SignJWT({ role: 'ADMIN' }).setProtectedHeader({ alg: 'HS256' }).setSubject('a').sign(key);
    await expect(verifyToken(forever, secret)).rejects.toThrow(/"exp" claim/);
    const month = await issueToken({ sub: 'a', role: 'ADMIN' }, secret, 30 * 24 * 3600);
    await expect(verifyToken(month, secret)).rejects.toThrow(/at most 86400 s ahead/);
    expect((await verifyToken(month, { secret, maxTtlSeconds: 31 * 24 * 3600 })).identity.sub).toBe('a');
  });

  it('checks iss and aud when the policy names them', async () => {
    const policy = { secret, issuer: 'courses', audience: 'gateway' };
    const right = await issueToken({ sub: 's-1', role: 'STUDENT' }, policy);
    expect((await verifyToken(right, policy)).identity.sub).toBe('s-1');
    const plain = await issueToken({ sub: 's-1', role: 'STUDENT' }, secret);
    await expect(verifyToken(plain, policy)).rejects.toThrow(/"iss" claim/);
    const otherAudience = await issueToken({ sub: 's-1', role: 'STUDENT' }, { ...policy, audience: 'elsewhere' });
    await expect(verifyToken(otherAudience, policy)).rejects.toThrow(/"aud" claim/);
  });

  it('refuses alg none and HS512, and an authorization that is not a string', async () => {
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const claims = { sub: 'a', role: 'ADMIN', exp: Math.floor(Date.now() / 1000) + 60 };
    await expect(verifyToken(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`, secret)).rejects.toBeInstanceOf(AuthError);
    const hs512 = await new SignJWT(claims).setProtectedHeader({ alg: 'HS512' }).sign(new TextEncoder().encode(secret.repeat(2)));
    await expect(verifyToken(hs512, secret.repeat(2))).rejects.toThrow(/alg/);
    await expect(identityFromAuthorization({ token: 'x' }, secret)).rejects.toThrow(/must be a string/);
  });
});

describe('whenExpired', () => {
  afterEach(() => vi.useRealTimers());

  it("fires at an expiry past setTimeout's 24.8-day range, not at once", () => {
    vi.useFakeTimers();
    const fired = vi.fn();
    whenExpired(Math.floor(Date.now() / 1000) + 40 * 24 * 3600, fired);
    vi.advanceTimersByTime(2 ** 31 - 1);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(40 * 24 * 3600 * 1000 - (2 ** 31 - 1) + 1_000);
    expect(fired).toHaveBeenCalledTimes(1);
  });

  it('can be canceled', () => {
    vi.useFakeTimers();
    const fired = vi.fn();
    const cancel = whenExpired(Math.floor(Date.now() / 1000) + 5, fired);
    cancel();
    vi.advanceTimersByTime(10_000);
    expect(fired).not.toHaveBeenCalled();
  });
});
