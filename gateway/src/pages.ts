/**
 * The gateway's own pages and their routes: the student page and the instructor console (from
 * public/), their sign-in configuration and library, and the DEV-ONLY demo sign-in.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { parse, print, separateOperations } from 'graphql';
import { isRole, sendJson, type Role, type RouteHandler } from '@courses/platform';
import { issueToken, type TokenPolicy, type TokenRules } from './auth.js';
import type { GatewayConfig } from './config.js';
import { PAGE_HEADERS } from './graphiql.js';
import type { TrustedDocuments } from './trusted-documents.js';

/**
 * The routes of the pages (`/app`, `/app/instructor`), of their sign-in (`/app/sign-in.json`,
 * `/app/oauth4webapi.js`) and, with `DEV_TOKENS=on`, of the demo sign-in (`/dev/token`).
 */
export function pageRoutes(config: GatewayConfig, trusted: TrustedDocuments, tokens: TokenRules): Record<string, RouteHandler> {
  const served = Object.entries(pages(trusted)).map(([path, html]): [string, RouteHandler] => [
    path,
    (req: IncomingMessage, res: ServerResponse) => {
      if (req.method !== 'GET') return false;
      res.writeHead(200, PAGE_HEADERS);
      res.end(html);
    },
  ]);
  return {
    ...Object.fromEntries(served),
    ...signInRoutes(config, tokens),
    ...(config.DEV_TOKENS ? { '/dev/token': devTokenRoute(tokens) } : {}),
  };
}

/**
 * A page of public/ (app.html, the student page; instructor.html, the instructor console), read
 * once, with what it shares with the other (public/page.css, public/page.js) and the operations
 * (public/operations.graphql, one document per name) put in. `<` is escaped so that no text in a
 * document can end the page's script element.
 */
function pageHtml(file: string, operations: Record<string, string | { hash: string }>): string {
  const read = (name: string) => readFileSync(new URL(`../public/${name}`, import.meta.url), 'utf8');
  return read(file)
    .replace('/*OPERATIONS*/ {}', JSON.stringify(operations).replace(/</g, '\\u003c'))
    .replace('/*STYLE*/', () => read('page.css'))
    .replace('/*SHARED*/', () => read('page.js'));
}
/**
 * The pages, with their operations as trusted documents (`{ hash }`) when the gateway holds the
 * manifest that has them all (trusted-documents.ts), else as text.
 */
function pages(trusted: TrustedDocuments): Record<string, string> {
  const texts = pageOperations();
  const hashes = trusted.operationHashes();
  const operations = Object.keys(texts).every((name) => hashes[name])
    ? Object.fromEntries(Object.keys(texts).map((name) => [name, { hash: hashes[name]! }]))
    : texts;
  return { '/app': pageHtml('app.html', operations), '/app/instructor': pageHtml('instructor.html', operations) };
}

/** oauth4webapi's browser build (ESM), which the pages sign in with: served, never fetched from elsewhere. */
const OAUTH4WEBAPI = readFileSync(createRequire(import.meta.url).resolve('oauth4webapi'), 'utf8');

/**
 * The pages' sign-in routes: `GET /app/sign-in.json` → `{ issuer, clientId, audience, scope }` (the
 * issuer null when the gateway trusts none), and `GET /app/oauth4webapi.js`, the library that
 * runs Authorization Code + PKCE in the page (public/page.js).
 */
function signInRoutes(config: GatewayConfig, tokens: TokenRules) {
  const described = JSON.stringify(
    tokens.oidc
      ? { issuer: tokens.oidc.issuer, clientId: config.PAGES_CLIENT_ID, audience: tokens.oidc.audience ?? null }
      : { issuer: null },
  );
  return {
    '/app/sign-in.json': (req: IncomingMessage, res: ServerResponse) => {
      if (req.method !== 'GET') return false;
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(described);
    },
    '/app/oauth4webapi.js': (req: IncomingMessage, res: ServerResponse) => {
      if (req.method !== 'GET') return false;
      res.writeHead(200, {
        'content-type': 'text/javascript; charset=utf-8',
        'x-content-type-options': 'nosniff',
        'cache-control': 'max-age=3600',
      });
      res.end(OAUTH4WEBAPI);
    },
  };
}

/**
 * The page's operations: public/operations.graphql split into one printed document per
 * operation name, each with the fragments it uses (graphql-js `separateOperations`).
 */
export function pageOperations(): Record<string, string> {
  const doc = parse(readFileSync(new URL('../public/operations.graphql', import.meta.url), 'utf8'));
  return Object.fromEntries(Object.entries(separateOperations(doc)).map(([name, d]) => [name, print(d)]));
}

/**
 * `GET /dev/token?role=STUDENT&sub=s-1` → `{ token }`: demo sign-in for the client page and
 * GraphiQL. DEV-ONLY: mounted only with `DEV_TOKENS=on`, which production refuses.
 */
function devTokenRoute(tokens: TokenPolicy) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    if (req.method !== 'GET') return false;
    const q = new URL(req.url ?? '/', 'http://x').searchParams;
    const role = (q.get('role') ?? 'STUDENT').toUpperCase();
    const sub = q.get('sub') ?? '';
    if (!isRole(role) || !/^[A-Za-z0-9_.-]{1,64}$/.test(sub)) {
      return (sendJson(res, 400, { error: 'role must be STUDENT, INSTRUCTOR or ADMIN and sub 1-64 of [A-Za-z0-9_.-]' }), true);
    }
    // 8 h, or less when tokens may not live that long (JWT_MAX_TTL_SECONDS): it would be refused.
    const ttl = Math.min(8 * 3600, (typeof tokens === 'string' ? undefined : tokens.maxTtlSeconds) ?? 8 * 3600);
    sendJson(res, 200, { token: await issueToken({ sub, role: role as Role }, tokens, ttl), devOnly: true });
    return true;
  };
}
