/**
 * The gateway's Subscription fields, whatever the transport (graphql-ws, Server-Sent Events,
 * multipart HTTP: ./server.ts, ./http-streams.ts).
 *
 * `@apollo/gateway` cannot execute subscription query plans, so the gateway serves the
 * Subscription fields itself: a domain event names an entity (./routes.ts), and the gateway
 * fetches the fields the client selected with a query through the supergraph, as the
 * subscriber (./to-entity-query.ts). What the event itself says about the entity (its status,
 * count, reason: SubscriptionRoute.facts) is laid over that read, so each delivery reports its
 * own event, in the events' order.
 *
 * Positions and resume (./position.ts): every delivery's `extensions.eventId` is the
 * subscription's position after it. A subscribe that brings one back (`lastEventId`) is first
 * given, in order, every event of that subscription after it (from the feeds' window or the
 * streams: ./event-hub.ts), resolved as the subscriber, then the live ones, with no gap and no
 * repeat: the replay and the live listening are taken in one synchronous step, and every
 * context's events pass once, in stream order. `current: true` first delivers the entity as it
 * is now.
 *
 * Only changes are sent: a payload identical to the last one this subscription sent for the
 * same entity is skipped (its position is carried by the next delivery).
 *
 * Coalescing: subscribers whose selection, variables and identity are the same (say, every
 * anonymous client watching one lecture) share one supergraph query per event, whatever their
 * aliases and operation names (./shared-selection.ts: each gets the shared result under its own
 * aliases); a selection of only public fields (SubscriptionRoute.publicFields) is shared across
 * identities too (./shared-execution.ts).
 */
import {
  getOperationAST,
  GraphQLBoolean,
  GraphQLError,
  GraphQLID,
  valueFromAST,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FieldNode,
  type OperationDefinitionNode,
} from 'graphql';
import type { EventEnvelope } from '@courses/contracts';
import { ErrorCode, inSpan, isId, SpanKind, tracerOf, type Identity, type Logger } from '@courses/platform';
import type { VariablePageCost } from '../limits.js';
import type { DocumentCache } from './documents.js';
import { ResumeError, traceOfEvent, type EventHub } from './event-hub.js';
import { decodePosition, positionScope, type Position } from './position.js';
import { ROUTES, type SubscriptionRoute } from './routes.js';
import { SharedExecutions } from './shared-execution.js';
import { projectResult, withFacts } from './shared-selection.js';
import { subscriptionStream } from './stream.js';
import { Tap, type Delivery } from './tap.js';
import { ENTITY_ID_VAR } from './to-entity-query.js';

const tracer = tracerOf('gateway');

/**
 * Runs an operation through the gateway as `identity`. `client` is given for an operation a client
 * sent (a query or mutation over a subscription transport: counted against that caller's rate
 * limits, anonymous ones by `client.ip`); without it the operation is one the gateway runs itself
 * for an event, counted against nobody.
 */
export type Executor = (
  document: DocumentNode,
  variables: Record<string, unknown>,
  identity: Identity | undefined,
  operationName?: string | null,
  client?: { ip: string },
) => Promise<ExecutionResult>;

/**
 * Runs a query or mutation a client sent over a subscription transport (`args.contextValue` is
 * its {@link OperationContext}): refused as that context says when its token was, else counted
 * against that client (its identity, or its address when anonymous).
 */
export function executeForClient(execute: Executor, args: ExecutionArgs): Promise<ExecutionResult> | ExecutionResult {
  const context = args.contextValue as OperationContext;
  if (context.authError) return errorResult(context.authErrorCode ?? 'UNAUTHENTICATED', context.authError);
  const variables = (args.variableValues ?? {}) as Record<string, unknown>;
  return execute(args.document, variables, context.identity, args.operationName, { ip: context.clientIp ?? '' });
}

/**
 * The per-operation context every transport builds: the caller, or why the operation's own
 * token was refused, when that token expires (epoch seconds), and the position to resume from.
 */
export interface OperationContext {
  identity?: Identity;
  authError?: string;
  /** The code `authError` is answered with (default UNAUTHENTICATED). */
  authErrorCode?: 'UNAUTHENTICATED' | 'FORBIDDEN' | 'SERVICE_UNAVAILABLE';
  exp?: number;
  /** The position the client last saw (graphql-ws and multipart: `extensions.lastEventId`; SSE: `Last-Event-ID`). */
  lastEventId?: unknown;
  /** The client's address (../client-address.ts), for the rate limits of anonymous callers. */
  clientIp?: string;
}

export interface EngineOptions {
  execute: Executor;
  hub: EventHub;
  documents: DocumentCache;
  logger: Logger;
  /** Events buffered per subscription (count). */
  bufferSize: number;
  /** How long (ms) a subscribe waits for the event feeds to start before SERVICE_UNAVAILABLE (default 10000). */
  feedWaitMs?: number;
  /** Called once per supergraph execution, payload sent, and subscription ended by overflow (for metrics). */
  count?: { execution(): void; delivery(): void; overflow(): void };
  /** The cost limit with the subscriber's page-size variables (../limits.ts): its refusal, if any. */
  pageCost?: VariablePageCost;
}

/** A result with a message for the client and a stable code. */
export const errorResult = (code: string, message: string): ExecutionResult => ({
  errors: [new GraphQLError(message, { extensions: { code } })],
});

/** The subscribe function every transport calls, and the executions it has run. */
export interface SubscriptionEngine {
  /**
   * The results of the subscription `args` (whose `contextValue` is an {@link OperationContext}),
   * or one result with an error (BAD_USER_INPUT, UNAUTHENTICATED, RESUME_EXPIRED,
   * SERVICE_UNAVAILABLE) when it cannot run.
   */
  subscribe(args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult>;
  /** Supergraph executions run for subscription events so far (shared ones count once). */
  readonly executions: number;
}

/** A subscribe that passed its checks: what it follows, as whom, and from where. */
interface Request {
  args: ExecutionArgs;
  operation: OperationDefinitionNode;
  root: FieldNode;
  route: SubscriptionRoute;
  context: OperationContext;
  who: Identity | undefined;
  variables: Record<string, unknown>;
  /** The entity followed (the route's key argument), or null for all the caller may see. */
  key: string | null;
  /** Whether the entity as it is now is delivered first (`current: true`). */
  current: boolean;
  /** What a position of this subscription is bound to (./position.ts). */
  scope: string;
  /** The position to resume after, when the client brought one. */
  resumeFrom?: Position;
}

/**
 * Checks a subscribe: one known field, a caller when the route needs one, the page cost, the key
 * and `current` arguments, and the resume position.
 * @returns the request, or the error result to answer with (BAD_USER_INPUT, UNAUTHENTICATED,
 *   GRAPHQL_VALIDATION_FAILED).
 */
function requestOf(args: ExecutionArgs, pageCost: VariablePageCost | undefined): Request | { refused: ExecutionResult } {
  const refuse = (code: string, message: string) => ({ refused: errorResult(code, message) });
  const operation = getOperationAST(args.document, args.operationName);
  const root = operation?.selectionSet.selections[0];
  if (!operation || root?.kind !== 'Field') return refuse(ErrorCode.BAD_USER_INPUT, 'a subscription selects exactly one field');
  const route = ROUTES[root.name.value];
  if (!route) return refuse(ErrorCode.BAD_USER_INPUT, `unknown subscription field ${root.name.value}`);
  const context = (args.contextValue ?? {}) as OperationContext;
  if (context.authError) return refuse(context.authErrorCode ?? ErrorCode.UNAUTHENTICATED, context.authError);
  const who = context.identity;
  if (route.needsIdentity && !who)
    return refuse(ErrorCode.UNAUTHENTICATED, 'sign in first: send a token (graphql-ws: connection_init; HTTP: Authorization)');
  const variables = (args.variableValues ?? {}) as Record<string, unknown>;
  const tooCostly = pageCost?.(args.schema, args.document, variables);
  if (tooCostly) return refuse('GRAPHQL_VALIDATION_FAILED', tooCostly);
  const argument = (name: string) => root.arguments?.find((a) => a.name.value === name);
  const keyArg = route.keyArgument ? argument(route.keyArgument) : undefined;
  const key = keyArg ? (valueFromAST(keyArg.value, GraphQLID, variables) as string | null) : null;
  if (key != null && !isId(key)) return refuse(ErrorCode.BAD_USER_INPUT, `${route.keyArgument} must be a 24-character hexadecimal id`);
  if (route.keyRequired && key == null) return refuse(ErrorCode.BAD_USER_INPUT, `${route.keyArgument} is required`);
  const currentArg = argument('current');
  const current = currentArg ? valueFromAST(currentArg.value, GraphQLBoolean, variables) === true : false;
  if (current && key == null) return refuse(ErrorCode.BAD_USER_INPUT, `current needs ${route.keyArgument ?? 'an entity id'}`);
  const scope = positionScope(root.name.value, key, who ? `${who.role}:${who.sub}` : undefined);
  let resumeFrom: Position | undefined;
  if (context.lastEventId != null) {
    try {
      resumeFrom = decodePosition(context.lastEventId, scope, route.contexts.length);
    } catch (e) {
      return refuse(ErrorCode.BAD_USER_INPUT, (e as Error).message);
    }
  }
  return { args, operation, root, route, context, who, variables, key, current, scope, resumeFrom };
}

/**
 * Turns one subscription's deliveries into results: reads the entity through the supergraph
 * (shared with every subscriber of the same shape), lays the event's facts over it, projects it
 * into the subscriber's own words, and skips a payload identical to the last one sent.
 */
class Deliveries {
  /** The subscriber's own entity query (its aliases), run unshared when the shared one errs. */
  private readonly query: DocumentNode;
  /** The same query in canonical words, shared by every subscriber of the same shape. */
  private readonly canonical: DocumentNode;
  /** The variables the canonical query declares, from the subscriber's. */
  private readonly used: Record<string, unknown>;
  /** Who the canonical query runs as: the subscriber, or anyone when it selects only public fields. */
  private readonly runAs: Identity | undefined;
  /** The sharing key: canonical text, variables, identity. */
  private readonly shape: string;
  private readonly responseKey: string;
  /** Last payload sent per entity id (insertion-ordered; the oldest is forgotten past 1000). */
  private readonly lastSent = new Map<string, string>();

  constructor(
    private readonly request: Request,
    documents: DocumentCache,
    private readonly shared: SharedExecutions,
    private readonly opts: EngineOptions,
  ) {
    const { args, operation, route, root, variables, who } = request;
    const { query, canonical, canonicalText, declared, publicOnly } = documents.entityQueries(args.document, operation, route);
    this.query = query;
    this.canonical = canonical;
    this.responseKey = root.alias?.value ?? root.name.value;
    // What is executed: the query in canonical words, with only the variables it declares, as
    // the subscriber, or as anyone when it selects only fields that read the same for everyone.
    this.used = Object.fromEntries(declared.filter((v) => v in variables).map((v) => [v, variables[v]]));
    this.runAs = publicOnly ? undefined : who;
    this.shape = `${canonicalText}|${JSON.stringify(this.used)}|${this.runAs ? `${this.runAs.role}:${this.runAs.sub}` : ''}`;
  }

  /** The result for one delivery, or null when there is nothing new to send; for a traced event, in a span under its receipt. */
  resolve(d: Delivery): Promise<ExecutionResult | null> {
    const parent = d.event && traceOfEvent(d.event);
    if (!parent) return this.resolveUntraced(d);
    const field = this.request.root.name.value;
    const attributes = { 'graphql.subscription.field': field, 'messaging.message.id': d.event!.id };
    return inSpan(tracer, `subscription next ${field}`, { kind: SpanKind.PRODUCER, parent, attributes }, async (span) => {
      const result = await this.resolveUntraced(d);
      span.setAttribute('graphql.subscription.sent', result !== null);
      return result;
    });
  }

  private async resolveUntraced({ event, position, replayed }: Delivery): Promise<ExecutionResult | null> {
    const entityId = event ? this.request.route.keyOf(event)! : this.request.key!;
    const { result, fingerprint } = await this.read(entityId, event, replayed);
    const data = result.data as Record<string, unknown> | null | undefined;
    if (data?.[this.responseKey] != null) {
      if (event && this.lastSent.get(entityId) === fingerprint) return null;
      this.lastSent.delete(entityId);
      this.lastSent.set(entityId, fingerprint);
      if (this.lastSent.size > 1000) this.lastSent.delete(this.lastSent.keys().next().value!);
      this.opts.count?.delivery();
      return withPosition(result, position);
    }
    if (result.errors?.length)
      this.opts.logger.warn({ errors: result.errors.map((e) => e.message), eventId: event?.id }, 'could not resolve subscription payload');
    return null; // the subscriber may not see this entity: nothing to send
  }

  /** The entity `entityId` for this subscriber after `event` (none: as it is now), and the fingerprint of that result. */
  private async read(entityId: string, event: EventEnvelope | undefined, replayed: boolean | undefined) {
    const { shared, shape, opts } = this;
    const { variables, who, args } = this.request;
    const facts = event && this.request.route.facts?.(event);
    const read = () => opts.execute(this.canonical, { ...this.used, [ENTITY_ID_VAR]: entityId }, this.runAs, undefined);
    // A live event says the entity just changed: read it for that event. A replayed one reads
    // what is now, the same for every event of a replay: one read per entity and shape serves
    // every replayed event (and every client resuming) within the sharing window.
    const sharedResult = await (event
      ? shared.run(
          `${event.id}|${shape}`,
          async () => {
            const r = await (replayed ? shared.run(`replay|${entityId}|${shape}`, read) : shared.runOwn(read));
            return facts && r.data ? { ...r, data: overlay(r.data, facts) } : r;
          },
          false,
        )
      : shared.runOwn(read));
    if (sharedResult.errors?.length || !sharedResult.data) {
      // Errors name canonical paths: then the subscriber's own words are run, unshared.
      let result = await shared.runOwn(() =>
        opts.execute(this.query, { ...variables, [ENTITY_ID_VAR]: entityId }, who, args.operationName),
      );
      if (facts && result.data) result = { ...result, data: overlay(result.data, facts) };
      return { result, fingerprint: JSON.stringify(result) };
    }
    // Subscribers of one shared result who sent the same text get one projection.
    return shared.projected(sharedResult, this.query, () => ({
      data: projectResult(this.query, sharedResult.data as Record<string, unknown>, variables),
    }));
  }
}

/** The subscription engine over `opts.hub`, executing through `opts.execute`. */
export function createSubscriptionEngine(opts: EngineOptions): SubscriptionEngine {
  const { hub, logger, documents } = opts;
  const shared = new SharedExecutions(() => opts.count?.execution());
  const feedWaitMs = opts.feedWaitMs ?? 10_000;

  /** Waits for the route's feeds (and, when resuming, for the hub to hold the events after the position): undefined, or the refusal. */
  async function feedsReady({ route, resumeFrom }: Request): Promise<ExecutionResult | undefined> {
    try {
      await withDeadline(Promise.all(route.contexts.map((c) => hub.ready(c))), feedWaitMs);
      if (resumeFrom) {
        const from = resumeFrom;
        // The event a position stopped in the middle of (part ≥ 0) is read again, for its remaining parts.
        await Promise.all(route.contexts.map((c, i) => hub.cover(c, from.seqs[i] - (i === from.last && from.part >= 0 ? 1 : 0))));
      }
      return undefined;
    } catch (e) {
      if (e instanceof ResumeError) return errorResult(e.code, e.message);
      logger.warn({ err: (e as Error).message }, 'subscription could not start');
      return errorResult(ErrorCode.SERVICE_UNAVAILABLE, 'live updates are starting; please subscribe again shortly');
    }
  }

  async function subscribe(args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
    const request = requestOf(args, opts.pageCost);
    if ('refused' in request) return request.refused;
    const { route, key, who, scope, resumeFrom, current, context } = request;
    // Listening starts now; the events heard wait until the stream takes them (./stream.ts).
    const accepts = (e: EventEnvelope) => {
      const id = route.keyOf(e);
      return !!id && (key == null || id === key) && route.mayConcern(e, who);
    };
    const tap = new Tap(hub, route, accepts, key);
    const refused = await feedsReady(request);
    if (refused) {
      tap.stop();
      return refused;
    }
    const deliveries = new Deliveries(request, documents, shared, opts);
    try {
      return subscriptionStream<Delivery, ExecutionResult>({
        listen: (deliver) => tap.attach(deliver, scope, resumeFrom, current),
        bufferSize: opts.bufferSize,
        expiresAt: context.exp,
        resolve: (d) => deliveries.resolve(d),
        ended: (code, message) => errorResult(code, message),
        onOverflow: () => opts.count?.overflow(),
      });
    } catch (e) {
      tap.stop();
      if (e instanceof ResumeError) return errorResult(e.code, e.message);
      throw e;
    }
  }

  return {
    subscribe,
    get executions() {
      return shared.executions;
    },
  };
}

/** Results with their positions, per projected result: subscribers of one lecture share both. */
const positioned = new WeakMap<ExecutionResult, Map<string, ExecutionResult>>();

/** `result` with `extensions.eventId` = `position` (one object per result and position). */
function withPosition(result: ExecutionResult, position: string): ExecutionResult {
  let byPosition = positioned.get(result);
  if (!byPosition) positioned.set(result, (byPosition = new Map()));
  let out = byPosition.get(position);
  if (!out) byPosition.set(position, (out = { ...result, extensions: { ...result.extensions, eventId: position } }));
  return out;
}

/** `data` (an entity query's, one root field) with `facts` laid over its entity. */
function overlay(data: Record<string, unknown>, facts: NonNullable<ReturnType<NonNullable<SubscriptionRoute['facts']>>>) {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data)) out[k] = withFacts(v, facts);
  return out;
}

function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`event feeds not started within ${ms} ms`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}
