/**
 * Subscriptions over plain HTTP, on the gateway's port, beside graphql-ws (./server.ts) and
 * served by the same engine (./engine.ts): the same Authorization, limits, per-client caps
 * (./client-caps.ts), shared executions, positions and metrics.
 *
 * - **GraphQL over Server-Sent Events**, with the `graphql-sse` library
 *   (https://github.com/enisdenjo/graphql-sse/blob/master/PROTOCOL.md), both of its modes, at
 *   `/graphql/stream`: *distinct connections* (one `text/event-stream` request per operation,
 *   GET or POST; also on `/graphql`, for EventSource) and *single connection* (PUT reserves a
 *   stream, GET opens it, POSTs carry operations). Each `next` event of a subscription carries
 *   an `id:` line, its position, so an EventSource that reconnects sends it back as
 *   `Last-Event-ID` and resumes; an operation may also carry `extensions.lastEventId`.
 * - **Apollo's multipart HTTP subscription protocol**
 *   (https://www.apollographql.com/docs/graphos/routing/operations/subscriptions/multipart-protocol):
 *   a POST to `/graphql` with `accept: multipart/mixed;subscriptionSpec=1.0` and a subscription
 *   gets `multipart/mixed;boundary="graphql";subscriptionSpec=1.0`: each result is a part
 *   `{"payload": …}` whose `payload.extensions.eventId` is its position, a heartbeat part `{}`
 *   every `heartbeatMs`. To resume, send the position back as `extensions.lastEventId` (or a
 *   `Last-Event-ID` header). Queries and mutations with that header fall through to Apollo.
 *
 * Every stream ends (after one UNAUTHENTICATED result) when its token expires, and at shutdown;
 * one whose client has not read for 30 s is closed (it resumes from its last position).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getOperationAST, type DocumentNode, type ExecutionArgs, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { createHandler, type RequestParams, type Request as SseRequest } from 'graphql-sse';
import { ErrorCode, sendJson, type Logger } from '@courses/platform';
import { AuthError, identityFromAuthorization, type TokenPolicy } from '../auth.js';
import type { FieldUsage } from '../field-usage.js';
import type { TrustedDocuments } from '../trusted-documents.js';
import type { ClientCaps } from './client-caps.js';
import type { DocumentCache } from './documents.js';
import { errorResult, executeForClient, type Executor, type OperationContext, type SubscriptionEngine } from './engine.js';
import { WRITE_AHEAD_BYTES } from './write-turn.js';

export interface HttpStreamsOptions {
  schema: () => GraphQLSchema | undefined;
  /** Runs queries and mutations sent over SSE. */
  execute: Executor;
  engine: SubscriptionEngine;
  documents: DocumentCache;
  /** Trusted documents: named by hash, and in `only` mode the only ones run (trusted-documents.ts). */
  trusted?: TrustedDocuments;
  /** Counts the schema coordinates each operation selects, once per operation (field-usage.ts). */
  usage?: FieldUsage;
  tokens: TokenPolicy;
  caps: ClientCaps;
  logger: Logger;
  /** Interval between multipart heartbeats, ms (default 5000, Apollo's). */
  heartbeatMs?: number;
}

/** The HTTP streams' route handlers and what they hold open. */
export interface HttpStreams {
  /** `/graphql`: multipart subscriptions and EventSource requests; false for anything else (Apollo's). */
  graphql(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<boolean>;
  /** `/graphql/stream`: GraphQL over SSE, both modes. */
  sse(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<boolean>;
  /** Open SSE and multipart responses. */
  readonly open: number;
  /** Ends every open stream (shutdown). */
  close(): void;
}

const JSON_TYPE = { 'content-type': 'application/json; charset=utf-8' };
/** The `id:` an SSE `next` message gets: the position at the end of its JSON (see engine.ts). */
const EVENT_ID = /"extensions":\{"eventId":"([0-9a-f_.-]+)"\}\}+\n\n$/;

/** Verifies the request's Authorization into an operation context; AuthError as a context that fails the operation. */
async function contextOf(
  req: IncomingMessage,
  tokens: TokenPolicy,
  lastEventId: unknown,
  clientIp: string,
): Promise<OperationContext | AuthError> {
  try {
    const verified = await identityFromAuthorization(req.headers.authorization, tokens);
    return { identity: verified?.identity, exp: verified?.exp, lastEventId, clientIp };
  } catch (e) {
    if (e instanceof AuthError) return e;
    throw e;
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The operation of `params`, parsed (syntax errors as a GraphQL error) with the caller's context; or the refusal and its HTTP status. */
async function prepare(
  opts: HttpStreamsOptions,
  req: IncomingMessage,
  params: { query?: unknown; variables?: unknown; operationName?: unknown; extensions?: unknown },
): Promise<ExecutionArgs | { status: number; result: ExecutionResult }> {
  const schema = opts.schema();
  if (!schema) return { status: 503, result: errorResult(ErrorCode.SERVICE_UNAVAILABLE, 'the supergraph is not loaded yet') };
  if (opts.trusted) {
    const resolved = opts.trusted.resolve(params);
    if ('code' in resolved)
      return { status: resolved.code === 'PERSISTED_QUERY_NOT_FOUND' ? 200 : 400, result: errorResult(resolved.code, resolved.message) };
    params.query = resolved.query;
  }
  if (typeof params.query !== 'string') return { status: 400, result: errorResult('BAD_REQUEST', 'query must be a string') };
  let document: DocumentNode;
  try {
    document = opts.documents.parse(params.query);
  } catch (e) {
    return { status: 400, result: errorResult('GRAPHQL_PARSE_FAILED', (e as Error).message) };
  }
  const lastEventId = (params.extensions as { lastEventId?: unknown } | undefined)?.lastEventId ?? header(req, 'last-event-id');
  const context = await contextOf(req, opts.tokens, lastEventId, opts.caps.addressOf(req));
  if (context instanceof AuthError) return { status: context.status, result: errorResult(context.code, context.message) };
  const operationName = typeof params.operationName === 'string' ? params.operationName : undefined;
  opts.usage?.record(schema, document, operationName);
  return {
    schema,
    document,
    operationName,
    variableValues: (params.variables ?? {}) as Record<string, unknown>,
    contextValue: context,
  };
}

/** graphql-sse's handler over the engine: validation, queries and mutations, subscriptions, each operation prepared as above. */
function sseHandlerOf(opts: HttpStreamsOptions) {
  const { documents, engine } = opts;
  // The `as never` below: graphql-sse's types name graphql's ESM build, the gateway runs on its
  // CommonJS realm with Apollo (graphqlCjs), and results are Apollo's formatted ones: the same
  // shapes under other type identities.
  return createHandler<IncomingMessage, undefined, OperationContext & Record<PropertyKey, unknown>>({
    validate: (schema, document) => documents.validate(schema, document) as never,
    execute: (args) => executeForClient(opts.execute, args as ExecutionArgs) as never,
    subscribe: (args) => engine.subscribe(args as ExecutionArgs) as never,
    async onSubscribe(req: SseRequest<IncomingMessage, undefined>, params: RequestParams) {
      const prepared = await prepare(opts, req.raw, params);
      if ('result' in prepared)
        return [JSON.stringify(prepared.result), { status: prepared.status, statusText: 'Refused', headers: JSON_TYPE }];
      return prepared as never;
    },
  });
}

/** One multipart part holding `json`. */
const part = (json: string) => `\r\n--graphql\r\ncontent-type: application/json; charset=utf-8\r\n\r\n${json}`;

/** Streams a subscription's `results` as multipart parts, a heartbeat part every `heartbeatMs`, until they end or the client goes. */
async function streamMultipart(
  res: ServerResponse,
  results: AsyncIterableIterator<ExecutionResult>,
  heartbeatMs: number,
  logger: Logger,
): Promise<void> {
  const heartbeat = setInterval(() => void write(res, part('{}')), heartbeatMs);
  res.once('close', () => {
    clearInterval(heartbeat);
    void results.return?.();
  });
  try {
    for await (const result of results) {
      if (!(await write(res, part(JSON.stringify({ payload: result }))))) break;
    }
  } catch (e) {
    logger.error({ err: (e as Error).message }, 'multipart subscription failed');
    if (res.writable) await write(res, part(JSON.stringify({ payload: null, errors: [{ message: 'internal error' }] })));
  } finally {
    clearInterval(heartbeat);
  }
  if (res.writable) finish(res, '\r\n--graphql--\r\n');
}

/** The HTTP streams (see the module comment) over `opts.engine`. */
class HttpStreamRoutes implements HttpStreams {
  private readonly streams = new Set<ServerResponse>();
  private readonly sseHandler: ReturnType<typeof sseHandlerOf>;

  constructor(private readonly opts: HttpStreamsOptions) {
    this.sseHandler = sseHandlerOf(opts);
  }

  get open(): number {
    return this.streams.size;
  }

  close(): void {
    for (const res of this.streams) finish(res);
  }

  async graphql(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<boolean> {
    if (req.headers.accept === 'text/event-stream') return this.sse(req, res, body);
    return this.multipart(req, res, body);
  }

  /**
   * Counts `res` against its client's cap until it closes; false (and the refusal sent: 429
   * TOO_MANY_CONNECTIONS, or 503 while a shared cap cannot be counted) when it may not open.
   */
  private async admit(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const admission = await this.opts.caps.acquire(req);
    if ('refused' in admission) {
      const code = admission.refused === 429 ? 'TOO_MANY_CONNECTIONS' : ErrorCode.SERVICE_UNAVAILABLE;
      sendJson(res, admission.refused, { errors: [{ message: admission.message, extensions: { code } }] });
      return false;
    }
    // Gone while its admission was counted: nothing will close it again.
    if (res.destroyed) return (admission.release(), false);
    res.once('close', admission.release);
    this.streams.add(res);
    res.once('close', () => this.streams.delete(res));
    return true;
  }

  async sse(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<boolean> {
    const streaming = req.headers.accept === 'text/event-stream';
    if (streaming && !(await this.admit(req, res))) return true;
    const [out, init] = await this.sseHandler({
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      headers: {
        get: (key) =>
          Array.isArray(req.headers[key]) ? (req.headers[key] as string[]).join('\n') : (req.headers[key] as string | undefined),
      },
      body: body.length ? body.toString('utf8') : null,
      raw: req,
      context: undefined,
    });
    res.writeHead(init.status, init.statusText, init.headers as Record<string, string>);
    if (!out || typeof out === 'string') return (res.end(out ?? undefined), true);
    res.once('close', () => void out.return(undefined));
    for await (const message of out) {
      // A subscription's `next` message gets its position as the SSE id (for Last-Event-ID).
      const id = message.startsWith('event: next') ? EVENT_ID.exec(message)?.[1] : undefined;
      if (!(await write(res, id ? `id: ${id}\n${message}` : message))) break;
    }
    finish(res);
    return true;
  }

  private async multipart(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<boolean> {
    const accept = req.headers.accept ?? '';
    if (req.method !== 'POST' || !/multipart\/mixed/i.test(accept) || !/subscriptionSpec/i.test(accept)) return false;
    let params: Record<string, unknown>;
    try {
      params = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    } catch {
      return false; // Apollo answers a malformed body
    }
    const prepared = await prepare(this.opts, req, params ?? {});
    if ('result' in prepared) return (sendJson(res, prepared.status, prepared.result), true);
    const operation = getOperationAST(prepared.document, prepared.operationName);
    if (operation?.operation !== 'subscription') return false; // queries and mutations: Apollo
    const errors = this.opts.documents.validate(prepared.schema, prepared.document);
    if (errors.length) return (sendJson(res, 400, { errors: errors.map((e) => e.toJSON()) }), true);
    if (!(await this.admit(req, res))) return true;
    const results = await this.opts.engine.subscribe(prepared);
    res.writeHead(200, { 'content-type': 'multipart/mixed;boundary="graphql";subscriptionSpec="1.0"', 'cache-control': 'no-store' });
    if (!(Symbol.asyncIterator in results)) {
      res.end(`${part(JSON.stringify({ payload: results }))}\r\n--graphql--\r\n`);
      return true;
    }
    await streamMultipart(res, results, this.opts.heartbeatMs ?? 5_000, this.opts.logger);
    return true;
  }
}

/** The HTTP streams' routes (see the module comment). */
export function createHttpStreams(opts: HttpStreamsOptions): HttpStreams {
  return new HttpStreamRoutes(opts);
}

/** How long (ms) a response may wait for its client to read before it is closed. */
const STALLED_MS = 30_000;

/** Text written to each response in this turn of the event loop, sent together when it ends. */
const pending = new Map<ServerResponse, string>();
let flushScheduled = false;

function flushAll(): void {
  flushScheduled = false;
  for (const res of [...pending.keys()]) flush(res);
}

/** Sends what waits for `res` now (before ending it, or before a write that must wait). */
function flush(res: ServerResponse): void {
  const text = pending.get(res);
  if (text === undefined) return;
  pending.delete(res);
  if (res.writable) res.write(text);
}

/** Ends `res` with `last`, after what waits for it. */
function finish(res: ServerResponse, last?: string): void {
  flush(res);
  res.end(last);
}

/**
 * Writes `chunk`: while less than WRITE_AHEAD_BYTES wait unsent on `res`, at once, joined with
 * what else is written to it in this turn (one write when the turn ends: a replay is not one
 * system call per message, the same write-ahead as graphql-ws's sockets, ./server.ts), else once
 * the socket took it. False when the response is gone.
 */
function write(res: ServerResponse, chunk: string): boolean | Promise<boolean> {
  if (!res.writable) return false;
  if (res.writableLength < WRITE_AHEAD_BYTES) {
    pending.set(res, (pending.get(res) ?? '') + chunk);
    if (!flushScheduled) {
      flushScheduled = true;
      process.nextTick(flushAll);
    }
    return true;
  }
  flush(res);
  // A client that does not read for STALLED_MS is let go (it can resume from its last position):
  // graphql-sse queues a subscription's results without waiting for the consumer.
  return new Promise((resolve) => {
    const stalled = setTimeout(() => res.destroy(), STALLED_MS);
    res.write(chunk, (err) => {
      clearTimeout(stalled);
      resolve(!err);
    });
  });
}
