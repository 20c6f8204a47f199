/**
 * The HTTP host every service runs: GraphQL on `/graphql` (POST, and GET for queries),
 * `/health/live`, `/health/ready`, `/metrics`, plus any extra routes the service adds.
 *
 * Built on node:http and Apollo Server's `executeHTTPGraphQLRequest`, so no web framework
 * is needed. Graceful shutdown: {@link ServiceHost.stop} first turns readiness to 503 and goes
 * on serving for `drainDelayMs` (load balancers stop routing: {@link ServiceHost.drain}), then
 * stops accepting connections, lets in-flight requests finish (bounded by `graceMs`), and closes
 * what remains.
 *
 * Every request but health and metrics runs in an HTTP server span (tracing.ts), a child of the
 * caller's W3C `traceparent` when it sends one.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HeaderMap, type ApolloServer, type BaseContext } from '@apollo/server';
import { extractTrace, inSpan, SpanKind, tracerOf, tracingEnabled, type Logger, type ServiceMetrics } from '../observability/index.js';
import { sameSecret } from './identity.js';

/**
 * Connections the kernel may hold for a server before it accepts them (Linux caps it at
 * `net.core.somaxconn`, 4096 on current kernels). Node's default is 511: when a thousand students
 * press Register at once, the connections past it were dropped and their clients sent them again
 * only after TCP's one-second retransmission timeout, so half the rush waited a second before the
 * server ever saw it (counted as ListenOverflows in `nstat`; docs/performance.md, "The
 * registration rush").
 */
export const LISTEN_BACKLOG = 4096;

/** Largest request body accepted, in bytes. */
export const MAX_BODY_BYTES = 1_000_000;

/**
 * Who may read `GET /metrics`: `open` (anyone who reaches the port), `off` (404), or a token
 * the scraper sends as `Authorization: Bearer <token>` (else 401).
 */
export type MetricsAccess = 'open' | 'off' | { token: string };

/** An extra route; return false to fall through to 404. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => Promise<boolean | void> | boolean | void;

export interface ServiceHostOptions<Ctx extends BaseContext> {
  name: string;
  /** The GraphQL server behind `/graphql`; without one the host serves only its routes (and health). */
  apollo?: ApolloServer<Ctx>;
  /** Builds the resolver context; throw an Error with `status` (401/403) to refuse the request. */
  context?: (req: IncomingMessage) => Promise<Ctx>;
  /**
   * Rewrites a GraphQL request before Apollo reads it, in place: the parsed POST body (undefined
   * for GET) and the query string (the gateway turns a `documentId` into Apollo's APQ extension).
   */
  rewriteGraphQLRequest?: (body: unknown, search: URLSearchParams) => void;
  /** Named readiness checks (e.g. mongo); all must be true for `/health/ready` to answer 200. */
  readiness?: Record<string, () => boolean | Promise<boolean>>;
  /**
   * Named checks of what the service can ride out (e.g. nats: the outbox keeps the events, live
   * updates resume): reported by `/health/ready` under `degraded` when false, never making it 503.
   */
  degradedBy?: Record<string, () => boolean>;
  /**
   * Whether a request's W3C `traceparent` continues the caller's trace (default true: a service
   * behind the gateway joins the gateway's trace). False at the public edge: a client picks
   * neither trace ids nor sampling there; each request starts its own trace.
   */
  trustTraceparent?: boolean;
  /** Extra routes by exact path. */
  routes?: Record<string, RouteHandler>;
  /** Optional fallback for GET requests not otherwise matched (e.g. a landing page). */
  onGet?: RouteHandler;
  logger: Logger;
  metrics: ServiceMetrics;
  /** Who may read `GET /metrics` (default `open`). */
  metricsAccess?: MetricsAccess;
  /**
   * The `GET /metrics` answer (Prometheus text format) when it is not this process's registry alone:
   * a gateway worker answers the sum of all workers' (gateway/src/workers.ts).
   */
  metricsText?: () => Promise<string>;
  /** Milliseconds to wait for in-flight requests on stop. */
  graceMs?: number;
  /** Milliseconds to go on serving, not ready, before a stop closes the listener (default 0). */
  drainDelayMs?: number;
}

/** A running (or startable) service host. */
export interface ServiceHost {
  server: http.Server;
  /** Starts listening; resolves with the bound port. */
  listen(port: number, host?: string): Promise<number>;
  /**
   * Turns readiness to 503 and resolves `drainDelayMs` later, still serving meanwhile: the first
   * step of {@link stop}, for a service with more to close before its listener. Idempotent.
   */
  drain(): Promise<void>;
  /** Graceful stop (see module doc). Idempotent. */
  stop(): Promise<void>;
  /** True once stop() has begun. */
  readonly draining: boolean;
  /** Requests received and not yet answered (count). */
  readonly inFlight: number;
}

/** An error that maps to an HTTP status before GraphQL execution (e.g. a missing gateway secret). */
export class HttpError extends Error {
  constructor(
    public readonly status: number,
    message: string,
    public readonly code: string,
  ) {
    super(message);
  }
}

/**
 * The request body, at most {@link MAX_BODY_BYTES}.
 * @throws HttpError 413 past that. The rest is read and dropped (up to 8 times the cap, then
 *   the connection is cut) so that the client, still sending, gets to read the 413.
 */
function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (over) {
        if (size > 8 * MAX_BODY_BYTES) req.destroy();
      } else if (size > MAX_BODY_BYTES) {
        over = true;
        chunks.length = 0;
        reject(new HttpError(413, `request body over ${MAX_BODY_BYTES} bytes`, 'BAD_REQUEST'));
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Writes `value` as a JSON response with `status` (and any extra headers). */
export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(value));
}

/** Creates the host; call `listen` to start it. */
export function createServiceHost<Ctx extends BaseContext>(opts: ServiceHostOptions<Ctx>): ServiceHost {
  return new Host(opts);
}

/** The host: routes, the GraphQL endpoint, health, metrics, tracing and the graceful stop. */
class Host<Ctx extends BaseContext> implements ServiceHost {
  readonly server: http.Server;
  private isDraining = false;
  private drained: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private requests = 0;
  /** The paths the host answers, the only values of the metrics' `route` label (with `other`). */
  private readonly knownRoutes: Set<string>;
  private readonly tracer: ReturnType<typeof tracerOf>;

  constructor(private readonly opts: ServiceHostOptions<Ctx>) {
    this.knownRoutes = new Set(['/health/live', '/health/ready', '/metrics', '/graphql', '/', ...Object.keys(opts.routes ?? {})]);
    this.tracer = tracerOf(opts.name);
    this.server = http.createServer((req, res) => {
      this.requests++;
      res.once('close', () => this.requests--);
      const url = req.url ?? '/';
      void (!tracingEnabled() || url.startsWith('/health/') || url.startsWith('/metrics') ? this.handle(req, res) : this.traced(req, res));
    });
    this.server.keepAliveTimeout = 5_000;
  }

  get draining(): boolean {
    return this.isDraining;
  }

  get inFlight(): number {
    return this.requests;
  }

  async listen(port: number, host = '0.0.0.0'): Promise<number> {
    const server = this.server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const bound = (server.address() as AddressInfo).port;
    this.opts.logger.info({ port: bound }, `${this.opts.name} listening`);
    return bound;
  }

  drain(): Promise<void> {
    this.drained ??= (async () => {
      this.isDraining = true;
      if (this.opts.drainDelayMs) await new Promise((resolve) => setTimeout(resolve, this.opts.drainDelayMs));
    })();
    return this.drained;
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.drain();
      const server = this.server;
      // close() clears `listening` at once, so look first. Its callback fires only once
      // every connection (keep-alive ones included) has ended.
      const closed = server.listening ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), this.opts.graceMs ?? 10_000);
      timer.unref();
      await closed;
      clearTimeout(timer);
      await this.opts.apollo?.stop();
    })();
    return this.stopping;
  }

  private async readiness(): Promise<{ ok: boolean; checks: Record<string, boolean>; degraded: string[] }> {
    const checks: Record<string, boolean> = { accepting: !this.isDraining };
    for (const [name, check] of Object.entries(this.opts.readiness ?? {})) {
      try {
        checks[name] = await check();
      } catch {
        checks[name] = false;
      }
    }
    const degraded = Object.entries(this.opts.degradedBy ?? {})
      .filter(([, up]) => !up())
      .map(([name]) => name);
    return { ok: Object.values(checks).every(Boolean), checks, degraded };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const started = process.hrtime.bigint();
    const route = url.pathname;
    // While draining, tell keep-alive clients not to reuse this connection.
    if (this.isDraining) res.setHeader('connection', 'close');
    try {
      await this.route(route, req, res, url);
    } catch (err) {
      this.failed(err, route, res);
    } finally {
      // Labelled by the routes the host serves, anything else as `other`: a label per path
      // requested would let anyone grow the metrics without bound.
      const label = this.knownRoutes.has(route) ? route : 'other';
      this.opts.metrics.httpRequests.inc({ route: label, status: String(res.statusCode) });
      this.opts.metrics.httpDuration.observe({ route: label }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  /** Answers one request by its path. */
  private async route(route: string, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const opts = this.opts;
    if (route === '/health/live') return sendJson(res, 200, { status: 'ok' });
    if (route === '/health/ready') {
      const r = await this.readiness();
      return sendJson(res, r.ok ? 200 : 503, { status: r.ok ? 'ready' : 'not-ready', checks: r.checks, degraded: r.degraded });
    }
    if (route === '/metrics') return this.metrics(req, res);
    const body = req.method === 'POST' ? await readBody(req) : Buffer.alloc(0);
    const extra = opts.routes?.[route];
    if (extra && (await extra(req, res, body)) !== false) return;
    if (route === '/graphql' || route === '/') {
      if (req.method === 'GET' && opts.onGet && (await opts.onGet(req, res, body)) !== false) return;
      if (route === '/graphql' && opts.apollo) return await this.graphql(opts.apollo, req, res, body, url);
    }
    sendJson(res, 404, { error: 'not found' });
  }

  /** `GET /metrics`, as `metricsAccess` allows. */
  private async metrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const access = this.opts.metricsAccess ?? 'open';
    if (access === 'off') return sendJson(res, 404, { error: 'not found' });
    if (access !== 'open' && !sameSecret(req.headers.authorization, `Bearer ${access.token}`)) {
      return sendJson(res, 401, { error: 'metrics need Authorization: Bearer <METRICS_TOKEN>' });
    }
    const registry = this.opts.metrics.registry;
    const text = await (this.opts.metricsText ?? (() => registry.metrics()))();
    res.writeHead(200, { 'content-type': registry.contentType });
    res.end(text);
  }

  /** A request that threw: an HttpError with its status, anything else as a logged 500. */
  private failed(err: unknown, route: string, res: ServerResponse): void {
    if (err instanceof HttpError) {
      if (err.status === 413) res.setHeader('connection', 'close');
      sendJson(res, err.status, { errors: [{ message: err.message, extensions: { code: err.code } }] });
      return;
    }
    this.opts.logger.error({ err, route }, 'request failed');
    if (!res.headersSent) sendJson(res, 500, { errors: [{ message: 'internal error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
    else res.end();
  }

  private async graphql(apollo: ApolloServer<Ctx>, req: IncomingMessage, res: ServerResponse, body: Buffer, url: URL): Promise<void> {
    const headers = new HeaderMap();
    for (const [k, v] of Object.entries(req.headers)) {
      if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
    }
    let parsed: unknown = undefined;
    if (req.method === 'POST' && body.length > 0) {
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        return sendJson(res, 400, { errors: [{ message: 'request body is not valid JSON', extensions: { code: 'BAD_REQUEST' } }] });
      }
    }
    // In place: `url.search` follows what is done to `url.searchParams`.
    this.opts.rewriteGraphQLRequest?.(parsed, url.searchParams);
    // Built before Apollo runs so an HttpError (e.g. wrong gateway secret) keeps its status.
    const contextValue = this.opts.context ? await this.opts.context(req) : ({} as Ctx);
    const result = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method ?? 'GET', headers, search: url.search, body: parsed },
      context: async () => contextValue,
    });
    const outHeaders: Record<string, string> = {};
    for (const [k, v] of result.headers) outHeaders[k] = v;
    res.writeHead(result.status ?? 200, outHeaders);
    if (result.body.kind === 'complete') {
      res.end(result.body.string);
    } else {
      for await (const chunk of result.body.asyncIterator) res.write(chunk);
      res.end();
    }
  }

  /** `handle` in a server span: a child of the caller's trace context, if it sent one. */
  private traced(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const parent =
      this.opts.trustTraceparent === false
        ? undefined
        : extractTrace((key) => {
            const v = req.headers[key];
            return Array.isArray(v) ? v[0] : v;
          });
    const method = req.method ?? 'GET';
    return inSpan(
      this.tracer,
      `${method} ${this.knownRoutes.has(path) ? path : 'other'}`,
      { kind: SpanKind.SERVER, parent, attributes: { 'http.request.method': method, 'url.path': path.slice(0, 200) } },
      async (span) => {
        await this.handle(req, res);
        span.setAttribute('http.response.status_code', res.statusCode);
      },
    );
  }
}
