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
} from 'graphql';
import type { Context, EventEnvelope } from '@courses/contracts';
import { ErrorCode, inSpan, isId, SpanKind, tracerOf, type Identity, type Logger } from '@courses/platform';
import type { VariablePageCost } from '../limits.js';
import type { DocumentCache } from './documents.js';
import { inheritTrace, ResumeError, traceOfEvent, type EventHub, type SequencedEvent } from './event-hub.js';
import { decodePosition, encodePosition, positionScope, type Position } from './position.js';
import { ROUTES, type SubscriptionRoute } from './routes.js';
import { SharedExecutions } from './shared-execution.js';
import { projectResult, withFacts } from './shared-selection.js';
import { subscriptionStream } from './stream.js';
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

/**
 * One event as a subscription delivers it: the event (absent for the `current` delivery), the
 * position after it, and whether it is replayed (a resume's backlog).
 */
interface Delivery {
  event?: EventEnvelope;
  position: string;
  replayed?: boolean;
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

export function createSubscriptionEngine(opts: EngineOptions): SubscriptionEngine {
  const { hub, logger, documents } = opts;
  const shared = new SharedExecutions(() => opts.count?.execution());
  const feedWaitMs = opts.feedWaitMs ?? 10_000;

  async function subscribe(args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
    const operation = getOperationAST(args.document, args.operationName);
    const root = operation?.selectionSet.selections[0];
    if (!operation || root?.kind !== 'Field') return errorResult(ErrorCode.BAD_USER_INPUT, 'a subscription selects exactly one field');
    const route = ROUTES[root.name.value];
    if (!route) return errorResult(ErrorCode.BAD_USER_INPUT, `unknown subscription field ${root.name.value}`);
    const context = (args.contextValue ?? {}) as OperationContext;
    if (context.authError) return errorResult(context.authErrorCode ?? ErrorCode.UNAUTHENTICATED, context.authError);
    const who = context.identity;
    if (route.needsIdentity && !who)
      return errorResult(ErrorCode.UNAUTHENTICATED, 'sign in first: send a token (graphql-ws: connection_init; HTTP: Authorization)');
    const variables = (args.variableValues ?? {}) as Record<string, unknown>;
    const tooCostly = opts.pageCost?.(args.schema, args.document, variables);
    if (tooCostly) return errorResult('GRAPHQL_VALIDATION_FAILED', tooCostly);
    const argument = (name: string) => (root as FieldNode).arguments?.find((a) => a.name.value === name);
    const keyArg = route.keyArgument ? argument(route.keyArgument) : undefined;
    const key = keyArg ? (valueFromAST(keyArg.value, GraphQLID, variables) as string | null) : null;
    if (key != null && !isId(key))
      return errorResult(ErrorCode.BAD_USER_INPUT, `${route.keyArgument} must be a 24-character hexadecimal id`);
    if (route.keyRequired && key == null) return errorResult(ErrorCode.BAD_USER_INPUT, `${route.keyArgument} is required`);
    const currentArg = argument('current');
    const current = currentArg ? valueFromAST(currentArg.value, GraphQLBoolean, variables) === true : false;
    if (current && key == null) return errorResult(ErrorCode.BAD_USER_INPUT, `current needs ${route.keyArgument ?? 'an entity id'}`);

    const scope = positionScope(root.name.value, key, who ? `${who.role}:${who.sub}` : undefined);
    let resumeFrom: Position | undefined;
    if (context.lastEventId != null) {
      try {
        resumeFrom = decodePosition(context.lastEventId, scope, route.contexts.length);
      } catch (e) {
        return errorResult(ErrorCode.BAD_USER_INPUT, (e as Error).message);
      }
    }

    // Listening starts now; the events heard wait until the stream takes them (./stream.ts).
    const tap = new Tap(
      hub,
      route,
      (e) => {
        const id = route.keyOf(e);
        return !!id && (key == null || id === key) && route.mayConcern(e, who);
      },
      key,
    );
    try {
      await withDeadline(Promise.all(route.contexts.map((c) => hub.ready(c))), feedWaitMs);
      if (resumeFrom) {
        const from = resumeFrom;
        // The event a position stopped in the middle of (part ≥ 0) is read again, for its remaining parts.
        await Promise.all(route.contexts.map((c, i) => hub.cover(c, from.seqs[i] - (i === from.last && from.part >= 0 ? 1 : 0))));
      }
    } catch (e) {
      tap.stop();
      if (e instanceof ResumeError) return errorResult(e.code, e.message);
      logger.warn({ err: (e as Error).message }, 'subscription could not start');
      return errorResult(ErrorCode.SERVICE_UNAVAILABLE, 'live updates are starting; please subscribe again shortly');
    }

    const { query, canonical, canonicalText, declared, publicOnly } = documents.entityQueries(args.document, operation, route);
    const responseKey = root.alias?.value ?? root.name.value;
    // What is executed: the query in canonical words, with only the variables it declares, as
    // the subscriber, or as anyone when it selects only fields that read the same for everyone.
    const used = Object.fromEntries(declared.filter((v) => v in variables).map((v) => [v, variables[v]]));
    const runAs = publicOnly ? undefined : who;
    const shape = `${canonicalText}|${JSON.stringify(used)}|${runAs ? `${runAs.role}:${runAs.sub}` : ''}`;

    /** Last payload sent per entity id (insertion-ordered; the oldest is forgotten past 1000). */
    const lastSent = new Map<string, string>();
    /** The result for one delivery, or null when there is nothing new to send; for a traced event, in a span under its receipt. */
    const resolve = (d: Delivery): Promise<ExecutionResult | null> => {
      const parent = d.event && traceOfEvent(d.event);
      if (!parent) return resolveUntraced(d);
      const attributes = { 'graphql.subscription.field': root.name.value, 'messaging.message.id': d.event!.id };
      return inSpan(tracer, `subscription next ${root.name.value}`, { kind: SpanKind.PRODUCER, parent, attributes }, async (span) => {
        const result = await resolveUntraced(d);
        span.setAttribute('graphql.subscription.sent', result !== null);
        return result;
      });
    };
    const resolveUntraced = async ({ event, position, replayed }: Delivery): Promise<ExecutionResult | null> => {
      const entityId = event ? route.keyOf(event)! : key!;
      const facts = event && route.facts?.(event);
      const read = () => opts.execute(canonical, { ...used, [ENTITY_ID_VAR]: entityId }, runAs, undefined);
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
      // Errors name canonical paths: then the subscriber's own words are run, unshared.
      let result: ExecutionResult;
      let fingerprint: string;
      if (sharedResult.errors?.length || !sharedResult.data) {
        result = await shared.runOwn(() => opts.execute(query, { ...variables, [ENTITY_ID_VAR]: entityId }, who, args.operationName));
        if (facts && result.data) result = { ...result, data: overlay(result.data, facts) };
        fingerprint = JSON.stringify(result);
      } else {
        // Subscribers of one shared result who sent the same text get one projection.
        ({ result, fingerprint } = shared.projected(sharedResult, query, () => ({
          data: projectResult(query, sharedResult.data as Record<string, unknown>, variables),
        })));
      }
      const data = result.data as Record<string, unknown> | null | undefined;
      if (data?.[responseKey] != null) {
        if (event && lastSent.get(entityId) === fingerprint) return null;
        lastSent.delete(entityId);
        lastSent.set(entityId, fingerprint);
        if (lastSent.size > 1000) lastSent.delete(lastSent.keys().next().value!);
        opts.count?.delivery();
        return withPosition(result, position);
      }
      if (result.errors?.length)
        logger.warn({ errors: result.errors.map((e) => e.message), eventId: event?.id }, 'could not resolve subscription payload');
      return null; // the subscriber may not see this entity: nothing to send
    };

    try {
      return subscriptionStream<Delivery, ExecutionResult>({
        listen: (deliver) => tap.attach(deliver, scope, resumeFrom, current),
        bufferSize: opts.bufferSize,
        expiresAt: context.exp,
        resolve,
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

/**
 * The events of several contexts as one sequence, in the order they happened (`occurredAt`),
 * without reordering any one context's: each context's list stays in stream order, which is the
 * order its events are delivered and positions move in. (Within one stream, `occurredAt` need not
 * grow with the sequence: the dashboard's stream takes the notices of a cancellation and of its
 * refund from two consumers, in either order. Sorting them by time once lost the later-stored,
 * earlier-dated one, as already passed.)
 */
export function* mergeByTime(lists: readonly (readonly SequencedEvent[])[]): Generator<{ ci: number; s: SequencedEvent }> {
  const next = lists.map(() => 0);
  for (;;) {
    let pick = -1;
    let at = Infinity;
    lists.forEach((list, ci) => {
      if (next[ci] >= list.length) return;
      const t = Date.parse(list[next[ci]].event.occurredAt);
      if (pick < 0 || t < at) [pick, at] = [ci, t];
    });
    if (pick < 0) return;
    yield { ci: pick, s: lists[pick][next[pick]++] };
  }
}

/**
 * One subscription's hearing of its contexts: listens at once, keeps what it hears until the
 * stream attaches, then turns events into deliveries in order, each with the position after it.
 * Every context's events pass once, in stream order: an event at or before what was already
 * passed (replayed, or heard twice) is dropped.
 */
class Tap {
  private readonly contexts: Context[];
  private readonly stops: (() => void)[];
  /** Heard before the stream attached: context index, sequence, event. */
  private heard: [number, number, EventEnvelope][] = [];
  /** Sequence at which each context's feed stood when listening started (undefined: not started yet). */
  private readonly startedAt: (number | undefined)[];
  private deliver?: (d: Delivery) => void;
  private seen: number[] = [];
  private scope = '';
  /** A resumed position in the middle of an event: its context, sequence, and last part delivered. */
  private partial?: { ci: number; seq: number; part: number };
  /** Whether only the key's events are heard (see the constructor). */
  private readonly keyed: boolean;
  /** True while the replay passes (its events are older than the feeds' positions). */
  private replaying = false;

  /**
   * @param key the entity the subscription follows, if one: with a route's `keyField`, only that
   *   entity's events are heard (the position of the other contexts is then read from the hub
   *   when an event passes: every event before it there was heard or did not concern it)
   */
  constructor(
    private readonly hub: EventHub,
    private readonly route: SubscriptionRoute,
    private readonly accepts: (e: EventEnvelope) => boolean,
    private readonly key: string | null,
  ) {
    this.contexts = route.contexts;
    this.keyed = key != null && !!route.keyField;
    this.startedAt = this.contexts.map(() => undefined);
    this.stops = this.contexts.map((c, ci) => {
      const stop = hub.listen(
        c,
        (event, seq) => (this.deliver ? this.pass(ci, seq, event) : this.heard.push([ci, seq, event])),
        key != null && route.keyField ? { field: route.keyField, value: key } : undefined,
      );
      // A feed already running stands at its position; one just opened hears nothing before it starts.
      if (hub.position(c) > 0) this.startedAt[ci] = hub.position(c);
      return stop;
    });
  }

  stop(): void {
    for (const s of this.stops.splice(0)) s();
  }

  /**
   * Starts delivering to `deliver`: the replay after `from` (when resuming) or the `current`
   * delivery come back as the backlog, then what was heard meanwhile, then live events.
   */
  attach(
    deliver: (d: Delivery) => void,
    scope: string,
    from: Position | undefined,
    current: boolean,
  ): { stop(): void; backlog: Delivery[] } {
    this.scope = scope;
    const backlog: Delivery[] = [];
    const collect = (d: Delivery) => backlog.push(d);
    this.deliver = collect;
    if (from) {
      this.seen = [...from.seqs];
      if (from.part >= 0) {
        this.partial = { ci: from.last, seq: from.seqs[from.last], part: from.part };
        this.seen[from.last] -= 1;
      }
      // The replay: every context's events after its position that may concern this
      // subscription (the rest only move its position), each context's in stream order.
      const held = this.contexts.map((c, ci) => {
        const events = this.hub.since(c, this.seen[ci]);
        if (!events) throw new ResumeError('RESUME_EXPIRED', `the gateway no longer holds the ${c} events after this position; read again`);
        return events;
      });
      const last = held.map((events) => events.at(-1)?.seq ?? 0);
      const replay = held.map((events) =>
        events.filter((s) => this.route.types.includes(s.event.type) && (!this.keyed || this.mentionsKey(s.event))),
      );
      this.deliver = (d) => backlog.push({ ...d, replayed: true });
      this.replaying = true;
      for (const { ci, s } of mergeByTime(replay)) this.pass(ci, s.seq, s.event);
      this.replaying = false;
      // What was passed over without a look moves the position too.
      last.forEach((seq, ci) => (this.seen[ci] = Math.max(this.seen[ci], seq)));
      this.deliver = collect;
    } else {
      this.seen = this.contexts.map((c, ci) => this.startedAt[ci] ?? this.firstHeard(ci) ?? this.hub.position(c));
      if (current) backlog.push({ position: this.position(0, -1) });
    }
    for (const [ci, seq, event] of this.heard) this.pass(ci, seq, event);
    this.heard = [];
    this.deliver = deliver;
    return { stop: () => this.stop(), backlog };
  }

  /** Whether `event` names the key this tap hears (see the constructor), in the route's `keyField`. */
  private mentionsKey(event: EventEnvelope): boolean {
    return (event.correlation as Record<string, string | undefined>)[this.route.keyField!] === this.key;
  }

  /** The sequence before the first event heard of context `ci`, if any was heard. */
  private firstHeard(ci: number): number | undefined {
    const first = this.heard.find(([c]) => c === ci);
    return first ? first[1] - 1 : undefined;
  }

  private position(last: number, part: number): string {
    return encodePosition({ seqs: [...this.seen], last, part }, this.scope);
  }

  /** Turns the event at `seq` of context `ci` into its deliveries (none when it was passed already or is not for this subscription). */
  private pass(ci: number, seq: number, event: EventEnvelope): void {
    const partial = this.partial?.ci === ci && this.partial.seq === seq ? this.partial : undefined;
    if (seq <= this.seen[ci]) return;
    this.seen[ci] = seq;
    // Heard through the index (live): the other contexts stand where their feeds stand.
    if (this.keyed && !this.replaying)
      for (let cj = 0; cj < this.contexts.length; cj++)
        if (cj !== ci) this.seen[cj] = Math.max(this.seen[cj], this.hub.position(this.contexts[cj]));
    if (partial) this.partial = undefined;
    if (!this.route.types.includes(event.type)) return;
    const parts = this.route.expand?.(event) ?? [event];
    parts.forEach((e, i) => {
      if (partial && i <= partial.part) return;
      if (e !== event) inheritTrace(e, event);
      if (this.accepts(e)) this.deliver!({ event: e, position: this.position(ci, this.route.expand ? i : -1) });
    });
  }
}
