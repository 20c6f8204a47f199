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
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
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

/** The algorithms the provider can sign with (what the gateway accepts from an issuer). */
export type SigningAlgorithm = 'ES256' | 'RS256' | 'EdDSA';

async function newSigningKey(alg: SigningAlgorithm): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, alg, use: 'sig', kid: `${alg.toLowerCase()}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}` };
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
  const redirectUris = [...(opts.redirectUris ?? [])];
  const alg = opts.signingAlgorithm ?? 'ES256';
  let keys = loadKeys(opts.keysFile).filter((k) => k.alg === alg);
  if (!keys.length) {
    keys = [await newSigningKey(alg)];
    saveKeys(opts.keysFile, keys);
  }

  // The port first, so the issuer can name it; the provider answers through it.
  let provider: Provider | undefined;
  const server: Server = createServer((req, res) => {
    if (!provider) return void res.writeHead(503).end();
    const p = provider;
    const route = /^\/interaction\/([\w-]+)(\/login)?$/.exec(req.url ?? '');
    if (!route) return provider.callback()(req, res);
    interaction(p, req, res, route[2] === '/login').catch((err: Error) => {
      if (!res.headersSent) res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`sign-in failed: ${err.message}`);
    });
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
          redirect_uris: redirectUris,
          post_logout_redirect_uris: redirectUris,
        },
        { client_id: 'courses-cli', token_endpoint_auth_method: 'none', grant_types: [DEMO_GRANT], response_types: [], redirect_uris: [] },
      ],
      // jose's exported JWKs where oidc-provider's types want its own JWK type: the same JSON.
      jwks: { keys: keys as never },
      // Its keys are of one algorithm: ID tokens too.
      clientDefaults: { id_token_signed_response_alg: alg },
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
      // Sign-in is this file's own page (see interaction()), not node-oidc-provider's dev one.
      interactions: { url: (_ctx, i) => `/interaction/${i.uid}` },
      features: {
        devInteractions: { enabled: false },
        rpInitiatedLogout: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => audience,
          useGrantedResource: () => true,
          getResourceServerInfo: () => ({
            scope: 'api',
            audience,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg } },
          }),
        },
      },
      // Lifetimes (s): a working day's session, renewable access tokens.
      ttl: {
        AccessToken: (_ctx, token) => ttlOf((token as { accountId?: string }).accountId ?? ''),
        AuthorizationCode: 60,
        IdToken: 3600,
        Interaction: 600,
        Session: 8 * 3600,
        Grant: 8 * 3600,
        RefreshToken: 8 * 3600,
      },
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
    // oidc-provider's typings lack the constructor options of AccessToken and ResourceServer
    // (documented in its README, "Custom Grant Types"), hence the casts.
    const token = new p.AccessToken({ accountId: sub, client: ctx.oidc.client, scope: 'api', gty: DEMO_GRANT } as never);
    const info = { scope: 'api', audience, accessTokenFormat: 'jwt', accessTokenTTL: ttlOf(sub) };
    token.resourceServer = new p.ResourceServer(audience, { ...info, jwt: { sign: { alg } } } as never);
    const value = await token.save();
    ctx.body = { access_token: value, token_type: 'Bearer', expires_in: token.expiration, scope: 'api' };
  }

  /** Access token lifetime of `sub` (s). */
  function ttlOf(sub: string): number {
    const t = opts.accessTokenTtlSeconds ?? 3600;
    return typeof t === 'function' ? t(sub) : t;
  }

  /**
   * The sign-in page of an interaction (GET: pick one of the people; no password, DEV-ONLY), its
   * answer (POST …/login), and consent, given at once for the product's own clients.
   */
  async function interaction(p: Provider, req: IncomingMessage, res: ServerResponse, submitted: boolean): Promise<void> {
    const details = await p.interactionDetails(req, res);
    if (submitted) {
      let body = '';
      for await (const chunk of req) body += chunk;
      const sub = new URLSearchParams(body).get('login') ?? '';
      if (!users.has(sub)) throw new Error(`no such person: ${sub}`);
      return void (await p.interactionFinished(req, res, { login: { accountId: sub } }, { mergeWithLastSubmission: false }));
    }
    if (details.prompt.name === 'consent') {
      const grant = details.grantId
        ? (await p.Grant.find(details.grantId))!
        : new p.Grant({ accountId: details.session!.accountId, clientId: details.params.client_id as string });
      const missing = details.prompt.details as {
        missingOIDCScope?: string[];
        missingOIDCClaims?: string[];
        missingResourceScopes?: Record<string, string[]>;
      };
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {}))
        grant.addResourceScope(indicator, scopes.join(' '));
      const grantId = await grant.save();
      return void (await p.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true }));
    }
    const hint = String(details.params.login_hint ?? '');
    const esc = (t: string) => t.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
    const buttons = [...users.values()]
      .map(
        (u) =>
          `<button name="login" value="${esc(u.sub)}"${u.sub === hint ? ' autofocus class="hint"' : ''}>${esc(u.name)} <small>${esc(u.sub)} · ${esc(u.roles.join(', ') || 'no role')}</small></button>`,
      )
      .join('\n');
    // No form-action: the answer's redirects end at the client's redirect URI, another origin.
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
      'cache-control': 'no-store',
    });
    res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in · demo identity provider</title>
<style>body{font:15px system-ui,sans-serif;max-width:28rem;margin:3rem auto;color:#222}button{display:block;width:100%;margin:.4rem 0;padding:.6rem;text-align:left;font:inherit;cursor:pointer}small{color:#666}.hint{outline:2px solid #36c}</style></head>
<body><h1>Sign in</h1><p>Demo identity provider (DEV-ONLY): pick a person; there are no passwords here.</p>
<form method="post" action="/interaction/${esc(details.uid)}/login">${buttons}</form></body></html>`);
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
      const next = await newSigningKey(alg);
      keys = [next, ...keys].slice(0, 3);
      saveKeys(opts.keysFile, keys);
      provider = build();
      return next.kid!;
    },
    kids: () => keys.map((k) => k.kid!),
    allowRedirects(uris) {
      redirectUris.push(...uris.filter((u) => !redirectUris.includes(u)));
      provider = build();
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
