/**
 * node-oidc-provider configured as the DEV-ONLY provider (see index.ts): its clients, claims,
 * resource server (JWT access tokens for one audience) and lifetimes, and the demo grant.
 * The provider is rebuilt from the {@link Setup} whenever its keys or redirect URIs change.
 */
import type { JWK } from 'jose';
import Provider, { type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { DEMO_GRANT, type DemoUser } from './demo.js';

/** The algorithms the provider can sign with (what the gateway accepts from an issuer). */
export type SigningAlgorithm = 'ES256' | 'RS256' | 'EdDSA';

/** What a provider is built from. */
export interface Setup {
  issuer: string;
  audience: string;
  alg: SigningAlgorithm;
  /** The people, by `sub`. */
  users: Map<string, DemoUser>;
  /** Where `courses-web` may redirect to (read at each build). */
  redirectUris: string[];
  /** The signing keys, the signing one first. */
  keys: JWK[];
  /** Access token lifetime of a person (s). */
  ttlOf(sub: string): number;
}

/** The provider's configuration (node-oidc-provider's Configuration; its docs/README.md). */
function configurationOf(setup: Setup): Configuration {
  const { audience, alg, users, redirectUris, keys, ttlOf } = setup;
  return {
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
    // Sign-in is this package's own page (interaction.ts), not node-oidc-provider's dev one.
    interactions: { url: (_ctx, i) => `/interaction/${i.uid}` },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => audience,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({ scope: 'api', audience, accessTokenFormat: 'jwt', jwt: { sign: { alg } } }),
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
}

/** Issues `username`'s access token to `courses-cli`, with no login (DEV-ONLY). */
async function demoGrant({ audience, alg, users, ttlOf }: Setup, p: Provider, ctx: KoaContextWithOIDC): Promise<void> {
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

/** A provider for `setup`, with the demo grant registered; it trusts no proxy headers. */
export function buildProvider(setup: Setup): Provider {
  const p = new Provider(setup.issuer, configurationOf(setup));
  p.registerGrantType(DEMO_GRANT, (ctx) => demoGrant(setup, p, ctx), ['username']);
  p.proxy = false;
  return p;
}
