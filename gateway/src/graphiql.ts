/**
 * The browser page of the gateway: GraphiQL with its bundle inlined (no CDN), using
 * graphql-ws for subscriptions, or a plain landing page when GRAPHIQL=false.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';

/** Ready-made operations shown in GraphiQL's first tab: the scenario, step by step. */
export const EXAMPLE_OPERATIONS = `# Course registration supergraph. The catalog is public; everything else needs a token.
# "Sign in" (top right) puts yours in the Headers tab. Or get one:  npm run token -- --sub s-1
# (npm start's people: s-1, s-2, s-3, i-1, i-2, a-1), and put it in the Headers tab:
#   {"Authorization": "Bearer <token>"}        (used for subscriptions too)
# A student-facing page lives at /app.

query Catalog {
  lectures(first: 5, status: OPEN) {
    totalCount
    edges { cursor node { id title capacity price enrolledCount status } }
    pageInfo { hasNextPage endCursor }
  }
}

mutation OpenLecture {   # INSTRUCTOR
  openLecture(input: { title: "Distributed Systems", capacity: 30, price: 120000 }) { id title status }
}

mutation Register($lectureId: ID!) {   # STUDENT
  registerForLecture(lectureId: $lectureId) {
    id status payment { id amount status } lecture { title enrolledCount }
  }
}

mutation CancelRegistration($id: ID!) {
  cancelRegistration(id: $id) { id status cancellationReason payment { status } }
}

query MyRegistrations {
  myRegistrationsPage(first: 20) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id status cancellationReason lecture { title } payment { status } } }
  }
}

query MyDashboard {
  myDashboardPage(first: 20) {
    edges { node { registrationId lectureTitle registrationStatus paymentStatus updatedAt } }
  }
}

subscription WatchMyRegistrations {
  registrationStatusChanged { id status cancellationReason payment { status } lecture { title } }
}

subscription WatchLecture($lectureId: ID!) {
  lectureUpdated(lectureId: $lectureId) { id title status enrolledCount }
}
`;

/**
 * Headers of the HTML pages the gateway serves (GraphiQL, the landing page, the student page):
 * never framed by another site (clickjacking), no MIME sniffing, no referrer to other sites,
 * no plugins and no <base> rewriting. Scripts stay as the pages need them (inline, same origin).
 */
export const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': "frame-ancestors 'none'; object-src 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
} as const;

/** True when the request comes from a browser wanting HTML. */
export function wantsHtml(req: IncomingMessage): boolean {
  return req.method === 'GET' && (req.headers.accept ?? '').includes('text/html');
}

/**
 * GET handler: GraphiQL (or the landing page) for browsers; falls through otherwise.
 * GraphiQL gets absolute endpoints built from the request's Host: it derives the WebSocket
 * URL by swapping the scheme of its endpoint, which a relative `/graphql` does not have.
 */
export function browserPage(enabled: boolean) {
  const landing = `<!doctype html><meta charset="utf-8"><title>Course registration supergraph</title>
<h1>Course registration supergraph</h1><p>GraphQL endpoint: <code>POST /graphql</code>; subscriptions: graphql-ws on <code>/graphql</code>.</p>`;
  const pages = new Map<string, string>();
  const graphiql = (host: string, secure: boolean) => {
    const key = `${secure}|${host}`;
    let html = pages.get(key);
    if (!html) {
      html = renderGraphiQL({
        title: 'Course registration supergraph',
        endpoint: `${secure ? 'https' : 'http'}://${host}/graphql`,
        subscriptionsProtocol: 'WS',
        // Passed through to GraphiQL's fetcher, though GraphiQLOptions does not declare it.
        ...({ subscriptionsEndpoint: `${secure ? 'wss' : 'ws'}://${host}/graphql` } as object),
        defaultQuery: EXAMPLE_OPERATIONS,
        headers: JSON.stringify({ Authorization: '' }, null, 2),
        // The Headers tab holds a JWT: keep it for the tab's life only, not in localStorage.
        shouldPersistHeaders: false,
      });
      html = withSignIn(html);
      if (pages.size < 32) pages.set(key, html);
    }
    return html;
  };
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    if (!wantsHtml(req)) return false;
    const host = /^[A-Za-z0-9.:[\]-]+$/.test(req.headers.host ?? '') ? req.headers.host! : 'localhost';
    const secure = req.headers['x-forwarded-proto'] === 'https';
    res.writeHead(200, PAGE_HEADERS);
    res.end(enabled ? graphiql(host, secure) : landing);
    return true;
  };
}

/** The sign-in bar GraphiQL gets: the pages' sign-in (public/page.js), its token put in the Headers tab. */
const SIGN_IN_BAR = `<div id="sign-in-bar"><span id="who">signed out</span> <button id="sign-in" hidden>Sign in</button><button id="sign-out" hidden>Sign out</button></div><div id="toast"></div>
<style>#sign-in-bar{position:fixed;top:6px;left:50%;transform:translateX(-50%);z-index:10;font:13px system-ui,sans-serif;color:#666;background:rgba(255,255,255,.9);padding:2px 6px;border-radius:6px}
#sign-in-bar button{font:inherit;margin-left:4px;cursor:pointer}#toast{position:fixed;bottom:16px;right:16px;z-index:10;display:none;background:#222;color:#fff;padding:8px 12px;border-radius:6px;font:13px system-ui,sans-serif}#toast.show{display:block}</style>
<script>
${readFileSync(new URL('../public/page.js', import.meta.url), 'utf8').replace(/<\/script/gi, '<\\/script')}
// GraphiQL was drawn with this tab's token (see the options above); a new sign-in draws it again.
signInWithIssuer({
  onToken: (token, _name, renewed) => {
    if (!token || token === window.__signedInToken) return;
    if (renewed) return toast('Your token was renewed: reload the page to put the new one in the Headers tab.');
    location.reload();
  },
}).start().catch((e) => toast('sign-in: ' + e.message));
</script>`;

/**
 * GraphiQL's page with sign-in: its Headers tab starts with this tab's access token when it has
 * one (kept by the sign-in in sessionStorage, as the pages keep theirs: for the tab only), and
 * the sign-in bar is added. Without an issuer the bar says sign-in is unavailable.
 * @throws Error when the rendered page no longer has the shape this expects (a GraphiQL upgrade).
 */
function withSignIn(html: string): string {
  const call = /YogaGraphiQL\.renderYogaGraphiQL\(\s*window\.document\.querySelector\('#root'\),\s*(\{.*\}),\s*\);/s;
  if (!call.test(html)) throw new Error("GraphiQL's page changed: cannot add sign-in to it");
  const drawn = html.replace(
    call,
    (_m, options: string) => `const options = ${options};
        const kept = JSON.parse(sessionStorage.getItem('sign-in:' + location.pathname) || 'null');
        window.__signedInToken = kept && kept.expiresAt > Date.now() ? kept.access : '';
        if (window.__signedInToken) options.headers = JSON.stringify({ Authorization: 'Bearer ' + window.__signedInToken }, null, 2);
        YogaGraphiQL.renderYogaGraphiQL(window.document.querySelector('#root'), options);`,
  );
  const end = drawn.lastIndexOf('</body>');
  return `${drawn.slice(0, end)}${SIGN_IN_BAR}\n${drawn.slice(end)}`;
}
