/** The sign-in and consent steps of an OpenID interaction, served by this package rather than node-oidc-provider's dev pages. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type Provider from 'oidc-provider';
import type { DemoUser } from './demo.js';

/**
 * The sign-in page of an interaction (GET: pick one of the people; no password, DEV-ONLY), its
 * answer (POST …/login), and consent, given at once for the product's own clients.
 */
export async function interaction(
  p: Provider,
  users: Map<string, DemoUser>,
  req: IncomingMessage,
  res: ServerResponse,
  submitted: boolean,
): Promise<void> {
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
  signInPage(res, users, details.uid, String(details.params.login_hint ?? ''));
}

/** Writes the sign-in page: one button per person, `hint` focused (DEV-ONLY: no password). */
function signInPage(res: ServerResponse, users: Map<string, DemoUser>, uid: string, hint: string): void {
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
<form method="post" action="/interaction/${esc(uid)}/login">${buttons}</form></body></html>`);
}
