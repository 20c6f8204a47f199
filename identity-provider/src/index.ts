/**
 * DEV-ONLY OpenID provider: node-oidc-provider (an OpenID Certified implementation), holding the
 * demo people of `npm start` and issuing what a university's identity provider issues.
 *
 * - Discovery at `<issuer>/.well-known/openid-configuration`, keys at its `jwks_uri`.
 * - Access tokens are JWTs (RFC 9068, `typ: at+jwt`) signed ES256 for one audience
 *   ({@link DEFAULT_AUDIENCE}), with the person's roles in the `roles` claim.
 * - Clients:
 *   - `courses-web`: public, Authorization Code + PKCE (the pages);
 *   - `courses-cli`: public, and the only one allowed the {@link DEMO_GRANT}, which hands out a
 *     demo person's token without a login (what `npm run token` asks for).
 * - {@link RunningIdentityProvider.rotateKeys} puts a new signing key in front and keeps the old
 *   ones published, as a provider rotating its keys does.
 *
 * Sessions, grants and codes live in memory (node-oidc-provider's development adapter); the
 * signing keys are kept in `keysFile` when one is given, so tokens survive a restart. Nothing
 * here is for production: a deployment trusts the university's provider (OIDC_ISSUER).
 */
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import Provider, { type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { DEFAULT_AUDIENCE, DEMO_GRANT, DEMO_USERS, type DemoUser } from './demo.js';

export { DEFAULT_AUDIENCE, DEMO_GRANT, DEMO_USERS, type DemoUser };

export interface IdentityProviderOptions {
  /** Port to listen on (0: any free one). Default 0. */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  /** The people it holds. Default {@link DEMO_USERS}. */
  users?: readonly DemoUser[];
  /** The access tokens' audience. Default {@link DEFAULT_AUDIENCE}. */
  audience?: string;
  /** Access token lifetime (s). Default 3600. */
  accessTokenTtlSeconds?: number;
  /** Where the private signing keys are kept between runs (JSON); none: new keys each start. */
  keysFile?: string;
  /** Redirect URIs the pages' client `courses-web` may use (exact matches). */
  redirectUris?: string[];
}

export interface RunningIdentityProvider {
  /** The issuer identifier (`iss`), e.g. `http://127.0.0.1:4010`. */
  issuer: string;
  port: number;
  audience: string;
  /** A demo person's access token, through the {@link DEMO_GRANT} (as `npm run token` gets one). */
  tokenFor(sub: string): Promise<string>;
  /** Puts a new ES256 signing key in front; the old ones stay published. @returns the new key's `kid`. */
  rotateKeys(): Promise<string>;
  /** The `kid` of each published key, the signing one first. */
  kids(): string[];
  stop(): Promise<void>;
}

async function newSigningKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, alg: 'ES256', use: 'sig', kid: `es256-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}` };
}

function loadKeys(file: string | undefined): JWK[] {
  if (!file || !existsSync(file)) return [];
  return (JSON.parse(readFileSync(file, 'utf8')) as { keys: JWK[] }).keys;
}

function saveKeys(file: string | undefined, keys: JWK[]): void {
  if (!file) return;
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify({ keys }, null, 2), { mode: 0o600 });
}

/**
 * Starts the provider.
 * @throws when the port is taken.
 */
export async function startIdentityProvider(opts: IdentityProviderOptions = {}): Promise<RunningIdentityProvider> {
  const host = opts.host ?? '127.0.0.1';
  const audience = opts.audience ?? DEFAULT_AUDIENCE;
  const users = new Map((opts.users ?? DEMO_USERS).map((u) => [u.sub, u]));
  let keys = loadKeys(opts.keysFile);
  if (!keys.length) {
    keys = [await newSigningKey()];
    saveKeys(opts.keysFile, keys);
  }

  // The port first, so the issuer can name it; the provider answers through it.
  let provider: Provider | undefined;
  const server: Server = createServer((req, res) => {
    if (!provider) return void res.writeHead(503).end();
    provider.callback()(req, res);
  });
  server.listen(opts.port ?? 0, host);
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;

  const build = () => {
    const configuration: Configuration = {
      clients: [
        {
          client_id: 'courses-web',
          token_endpoint_auth_method: 'none',
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          redirect_uris: opts.redirectUris ?? [],
        },
        { client_id: 'courses-cli', token_endpoint_auth_method: 'none', grant_types: [DEMO_GRANT], response_types: [], redirect_uris: [] },
      ],
      jwks: { keys: keys as never },
      // Its keys are ES256 only: ID tokens too.
      clientDefaults: { id_token_signed_response_alg: 'ES256' },
      findAccount: (_ctx, sub) => {
        const user = users.get(sub);
        return user ? { accountId: sub, claims: () => ({ sub, name: user.name, roles: user.roles }) } : undefined;
      },
      claims: { openid: ['sub'], profile: ['name'], roles: ['roles'] },
      scopes: ['openid', 'profile', 'roles', 'offline_access', 'api'],
      extraTokenClaims: (_ctx, token) => {
        const user = users.get((token as { accountId?: string }).accountId ?? '');
        return user ? { roles: user.roles, name: user.name } : undefined;
      },
      pkce: { required: () => true },
      features: {
        // The login form: any of the demo people, no password (DEV-ONLY, as the name says).
        devInteractions: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => audience,
          useGrantedResource: () => true,
          getResourceServerInfo: () => ({
            scope: 'api',
            audience,
            accessTokenFormat: 'jwt',
            accessTokenTTL: opts.accessTokenTtlSeconds ?? 3600,
            jwt: { sign: { alg: 'ES256' } },
          }),
        },
      },
      ttl: { AccessToken: opts.accessTokenTtlSeconds ?? 3600 },
    };
    const p = new Provider(issuer, configuration);
    p.registerGrantType(DEMO_GRANT, (ctx) => demoGrant(p, ctx), ['username']);
    return p;
  };

  /** Issues `username`'s access token to `courses-cli`, with no login (DEV-ONLY). */
  async function demoGrant(p: Provider, ctx: KoaContextWithOIDC): Promise<void> {
    const sub = String(ctx.oidc.params?.username ?? '');
    if (!users.has(sub)) {
      ctx.status = 400;
      ctx.body = { error: 'invalid_grant', error_description: `no such demo user: ${sub}` };
      return;
    }
    const token = new p.AccessToken({ accountId: sub, client: ctx.oidc.client, scope: 'api', gty: DEMO_GRANT } as never);
    const info = { scope: 'api', audience, accessTokenFormat: 'jwt', accessTokenTTL: opts.accessTokenTtlSeconds ?? 3600 };
    token.resourceServer = new p.ResourceServer(audience, { ...info, jwt: { sign: { alg: 'ES256' } } } as never);
    const value = await token.save();
    ctx.body = { access_token: value, token_type: 'Bearer', expires_in: token.expiration, scope: 'api' };
  }

  provider = build();
  provider.proxy = false;

  return {
    issuer,
    port,
    audience,
    async tokenFor(sub) {
      const res = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: DEMO_GRANT, client_id: 'courses-cli', username: sub }),
      });
      const body = (await res.json()) as { access_token?: string; error_description?: string; error?: string };
      if (!res.ok || !body.access_token)
        throw new Error(`identity provider refused a token for ${sub}: ${body.error_description ?? body.error}`);
      return body.access_token;
    },
    async rotateKeys() {
      const next = await newSigningKey();
      keys = [next, ...keys].slice(0, 3);
      saveKeys(opts.keysFile, keys);
      provider = build();
      return next.kid!;
    },
    kids: () => keys.map((k) => k.kid!),
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
