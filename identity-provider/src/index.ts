/**
 * DEV-ONLY OpenID provider: node-oidc-provider (an OpenID Certified implementation), holding the
 * demo people of `npm start` and issuing what a university's identity provider issues.
 *
 * - Discovery at `<issuer>/.well-known/openid-configuration`, keys at its `jwks_uri`.
 * - Access tokens are JWTs (RFC 9068, `typ: at+jwt`) signed ES256 (or RS256, EdDSA) for one audience
 *   ({@link DEFAULT_AUDIENCE}), with the person's roles in the `roles` claim.
 * - Clients:
 *   - `courses-web`: public, Authorization Code + PKCE (the pages);
 *   - `courses-cli`: public, and the only one allowed the {@link DEMO_GRANT}, which hands out a
 *     demo person's token without a login (what `npm run token` asks for).
 * - {@link RunningIdentityProvider.rotateKeys} puts a new signing key in front and keeps the old
 *   ones published, as a provider rotating its keys does.
 * - Signing in (Authorization Code + PKCE) shows this file's own page: pick one of the people, no
 *   password; consent is given at once (the product's own clients). The refresh token of
 *   `offline_access` renews the pages' access tokens.
 *
 * Sessions, grants and codes live in memory (node-oidc-provider's development adapter); the
 * signing keys are kept in `keysFile` when one is given, so tokens survive a restart. Nothing
 * here is for production: a deployment trusts the university's provider (OIDC_ISSUER).
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Provider from 'oidc-provider';
import { DEFAULT_AUDIENCE, DEMO_GRANT, DEMO_USERS, type DemoUser } from './demo.js';
import { interaction } from './interaction.js';
import { loadKeys, newSigningKey, saveKeys } from './keys.js';
import { buildProvider, type Setup, type SigningAlgorithm } from './provider.js';

export { DEFAULT_AUDIENCE, DEMO_GRANT, DEMO_USERS, type DemoUser, type SigningAlgorithm };

export interface IdentityProviderOptions {
  /** Port to listen on (0: any free one). Default 0. */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  /** The people it holds. Default {@link DEMO_USERS}. */
  users?: readonly DemoUser[];
  /** The access tokens' audience. Default {@link DEFAULT_AUDIENCE}. */
  audience?: string;
  /** Access token lifetime (s), or a function of the person's `sub`. Default 3600. */
  accessTokenTtlSeconds?: number | ((sub: string) => number);
  /** The signing algorithm of its keys and tokens. Default ES256. */
  signingAlgorithm?: SigningAlgorithm;
  /** Where the private signing keys are kept between runs (JSON); none: new keys each start. */
  keysFile?: string;
  /**
   * Redirect URIs the pages' client `courses-web` may use (exact matches); also where it may
   * send people after signing out. Their origins may call the token endpoint (CORS).
   */
  redirectUris?: string[];
}

export interface RunningIdentityProvider {
  /** The issuer identifier (`iss`), e.g. `http://127.0.0.1:4010`. */
  issuer: string;
  port: number;
  audience: string;
  /** A demo person's access token, through the {@link DEMO_GRANT} (as `npm run token` gets one). */
  tokenFor(sub: string): Promise<string>;
  /** Puts a new signing key in front; the old ones stay published. @returns the new key's `kid`. */
  rotateKeys(): Promise<string>;
  /** The `kid` of each published key, the signing one first. */
  kids(): string[];
  /** Lets `courses-web` use these redirect URIs too (e.g. a page whose address is known only now). */
  allowRedirects(uris: string[]): void;
  stop(): Promise<void>;
}

/**
 * Starts the provider.
 * @throws when the port is taken.
 */
export async function startIdentityProvider(opts: IdentityProviderOptions = {}): Promise<RunningIdentityProvider> {
  const host = opts.host ?? '127.0.0.1';
  const alg = opts.signingAlgorithm ?? 'ES256';
  let keys = loadKeys(opts.keysFile).filter((k) => k.alg === alg);
  if (!keys.length) {
    keys = [await newSigningKey(alg)];
    saveKeys(opts.keysFile, keys);
  }
  const users = new Map((opts.users ?? DEMO_USERS).map((u) => [u.sub, u]));

  // The port first, so the issuer can name it; the provider answers through it.
  let provider: Provider | undefined;
  const server: Server = createServer((req, res) => {
    if (!provider) return void res.writeHead(503).end();
    const route = /^\/interaction\/([\w-]+)(\/login)?$/.exec(req.url ?? '');
    if (!route) return provider.callback()(req, res);
    interaction(provider, users, req, res, route[2] === '/login').catch((err: Error) => {
      if (!res.headersSent) res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`sign-in failed: ${err.message}`);
    });
  });
  server.listen(opts.port ?? 0, host);
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;

  const ttl = opts.accessTokenTtlSeconds ?? 3600;
  const setup: Setup = {
    issuer: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    audience: opts.audience ?? DEFAULT_AUDIENCE,
    alg,
    users,
    redirectUris: [...(opts.redirectUris ?? [])],
    keys,
    ttlOf: (sub) => (typeof ttl === 'function' ? ttl(sub) : ttl),
  };
  provider = buildProvider(setup);

  return {
    issuer: setup.issuer,
    port,
    audience: setup.audience,
    tokenFor: (sub) => demoToken(setup.issuer, sub),
    async rotateKeys() {
      const next = await newSigningKey(alg);
      setup.keys = [next, ...setup.keys].slice(0, 3);
      saveKeys(opts.keysFile, setup.keys);
      provider = buildProvider(setup);
      return next.kid!;
    },
    kids: () => setup.keys.map((k) => k.kid!),
    allowRedirects(uris) {
      setup.redirectUris.push(...uris.filter((u) => !setup.redirectUris.includes(u)));
      provider = buildProvider(setup);
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A demo person's access token from the provider at `issuer`, through the {@link DEMO_GRANT}. @throws when it refuses. */
async function demoToken(issuer: string, sub: string): Promise<string> {
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: DEMO_GRANT, client_id: 'courses-cli', username: sub }),
  });
  const body = (await res.json()) as { access_token?: string; error_description?: string; error?: string };
  if (!res.ok || !body.access_token)
    throw new Error(`identity provider refused a token for ${sub}: ${body.error_description ?? body.error}`);
  return body.access_token;
}
