/**
 * How the gateway calls its subgraphs: Apollo Gateway's `RemoteGraphQLDataSource` with its
 * `sendRequest` replaced by a lean HTTP client (undici `Pool`, keep-alive connections per
 * subgraph), in place of the default make-fetch-happen stack (caching, retries and agents the
 * gateway does not use, which took a quarter of its CPU in a profile of `npm run bench:load`).
 *
 * Every call carries the shared gateway secret and the caller's identity (`x-user-id`,
 * `x-user-role`). Identical query fetches in flight at the same time (same subgraph, same
 * identity, same operation and variables) share one upstream request and its answer; a
 * mutation is never shared, and neither is anything across identities.
 *
 * When tracing is on, each fetch carries the W3C `traceparent` of Apollo Gateway's
 * `gateway.fetch` span, so the subgraph's spans join the request's trace.
 */
import type { GraphQLDataSource, GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { GatewayGraphQLResponse } from '@apollo/server-gateway-interface';
import { GraphQLError } from 'graphql';
import { Pool } from 'undici';
import { HEADERS, injectTrace, SingleFlight, type Identity } from '@courses/platform';

/** The per-request context the gateway builds: the verified caller, if any. */
export interface GatewayContext {
  identity?: Identity;
  /** The caller's address (the socket's), for limits on anonymous callers. */
  clientIp?: string;
  /**
   * Answer from the subgraphs, never from the response cache: set for the queries a subscription
   * runs because something just changed (a cached answer could predate the change).
   */
  fresh?: boolean;
  /**
   * The document was vetted before it got here (a subscription transport's, checked against the
   * trusted documents) or written by the gateway itself (a subscription's per-event query): the
   * trusted-only check does not apply (trusted-documents.ts).
   */
  vetted?: boolean;
  /** A query the gateway runs itself for a subscription event: no caller's rate limit counts it. */
  internal?: boolean;
}

/** Words a subgraph that cannot be reached the way Apollo Gateway's own fetcher did (see formatGatewayError). */
function unreachable(url: string, err: Error): Error {
  return new Error(`request to ${url} failed, reason: ${err.message}`);
}

/** A subgraph answer and its `cache-control` header. */
interface Answer {
  response: GatewayGraphQLResponse;
  cacheControl?: string;
}

/**
 * The gateway's data source for one subgraph (implements Apollo Gateway's `GraphQLDataSource`):
 * sends the gateway secret and the caller's identity with every fetch, shares identical
 * in-flight queries, and passes each answer's `cache-control` on to the operation's cache policy.
 * A fetch that has no answer within `timeoutMs` is abandoned: the client is told
 * SERVICE_UNAVAILABLE (retry), as for a subgraph that cannot be reached, instead of waiting on a
 * stalled subgraph (undici's own default is 300 s). A mutation abandoned so may still complete in
 * the subgraph; the product's mutations are safe to retry (a second registration of the same
 * student is refused, a second cancellation finds it canceled).
 */
export class SubgraphDataSource implements GraphQLDataSource<GatewayContext> {
  private readonly pool: Pool;
  private readonly path: string;
  private readonly inFlight = new SingleFlight<Answer>();

  /** @param timeoutMs the longest a fetch may take, answer included (ms) */
  constructor(
    readonly url: string,
    private readonly secret: string,
    private readonly timeoutMs = 8_000,
  ) {
    const u = new URL(url);
    // Enough connections that requests wait in the subgraph, where admission control sees them, not here.
    this.pool = new Pool(u.origin, { connections: 512, keepAliveTimeout: 4_000, pipelining: 1 });
    this.path = `${u.pathname}${u.search}`;
  }

  async process(options: GraphQLDataSourceProcessOptions<GatewayContext>): Promise<GatewayGraphQLResponse> {
    const { request } = options;
    if (!request.query) throw new Error('Missing query');
    const who = (options.context as GatewayContext | undefined)?.identity;
    const headers = injectTrace<Record<string, string>>({ 'content-type': 'application/json', [HEADERS.secret]: this.secret });
    if (who) {
      headers[HEADERS.userId] = who.sub;
      headers[HEADERS.role] = who.role;
    }
    const payload = JSON.stringify({
      query: request.query,
      variables: request.variables,
      operationName: request.operationName,
      extensions: request.extensions,
    });
    let answer: Answer;
    if (/^\s*mutation\b/.test(request.query)) answer = await this.post(headers, payload);
    else {
      const key = `${who ? `${who.role}:${who.sub}` : ''}\u0000${payload}`;
      answer = await this.inFlight.run(key, () => this.post(headers, payload));
    }
    if ('incomingRequestContext' in options) restrictCachePolicy(options.incomingRequestContext.overallCachePolicy, answer.cacheControl);
    return answer.response;
  }

  /** Closes the keep-alive connections. */
  close(): Promise<void> {
    return this.pool.close();
  }

  private async post(headers: Record<string, string>, payload: string): Promise<Answer> {
    let res;
    try {
      res = await this.pool.request({
        path: this.path,
        method: 'POST',
        headers,
        body: payload,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw unreachable(this.url, err as Error);
    }
    let text: string;
    try {
      text = await res.body.text();
    } catch (err) {
      throw unreachable(this.url, err as Error); // the deadline passed while the answer came
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (res.statusCode < 200 || res.statusCode >= 300) {
      // The subgraph's own error, without its internal address.
      const errors = (parsed as { errors?: Array<{ message?: string; extensions?: { code?: string } }> } | undefined)?.errors;
      const code = res.statusCode === 401 ? 'UNAUTHENTICATED' : res.statusCode === 403 ? 'FORBIDDEN' : errors?.[0]?.extensions?.code;
      throw new GraphQLError(errors?.[0]?.message ?? `a service answered HTTP ${res.statusCode}`, {
        extensions: { ...(code ? { code } : {}), response: { status: res.statusCode } },
      });
    }
    if (typeof parsed !== 'object' || parsed === null) throw new Error(`Expected JSON response body, but received: ${text.slice(0, 200)}`);
    const cc = res.headers['cache-control'];
    return { response: parsed as GatewayGraphQLResponse, cacheControl: Array.isArray(cc) ? cc.join(', ') : cc };
  }
}

/**
 * Lets a subgraph's `cache-control` (`max-age=N`, `public`/`private`) restrict the operation's
 * overall cache policy, as Apollo's own data source does; no header means not cacheable.
 */
function restrictCachePolicy(policy: unknown, header: string | undefined): void {
  if (!policy || typeof (policy as { restrict?: unknown }).restrict !== 'function') return;
  const maxAge = /(?:^|,)\s*max-age=(\d+)/.exec(header ?? '')?.[1];
  const hint: { maxAge: number; scope?: 'PUBLIC' | 'PRIVATE' } = { maxAge: maxAge ? Number(maxAge) : 0 };
  if (/(?:^|,)\s*private\b/.test(header ?? '')) hint.scope = 'PRIVATE';
  else if (/(?:^|,)\s*public\b/.test(header ?? '')) hint.scope = 'PUBLIC';
  (policy as { restrict(h: typeof hint): void }).restrict(hint);
}
