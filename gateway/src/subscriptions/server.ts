/**
 * GraphQL over WebSocket (graphql-ws protocol) on the gateway's `/graphql` URL. Subscriptions
 * are served by ./engine.ts (as over SSE and multipart HTTP, ./http-streams.ts); queries and
 * mutations sent over the socket run through the same Apollo pipeline as HTTP.
 *
 * Authentication: `connection_init` payload `{ "authorization": "Bearer <jwt>" }`. No token:
 * anonymous (public fields only). A bad token: the socket closes with 4403 Forbidden. When
 * the token expires, the socket closes with 4401 Unauthorized. A payload whose authorization
 * is not a string is a bad token too. An operation may also carry its own
 * `extensions.headers.Authorization` (GraphiQL sends its header editor that way): when present
 * it authenticates that operation only, a bad one fails it with UNAUTHENTICATED without closing
 * the socket, and a subscription it authenticated ends with UNAUTHENTICATED when it expires.
 *
 * Resume: a subscribe whose `extensions.lastEventId` is the `extensions.eventId` of the last
 * delivery the client saw is first given what it missed (./engine.ts).
 *
 * Back-pressure (./stream.ts): graphql-ws takes a subscription's next result only once the
 * socket has taken the previous one (its write callback; see {@link writeAhead}: at once while
 * less than 64 KiB wait unsent), so a client that stops reading holds at most that
 * much unsent in the gateway; the events behind it wait in the subscription's buffer, at most
 * `bufferSize`; past that the subscription ends with one error result (`extensions.code`
 * SUBSCRIPTION_OVERFLOW): resubscribe and refetch. Other clients are not held up: each
 * subscription has its own buffer.
 * Keep-alive: the server pings each socket every `keepAliveMs` (the sockets' turns spread over
 * the period) and drops a socket that has not answered the previous ping.
 *
 * Limits: sockets per client address (shared with the HTTP streams: ./client-caps.ts) and
 * operations per socket are capped, a browser Origin must be the gateway's own or allowed, and
 * documents pass the gateway's validation rules (depth, aliases, cost) as over HTTP.
 */
import type { Server as HttpServer } from 'node:http';
import type { GraphQLError, GraphQLSchema } from 'graphql';
import type { ServerOptions } from 'graphql-ws';
import { useServer, type Extra } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Identity, Logger } from '@courses/platform';
import { AuthError, identityFromAuthorization, whenExpired, type TokenPolicy } from '../auth.js';
import type { FieldUsage } from '../field-usage.js';
import type { TrustedDocuments } from '../trusted-documents.js';
import type { ClientCaps } from './client-caps.js';
import { graphqlCjs, type DocumentCache } from './documents.js';
import { executeForClient, type Executor, type OperationContext, type SubscriptionEngine } from './engine.js';
import { startKeepAlive } from './keepalive.js';
import { operationAuthorization, originAllowed } from './socket-auth.js';
import { beforeWrite, WRITE_AHEAD_BYTES, type Corkable } from './write-turn.js';

/**
 * Lets graphql-ws go on to the next message as soon as a send is queued, while less than
 * WRITE_AHEAD_BYTES wait unsent on `socket`, and coalesces the writes of one turn (./write-turn.ts):
 * the messages of a burst (a resumed subscription's replay) leave in one write instead of one
 * system call each. Past that, a send's callback comes when the socket has taken it, as `ws` does
 * by itself. A failed write closes the socket, which graphql-ws handles as a close.
 */
function writeAhead(socket: WebSocket): void {
  const send = socket.send.bind(socket) as (data: unknown, cb?: (err?: Error) => void) => void;
  const raw = (socket as unknown as { _socket?: Corkable })._socket;
  (socket as unknown as { send: typeof send }).send = (data, cb) => {
    if (raw) beforeWrite(raw);
    if (!cb) return send(data);
    const early = socket.bufferedAmount < WRITE_AHEAD_BYTES;
    send(data, early ? undefined : cb);
    if (early) cb();
  };
}

export interface SubscriptionServerOptions {
  httpServer: HttpServer;
  path?: string;
  /** The supergraph's API schema (undefined until loaded). */
  schema: () => GraphQLSchema | undefined;
  /** Runs queries and mutations sent over the socket. */
  execute: Executor;
  /** Serves the subscriptions. */
  engine: SubscriptionEngine;
  /** Parses and validates the documents (the gateway's limits: shared with the other transports). */
  documents: DocumentCache;
  /** Trusted documents: named by hash, and in `only` mode the only ones run (trusted-documents.ts). */
  trusted?: TrustedDocuments;
  /** Counts the schema coordinates each operation selects, once per operation (field-usage.ts). */
  usage?: FieldUsage;
  /** What a token must satisfy (see auth.ts). */
  tokens: TokenPolicy;
  logger: Logger;
  /** Ping interval, ms (default 15000). */
  keepAliveMs?: number;
  /** Connections per client address, shared with the HTTP streams; more are refused at the upgrade (HTTP 429). */
  caps: ClientCaps;
  /** Operations one socket may run at once (default 50); more fail with SUBSCRIPTION_LIMIT. */
  maxSubscriptionsPerSocket?: number;
  /**
   * Browser origins allowed to open a socket, besides the gateway's own (same host). Undefined:
   * any. A socket without an Origin header (not a browser) is not affected. Refused: HTTP 403.
   */
  allowedOrigins?: readonly string[];
}

type SocketExtra = {
  identity?: Identity;
  /** Cancels the close at the connection token's expiry. */
  expiry?: () => void;
  /** Ids of the operations this socket runs now. */
  operations?: Set<string>;
};

export interface SubscriptionServer {
  /** Open WebSocket connections. */
  readonly connections: number;
  /** Operations (subscriptions, mostly) running now on those connections. */
  readonly operations: number;
  /** Supergraph executions run for subscription events so far, on every transport (shared ones count once). */
  readonly executions: number;
  close(): Promise<void>;
}

/** graphql-ws's server options with this file's socket data. */
type Hooks = ServerOptions<Record<string, unknown>, Extra & Partial<SocketExtra>>;

/**
 * The WebSocket server on the gateway's HTTP server: refuses at the upgrade an origin not allowed
 * (403) and a client past its connection cap (429, or 503 while a shared cap cannot be counted).
 */
function webSocketServerOf({ httpServer, path, caps, logger, allowedOrigins }: SubscriptionServerOptions): WebSocketServer {
  return new WebSocketServer({
    server: httpServer,
    path: path ?? '/graphql',
    maxPayload: 1_000_000,
    // Payloads are a few hundred bytes: compressing each for each socket costs more CPU (and
    // memory per socket) than the bytes it saves.
    perMessageDeflate: false,
    verifyClient: ({ origin, req }, done) => {
      if (!originAllowed(origin, req.headers.host, allowedOrigins)) {
        logger.info({ origin }, 'websocket refused: origin not allowed');
        return done(false, 403, 'origin not allowed');
      }
      void caps.acquire(req).then(
        (admission) => {
          if ('refused' in admission) return done(false, admission.refused, admission.message);
          // The TCP socket closes with the WebSocket, and also when the upgrade fails after this.
          if (req.socket.destroyed) return (admission.release(), done(false, 400, 'gone'));
          req.socket.once('close', admission.release);
          done(true);
        },
        (err: unknown) => {
          logger.error({ err }, 'websocket refused: connection cap not counted');
          done(false, 503, 'connection caps cannot be counted now');
        },
      );
    },
  });
}

/**
 * Who is on a socket: the connection's token (connection_init; the socket closes with 4401 when
 * it expires, 4403 when it is refused), and an operation's own token, which replaces it for that
 * operation.
 */
function identityHooks({ caps, tokens, logger }: SubscriptionServerOptions): Pick<Hooks, 'onConnect' | 'context'> {
  return {
    async context(ctx, _id, payload): Promise<OperationContext> {
      const lastEventId = (payload.extensions as { lastEventId?: unknown } | undefined)?.lastEventId;
      const clientIp = caps.addressOf(ctx.extra.request);
      const own = operationAuthorization(payload.extensions);
      if (!own) return { identity: ctx.extra.identity, lastEventId, clientIp };
      try {
        const verified = await identityFromAuthorization(own, tokens);
        return { identity: verified?.identity, exp: verified?.exp, lastEventId, clientIp };
      } catch (e) {
        if (e instanceof AuthError) return { authError: e.message, authErrorCode: e.code };
        throw e;
      }
    },
    async onConnect(ctx) {
      const params = ctx.connectionParams ?? {};
      const raw = params.authorization ?? params.Authorization;
      try {
        const verified = await identityFromAuthorization(raw, tokens);
        if (verified) {
          ctx.extra.identity = verified.identity;
          ctx.extra.expiry = whenExpired(verified.exp, () => ctx.extra.socket.close(4401, 'Unauthorized: token expired'));
        }
        return true;
      } catch (e) {
        if (e instanceof AuthError) {
          logger.info({ reason: e.message }, 'websocket refused');
          return false; // 4403 Forbidden
        }
        throw e;
      }
    },
  };
}

/**
 * The operations of the sockets: a trusted document named by hash becomes its text, at most
 * `maxSubscriptionsPerSocket` run at once per socket (SUBSCRIPTION_LIMIT), each is counted in
 * `running.operations` while it runs and in the field usage once.
 */
function operationHooks(
  opts: SubscriptionServerOptions,
  running: { operations: number },
): Pick<Hooks, 'onSubscribe' | 'onOperation' | 'onComplete' | 'onClose'> {
  const maxOperations = opts.maxSubscriptionsPerSocket ?? 50;
  return {
    onSubscribe(ctx, id, payload) {
      // A trusted document named by hash becomes the payload's text, which graphql-ws parses
      // next; in `only` mode any other text is refused here, before it is parsed.
      if (opts.trusted) {
        const resolved = opts.trusted.resolve(payload);
        if ('code' in resolved) return [new graphqlCjs.GraphQLError(resolved.message, { extensions: { code: resolved.code } })];
        (payload as { query: string }).query = resolved.query;
      }
      // Counted here, not from ctx.subscriptions: operations sent together are all being
      // prepared before any of them is registered there.
      const own = (ctx.extra.operations ??= new Set());
      if (own.size >= maxOperations)
        return [
          new graphqlCjs.GraphQLError(`at most ${maxOperations} operations at once on one socket`, {
            extensions: { code: 'SUBSCRIPTION_LIMIT' },
          }),
        ];
      own.add(id);
      running.operations++;
    },
    onOperation(_ctx, _id, _payload, args) {
      opts.usage?.record(args.schema, args.document, args.operationName);
    },
    onComplete(ctx, id) {
      if (ctx.extra.operations?.delete(id)) running.operations--;
    },
    onClose(ctx) {
      ctx.extra.expiry?.();
      running.operations -= ctx.extra.operations?.size ?? 0;
      ctx.extra.operations?.clear();
    },
  };
}

/** Starts graphql-ws on `opts.httpServer` (see the module comment). */
export function startSubscriptionServer(opts: SubscriptionServerOptions): SubscriptionServer {
  const { documents, engine } = opts;
  const wss = webSocketServerOf(opts);
  /** Operations running now, across all sockets. */
  const running = { operations: 0 };

  const server = useServer<Record<string, unknown>, SocketExtra>(
    {
      schema: () => {
        const s = opts.schema();
        if (!s) throw new Error('supergraph not loaded yet');
        return s;
      },
      parse: (source) => documents.parse(source),
      validate: (schema, document) => documents.validate(schema, document) as GraphQLError[],
      ...operationHooks(opts, running),
      ...identityHooks(opts),
      // A result's errors as they are: graphql-ws calls `toJSON()` on each, which the errors of a
      // result from Apollo's pipeline (already formatted, plain objects) do not have; the message's
      // JSON.stringify calls it on those that do.
      onNext: (_ctx, _id, _payload, _args, result) => result as never,
      // graphql-ws's types name graphql's ESM build; the engine runs on its CommonJS realm with
      // Apollo (graphqlCjs) and yields Apollo's formatted results: the same shapes, other type identities.
      subscribe: (args) => engine.subscribe(args) as never,
      execute: (args) => executeForClient(opts.execute, args) as never,
    },
    wss,
    // No keep-alive of graphql-ws's own (a timer per socket, all of one burst's sockets pinged
    // together): the spread-out pings below do it.
    0,
  );

  wss.on('connection', (socket) => writeAhead(socket));
  const stopKeepAlive = startKeepAlive(wss, opts.keepAliveMs ?? 15_000);

  return {
    get executions() {
      return engine.executions;
    },
    get connections() {
      return wss.clients.size;
    },
    get operations() {
      return running.operations;
    },
    async close() {
      stopKeepAlive();
      await server.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
