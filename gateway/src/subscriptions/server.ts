/**
 * GraphQL over WebSocket (graphql-ws protocol) on the gateway's `/graphql` URL.
 *
 * `@apollo/gateway` cannot execute subscription query plans, so the gateway serves the
 * Subscription fields itself: a domain event names an entity (see ./routes.ts), and the
 * gateway fetches the fields the client selected with a query through the supergraph,
 * as the subscriber (see ./to-entity-query.ts). Queries and mutations sent over the socket
 * run through the same Apollo pipeline as HTTP.
 *
 * Authentication: `connection_init` payload `{ "authorization": "Bearer <jwt>" }`. No token:
 * anonymous (public fields only). A bad token: the socket closes with 4403 Forbidden. When
 * the token expires, the socket closes with 4401 Unauthorized. A payload whose authorization
 * is not a string is a bad token too. An operation may also carry its own
 * `extensions.headers.Authorization` (GraphiQL sends its header editor that way): when present
 * it authenticates that operation only, a bad one fails it with UNAUTHENTICATED without closing
 * the socket, and a subscription it authenticated ends with UNAUTHENTICATED when it expires.
 *
 * Only changes are sent: a payload identical to the last one this subscription sent for the
 * same entity (two events that leave the selected fields as they were) is skipped.
 *
 * Coalescing: subscribers whose selection, variables and identity are the same (say, every
 * anonymous client watching one lecture) share one supergraph query per event, whatever their
 * aliases and operation names (./shared-selection.ts: each gets the shared result under its own
 * aliases); a selection of only public fields (SubscriptionRoute.publicFields) is shared across
 * identities too (./shared-execution.ts). Results are kept SHARE_MS (2 s) for subscribers that
 * ask a little later. Documents are parsed and validated once per text (./documents.ts).
 *
 * Back-pressure (./stream.ts): graphql-ws takes a subscription's next result only once the
 * socket has taken the previous one (its write callback), so a client that stops reading holds
 * at most one unsent message per subscription in the gateway; the events behind it wait in the
 * subscription's buffer, at most `bufferSize`; past that the subscription ends with one error
 * result (`extensions.code` SUBSCRIPTION_OVERFLOW): resubscribe and refetch. Other clients are
 * not held up: each subscription has its own buffer.
 * Keep-alive: the server pings each socket every `keepAliveMs` (the sockets' turns spread over
 * the period) and drops a socket that has not answered the previous ping.
 *
 * Limits: sockets per client address and operations per socket are capped, a browser Origin
 * must be the gateway's own or allowed, and documents pass the gateway's validation rules
 * (depth, aliases, cost) as over HTTP.
 */
import type { Server as HttpServer } from 'node:http';
import {
  getOperationAST,
  GraphQLError,
  GraphQLID,
  valueFromAST,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FieldNode,
  type GraphQLSchema,
  type ValidationRule,
} from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { EventEnvelope } from '@courses/contracts';
import { ErrorCode, inSpan, isId, SpanKind, tracerOf, type Identity, type Logger } from '@courses/platform';
import { AuthError, identityFromAuthorization, whenExpired, type TokenPolicy } from '../auth.js';
import { DocumentCache, graphqlCjs } from './documents.js';
import { inheritTrace, traceOfEvent, type EventHub } from './event-hub.js';
import { startKeepAlive } from './keepalive.js';
import { ROUTES } from './routes.js';
import { SharedExecutions } from './shared-execution.js';
import { projectResult } from './shared-selection.js';
import { operationAuthorization, originAllowed } from './socket-auth.js';
import { subscriptionStream } from './stream.js';
import { ENTITY_ID_VAR } from './to-entity-query.js';

const tracer = tracerOf('gateway');

/** Runs an operation through the gateway as `identity`. */
export type Executor = (
  document: DocumentNode,
  variables: Record<string, unknown>,
  identity: Identity | undefined,
  operationName?: string | null,
) => Promise<ExecutionResult>;

export interface SubscriptionServerOptions {
  httpServer: HttpServer;
  path?: string;
  /** The supergraph's API schema (undefined until loaded). */
  schema: () => GraphQLSchema | undefined;
  execute: Executor;
  hub: EventHub;
  /** What a token must satisfy (see auth.ts). */
  tokens: TokenPolicy;
  logger: Logger;
  /** Events buffered per subscription (default 256). */
  bufferSize?: number;
  /** Ping interval, ms (default 15000). */
  keepAliveMs?: number;
  /** Open sockets one client address may hold (default 20); more are refused at the upgrade (HTTP 429). */
  maxSocketsPerClient?: number;
  /** Operations one socket may run at once (default 50); more fail with SUBSCRIPTION_LIMIT. */
  maxSubscriptionsPerSocket?: number;
  /**
   * Browser origins allowed to open a socket, besides the gateway's own (same host). Undefined:
   * any. A socket without an Origin header (not a browser) is not affected. Refused: HTTP 403.
   */
  allowedOrigins?: readonly string[];
  /** Validation rules on top of GraphQL's own for the documents sent over the socket (the gateway's limits). */
  validationRules?: readonly ValidationRule[];
  /** Called once per supergraph execution, payload sent, and subscription ended by overflow (for metrics). */
  count?: { execution(): void; delivery(): void; overflow(): void };
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
  /** Supergraph executions run for subscription events so far (shared ones count once). */
  readonly executions: number;
  close(): Promise<void>;
}

/**
 * The per-operation context: the caller, or why the operation's own token was refused, and
 * when that operation's own token expires (epoch seconds).
 */
interface OperationContext {
  identity?: Identity;
  authError?: string;
  exp?: number;
}

const err = (code: string, message: string) => ({ errors: [new GraphQLError(message, { extensions: { code } })] });

export function startSubscriptionServer(opts: SubscriptionServerOptions): SubscriptionServer {
  const { hub, logger } = opts;
  const bufferSize = opts.bufferSize ?? 256;
  const maxSockets = opts.maxSocketsPerClient ?? 20;
  const maxOperations = opts.maxSubscriptionsPerSocket ?? 50;
  /** Open sockets by client address. */
  const socketsOf = new Map<string, number>();
  const wss = new WebSocketServer({
    server: opts.httpServer,
    path: opts.path ?? '/graphql',
    maxPayload: 1_000_000,
    // Payloads are a few hundred bytes: compressing each for each socket costs more CPU (and
    // memory per socket) than the bytes it saves.
    perMessageDeflate: false,
    verifyClient: ({ origin, req }, done) => {
      if (!originAllowed(origin, req.headers.host, opts.allowedOrigins)) {
        logger.info({ origin }, 'websocket refused: origin not allowed');
        return done(false, 403, 'origin not allowed');
      }
      if ((socketsOf.get(req.socket.remoteAddress ?? '') ?? 0) >= maxSockets)
        return done(false, 429, `at most ${maxSockets} sockets per client`);
      done(true);
    },
  });
  const shared = new SharedExecutions(() => opts.count?.execution());
  /** Operations running now, across all sockets. */
  let operations = 0;
  const documents = new DocumentCache(opts.validationRules ?? []);

  function subscribe(args: ExecutionArgs): AsyncIterableIterator<ExecutionResult> | ExecutionResult {
    const operation = getOperationAST(args.document, args.operationName);
    const root = operation?.selectionSet.selections[0];
    if (!operation || root?.kind !== 'Field') return err(ErrorCode.BAD_USER_INPUT, 'a subscription selects exactly one field');
    const route = ROUTES[root.name.value];
    if (!route) return err(ErrorCode.BAD_USER_INPUT, `unknown subscription field ${root.name.value}`);
    const context = args.contextValue as OperationContext;
    if (context.authError) return err(ErrorCode.UNAUTHENTICATED, context.authError);
    const who = context.identity;
    if (route.needsIdentity && !who)
      return err(ErrorCode.UNAUTHENTICATED, 'sign in first: send { authorization: "Bearer <JWT>" } in connection_init');
    const keyArg = (root as FieldNode).arguments?.find((a) => a.name.value === route.keyArgument);
    const key = keyArg ? (valueFromAST(keyArg.value, GraphQLID, args.variableValues as Record<string, unknown>) as string | null) : null;
    if (key != null && !isId(key)) return err(ErrorCode.BAD_USER_INPUT, `${route.keyArgument} must be a 24-character hexadecimal id`);
    if (route.keyRequired && key == null) return err(ErrorCode.BAD_USER_INPUT, `${route.keyArgument} is required`);

    const { query, canonical, canonicalText, declared, publicOnly } = documents.entityQueries(args.document, operation, route);
    const responseKey = root.alias?.value ?? root.name.value;
    const variables = (args.variableValues ?? {}) as Record<string, unknown>;
    // What is executed: the query in canonical words, with only the variables it declares, as
    // the subscriber, or as anyone when it selects only fields that read the same for everyone.
    const used = Object.fromEntries(declared.filter((v) => v in variables).map((v) => [v, variables[v]]));
    const runAs = publicOnly ? undefined : who;
    const shape = `${canonicalText}|${JSON.stringify(used)}|${runAs ? `${runAs.role}:${runAs.sub}` : ''}`;

    /** Last payload sent per entity id (insertion-ordered; the oldest is forgotten past 1000). */
    const lastSent = new Map<string, string>();
    /**
     * The result for one event, or null when there is nothing new to send; for a traced event,
     * in a span `subscription next <field>` under the gateway's receipt of it.
     */
    const resolve = (event: EventEnvelope): Promise<ExecutionResult | null> => {
      const parent = traceOfEvent(event);
      if (!parent) return resolveUntraced(event);
      const attributes = { 'graphql.subscription.field': root.name.value, 'messaging.message.id': event.id };
      return inSpan(tracer, `subscription next ${root.name.value}`, { kind: SpanKind.PRODUCER, parent, attributes }, async (span) => {
        const result = await resolveUntraced(event);
        span.setAttribute('graphql.subscription.sent', result !== null);
        return result;
      });
    };
    const resolveUntraced = async (event: EventEnvelope): Promise<ExecutionResult | null> => {
      const entityId = route.keyOf(event)!;
      const sharedResult = await shared.run(`${event.id}|${shape}`, () =>
        opts.execute(canonical, { ...used, [ENTITY_ID_VAR]: entityId }, runAs, undefined),
      );
      // Errors name canonical paths: then the subscriber's own words are run, unshared.
      let result: ExecutionResult;
      let fingerprint: string;
      if (sharedResult.errors?.length || !sharedResult.data) {
        result = await shared.runOwn(() => opts.execute(query, { ...variables, [ENTITY_ID_VAR]: entityId }, who, args.operationName));
        fingerprint = JSON.stringify(result);
      } else {
        // Subscribers of one shared result who sent the same text get one projection.
        ({ result, fingerprint } = shared.projected(sharedResult, query, () => ({
          data: projectResult(query, sharedResult.data as Record<string, unknown>, variables),
        })));
      }
      const data = result.data as Record<string, unknown> | null | undefined;
      if (data?.[responseKey] != null) {
        if (lastSent.get(entityId) === fingerprint) return null;
        lastSent.delete(entityId);
        lastSent.set(entityId, fingerprint);
        if (lastSent.size > 1000) lastSent.delete(lastSent.keys().next().value!);
        opts.count?.delivery();
        return result;
      }
      if (result.errors?.length)
        logger.warn({ errors: result.errors.map((e) => e.message), eventId: event.id }, 'could not resolve subscription payload');
      return null; // the subscriber may not see this entity: nothing to send
    };
    return subscriptionStream<EventEnvelope, ExecutionResult>({
      listen: (deliver) => {
        const stops = route.contexts.map((c) =>
          hub.listen(c, (event) => {
            if (!route.types.includes(event.type)) return;
            for (const e of route.expand?.(event) ?? [event]) {
              if (e !== event) inheritTrace(e, event);
              const id = route.keyOf(e);
              if (id && (key == null || id === key) && route.mayConcern(e, who)) deliver(e);
            }
          }),
        );
        return () => stops.forEach((stop) => stop());
      },
      bufferSize,
      expiresAt: context.exp,
      resolve,
      ended: (code, message) => err(code, message),
      onOverflow: () => opts.count?.overflow(),
    });
  }

  const server = useServer<Record<string, unknown>, SocketExtra>(
    {
      schema: () => {
        const s = opts.schema();
        if (!s) throw new Error('supergraph not loaded yet');
        return s;
      },
      parse: (source) => documents.parse(source),
      validate: (schema, document) => documents.validate(schema, document) as GraphQLError[],
      onSubscribe(ctx, id) {
        // Counted here, not from ctx.subscriptions: operations sent together are all being
        // prepared before any of them is registered there.
        const running = (ctx.extra.operations ??= new Set());
        if (running.size >= maxOperations)
          return [
            new graphqlCjs.GraphQLError(`at most ${maxOperations} operations at once on one socket`, {
              extensions: { code: 'SUBSCRIPTION_LIMIT' },
            }),
          ];
        running.add(id);
        operations++;
      },
      onComplete(ctx, id) {
        if (ctx.extra.operations?.delete(id)) operations--;
      },
      async context(ctx, _id, payload): Promise<OperationContext> {
        const own = operationAuthorization(payload.extensions);
        if (!own) return { identity: ctx.extra.identity };
        try {
          const verified = await identityFromAuthorization(own, opts.tokens);
          return { identity: verified?.identity, exp: verified?.exp };
        } catch (e) {
          if (e instanceof AuthError) return { authError: e.message };
          throw e;
        }
      },
      async onConnect(ctx) {
        const params = ctx.connectionParams ?? {};
        const raw = params.authorization ?? params.Authorization;
        try {
          const verified = await identityFromAuthorization(raw, opts.tokens);
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
      onClose(ctx) {
        ctx.extra.expiry?.();
        operations -= ctx.extra.operations?.size ?? 0;
        ctx.extra.operations?.clear();
      },
      subscribe: (args) => subscribe(args) as never,
      execute: (args) => {
        const context = args.contextValue as OperationContext;
        if (context.authError) return err(ErrorCode.UNAUTHENTICATED, context.authError) as never;
        return opts.execute(args.document, (args.variableValues ?? {}) as Record<string, unknown>, context.identity, args.operationName);
      },
    },
    wss,
    // No keep-alive of graphql-ws's own (a timer per socket, all of one burst's sockets pinged
    // together): the spread-out pings below do it.
    0,
  );

  wss.on('connection', (socket, req) => {
    const address = req.socket.remoteAddress ?? '';
    socketsOf.set(address, (socketsOf.get(address) ?? 0) + 1);
    socket.once('close', () => {
      const n = (socketsOf.get(address) ?? 1) - 1;
      if (n > 0) socketsOf.set(address, n);
      else socketsOf.delete(address);
    });
  });
  const stopKeepAlive = startKeepAlive(wss, opts.keepAliveMs ?? 15_000);

  return {
    get executions() {
      return shared.executions;
    },
    get connections() {
      return wss.clients.size;
    },
    get operations() {
      return operations;
    },
    async close() {
      stopKeepAlive();
      await server.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
