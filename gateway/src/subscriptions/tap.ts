/**
 * One subscription's hearing of its contexts (./engine.ts): it listens to the event hub at once,
 * keeps what it hears until the subscription's stream attaches, replays a resume's backlog, and
 * turns each event into deliveries in order, each with the position after it (./position.ts).
 */
import type { Context, EventEnvelope } from '@courses/contracts';
import { inheritTrace, ResumeError, type EventHub, type SequencedEvent } from './event-hub.js';
import { encodePosition, type Position } from './position.js';
import type { SubscriptionRoute } from './routes.js';

/**
 * One event as a subscription delivers it: the event (absent for the `current` delivery), the
 * position after it, and whether it is replayed (a resume's backlog).
 */
export interface Delivery {
  event?: EventEnvelope;
  position: string;
  replayed?: boolean;
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
export class Tap {
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
