/**
 * The browser page of the gateway: GraphiQL with its bundle inlined (no CDN), using
 * graphql-ws for subscriptions, or a plain landing page when GRAPHIQL=false.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';

/** Ready-made operations shown in GraphiQL's first tab: the scenario, step by step. */
export const EXAMPLE_OPERATIONS = `# Course registration supergraph: paste a dev token into the Headers tab first:
#   npm run token -- --role STUDENT --sub s-1      (or INSTRUCTOR / ADMIN)
#   {"Authorization": "Bearer <token>"}
# The catalog is public; everything else needs a token.

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
  myRegistrations { id status cancellationReason lecture { title } payment { status } }
}

query MyDashboard {
  myDashboard { registrationId lectureTitle registrationStatus paymentStatus updatedAt }
}

subscription WatchMyRegistrations {
  registrationStatusChanged { id status cancellationReason payment { status } lecture { title } }
}

subscription WatchLecture($lectureId: ID!) {
  lectureUpdated(lectureId: $lectureId) { id title status enrolledCount }
}
`;

/** True when the request comes from a browser wanting HTML. */
export function wantsHtml(req: IncomingMessage): boolean {
  return req.method === 'GET' && (req.headers.accept ?? '').includes('text/html');
}

/** GET handler: GraphiQL (or the landing page) for browsers; falls through otherwise. */
export function browserPage(enabled: boolean) {
  const html = enabled
    ? renderGraphiQL({
        title: 'Course registration supergraph',
        endpoint: '/graphql',
        subscriptionsProtocol: 'WS',
        defaultQuery: EXAMPLE_OPERATIONS,
        headers: JSON.stringify({ Authorization: '' }, null, 2),
        shouldPersistHeaders: true,
      })
    : `<!doctype html><meta charset="utf-8"><title>Course registration supergraph</title>
<h1>Course registration supergraph</h1><p>GraphQL endpoint: <code>POST /graphql</code>; subscriptions: graphql-ws on <code>/graphql</code>.</p>`;
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    if (!wantsHtml(req)) return false;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(html);
    return true;
  };
}
