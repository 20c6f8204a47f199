/**
 * Fan-out of domain events to the gateway's subscribers, with each event's stream position and
 * a window of recent events to resume from.
 *
 * One feed per context (`registration`, `payment`, `lecture`, `dashboard`) per gateway process,
 * shared by every client, opened with its first listener and closed with its last: the bus
 * follows the context's stream (`Bus.follow`; on NATS a JetStream ordered consumer: ephemeral,
 * in memory, no acks, re-created from the last sequence it saw after a NATS restart, so a restart
 * loses nothing), starting after the stream's last message when the feed opens. Every gateway replica has its own feeds
 * and sees every event.
 *
 * Each event comes with its stream sequence (JetStream's per-stream order, the position a
 * client resumes from). A feed keeps its events since it opened, at most `replayMax` of them
 * (oldest forgotten first), so that a client resuming from a position in that window is served
 * from memory. {@link EventHub.cover} extends the window back to an older position by reading
 * the stream (one read per feed at a time, shared by every client that asks meanwhile): what a
 * restarted gateway does for the clients that come back to it.
 *
 * A traced event (W3C `traceparent` in its message headers) is received in a consumer span
 * `process <subject>`; {@link traceOfEvent} hands that span's context to the subscription
 * deliveries the event causes, so they join the trace of the change that raised it.
 */
import { parseEvent, type Context, type EventEnvelope } from '@courses/contracts';
import {
  extractTrace,
  SpanKind,
  startRecordedSpan,
  tracerOf,
  type Bus,
  type Following,
  type Logger,
  type StreamRecord,
  type TraceContext,
} from '@courses/platform';

/** Hears one event of a context and its stream sequence. */
export type EventListener = (event: EventEnvelope, seq: number) => void;

/** An event as a feed keeps it. */
export interface SequencedEvent {
  seq: number;
  event: EventEnvelope;
}

/** Why a position cannot be resumed from: `code` RESUME_EXPIRED (read again) or BAD_USER_INPUT (not a position of this stream). */
export class ResumeError extends Error {
  constructor(
    readonly code: 'RESUME_EXPIRED' | 'BAD_USER_INPUT',
    message: string,
  ) {
    super(message);
  }
}

/** Events a feed keeps for resuming (count), by default. */
export const REPLAY_MAX = 10_000;

const tracer = tracerOf('gateway');
const traced = new WeakMap<EventEnvelope, TraceContext>();

/** The trace context of the span in which the gateway received `event`, if it was traced. */
export function traceOfEvent(event: EventEnvelope): TraceContext | undefined {
  return traced.get(event);
}

/** Lets `copy`, an event derived from `original` (see SubscriptionRoute.expand), join `original`'s trace. */
export function inheritTrace(copy: EventEnvelope, original: EventEnvelope): void {
  const t = traced.get(original);
  if (t) traced.set(copy, t);
}

/**
 * Which events a listener hears: all of its context's, or only those whose
 * `correlation[field]` is `value` (dispatched through an index, so that the thousands of
 * subscribers of other lectures are not even called).
 */
export interface ListenFilter {
  field: string;
  value: string;
}

/** One context's feed (see the module comment). */
class Feed {
  readonly listeners = new Set<EventListener>();
  /** Listeners of one `correlation` value, by `<field>=<value>`, and the fields indexed. */
  readonly keyed = new Map<string, Set<EventListener>>();
  readonly indexedFields = new Map<string, number>();
  /** Events with seq ≥ `from`, in stream order. */
  history: SequencedEvent[] = [];
  /** The first sequence the history holds every event from (set when the feed has started). */
  from = 0;
  /** The last sequence heard (`from - 1` before any event). */
  last = 0;
  started = false;
  closed = false;
  readonly ready: Promise<void>;
  private following?: Following;
  private backfilling?: Promise<void>;

  constructor(
    readonly context: Context,
    private readonly hub: { bus: Bus; logger: Logger; replayMax: number },
  ) {
    this.ready = this.start();
    this.ready.catch(() => undefined);
  }

  private async start(): Promise<void> {
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        const following = await this.hub.bus.follow(this.context, 'next', (r) => this.receive(r));
        if (this.closed) return following.stop();
        this.following = following;
        this.from = following.from;
        this.last = Math.max(this.last, following.from - 1);
        this.started = true;
        return;
      } catch (err) {
        // The stream may not exist yet (its publisher creates it) or NATS may be away: retry.
        if (attempt === 0)
          this.hub.logger.warn({ err: (err as Error).message, context: this.context }, 'event feed waiting for its stream');
        await new Promise((resolve) => setTimeout(resolve, Math.min(200 * 2 ** attempt, 2_000)));
      }
    }
  }

  private receive(m: StreamRecord): void {
    let event: EventEnvelope;
    this.last = m.seq;
    try {
      event = parseEvent(m.data);
    } catch (e) {
      return this.hub.logger.warn({ err: (e as Error).message, subject: m.subject }, 'ignoring invalid event');
    }
    this.history.push({ seq: m.seq, event });
    // Forgotten in slices (one copy per `replayMax / 4` events, not one per event).
    if (this.history.length > this.hub.replayMax * 1.25 && !this.backfilling) {
      this.history = this.history.slice(this.history.length - this.hub.replayMax);
      this.from = this.history[0].seq;
    }
    const received = startRecordedSpan(tracer, `process ${m.subject}`, () => ({
      kind: SpanKind.CONSUMER,
      attributes: { 'messaging.system': 'nats', 'messaging.destination.name': m.subject, 'messaging.message.id': event.id },
      parent: extractTrace((key) => m.header(key)),
    }));
    if (received) traced.set(event, received.context);
    for (const l of this.listeners) l(event, m.seq);
    for (const field of this.indexedFields.keys()) {
      const value = (event.correlation as Record<string, string | undefined>)[field];
      const keyed = value === undefined ? undefined : this.keyed.get(`${field}=${value}`);
      if (keyed) for (const l of keyed) l(event, m.seq);
    }
    received?.span.end();
  }

  /** See {@link EventHub.cover}. */
  async cover(after: number): Promise<void> {
    await this.ready;
    if (after > this.last) throw new ResumeError('BAD_USER_INPUT', `position ${after} is ahead of the ${this.context} stream`);
    while (after + 1 < this.from) {
      this.backfilling ??= this.backfill(after).finally(() => (this.backfilling = undefined));
      await this.backfilling;
    }
  }

  /** Reads the stream's events from `after + 1` up to the history's start, and puts them in front of it. */
  private async backfill(after: number): Promise<void> {
    const bounds = await this.hub.bus.bounds(this.context);
    if (after + 1 < bounds.first)
      throw new ResumeError('RESUME_EXPIRED', `the ${this.context} stream no longer holds the events after this position; read again`);
    const until = this.from - 1;
    if (until - after + this.history.length > this.hub.replayMax * 1.25)
      throw new ResumeError('RESUME_EXPIRED', `more than ${this.hub.replayMax} ${this.context} events since this position; read again`);
    const read = await readRange(this.hub.bus, this.context, after + 1, until);
    if (this.from !== until + 1) return; // trimmed meanwhile: the caller's loop looks again
    this.history = [...read, ...this.history];
    this.from = after + 1;
  }

  /** Events after `after`, or undefined when the history no longer reaches back that far. */
  since(after: number): SequencedEvent[] | undefined {
    if (after + 1 < this.from) return undefined;
    const h = this.history;
    let lo = 0;
    let hi = h.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (h[mid].seq <= after) lo = mid + 1;
      else hi = mid;
    }
    return h.slice(lo);
  }

  close(): void {
    this.closed = true;
    this.following?.stop();
  }
}

/**
 * The events of `context` with sequences `from` to `until`, read back through the bus (an invalid
 * event is skipped, as when live); what has arrived after 10 s when the stream does not hand all
 * of them over.
 */
async function readRange(bus: Bus, context: Context, from: number, until: number): Promise<SequencedEvent[]> {
  const read: SequencedEvent[] = [];
  let done!: () => void;
  const complete = new Promise<void>((resolve) => (done = resolve));
  const following = await bus.follow(context, from, (m) => {
    if (m.seq > until) return done();
    try {
      read.push({ seq: m.seq, event: parseEvent(m.data) });
    } catch {
      // an invalid event is skipped, as when live
    }
    if (m.seq === until) done();
  });
  const giveUp = setTimeout(done, 10_000);
  try {
    await complete;
  } finally {
    clearTimeout(giveUp);
    following.stop();
  }
  return read;
}

/** The gateway's feeds of domain events, one per context (see the module comment). */
export class EventHub {
  private readonly feeds = new Map<Context, Feed>();

  /**
   * @param bus where the events are read (the gateway's NATS user may read its streams, nothing more)
   * @param replayMax events each feed keeps for resuming, and the most a resume may replay per
   *   context (count; older positions get RESUME_EXPIRED)
   */
  constructor(
    private readonly bus: Bus,
    private readonly logger: Logger,
    private readonly replayMax = REPLAY_MAX,
  ) {}

  private feed(context: Context): Feed {
    let feed = this.feeds.get(context);
    if (!feed) {
      const { bus, logger, replayMax } = this;
      feed = new Feed(context, { bus, logger, replayMax });
      this.feeds.set(context, feed);
    }
    return feed;
  }

  /**
   * Listens to the events of `context` from now on: all of them, or those `only` names; returns
   * the function that stops listening.
   */
  listen(context: Context, listener: EventListener, only?: ListenFilter): () => void {
    const feed = this.feed(context);
    const index = only && `${only.field}=${only.value}`;
    if (index) {
      let set = feed.keyed.get(index);
      if (!set) feed.keyed.set(index, (set = new Set()));
      set.add(listener);
      feed.indexedFields.set(only.field, (feed.indexedFields.get(only.field) ?? 0) + 1);
    } else feed.listeners.add(listener);
    return () => {
      if (index) {
        const set = feed.keyed.get(index);
        if (set?.delete(listener)) {
          if (set.size === 0) feed.keyed.delete(index);
          const n = (feed.indexedFields.get(only.field) ?? 1) - 1;
          if (n > 0) feed.indexedFields.set(only.field, n);
          else feed.indexedFields.delete(only.field);
        }
      } else feed.listeners.delete(listener);
      if (feed.listeners.size === 0 && feed.keyed.size === 0 && this.feeds.get(context) === feed) {
        feed.close();
        this.feeds.delete(context);
      }
    };
  }

  /** Resolves once the feed of `context` (opened by a listener) has started: its positions are known. */
  ready(context: Context): Promise<void> {
    return this.feed(context).ready;
  }

  /** The last sequence the feed of `context` has heard (0 before it started). */
  position(context: Context): number {
    return this.feeds.get(context)?.last ?? 0;
  }

  /**
   * Makes sure the feed of `context` holds every event after sequence `after`, reading the stream
   * when its window starts later. The feed must be open (listened to).
   * @throws ResumeError RESUME_EXPIRED when the stream no longer keeps them or there are more
   *   than `replayMax`; BAD_USER_INPUT when `after` is ahead of the stream
   */
  cover(context: Context, after: number): Promise<void> {
    return this.feed(context).cover(after);
  }

  /** The events of `context` after sequence `after`, oldest first; undefined when they are no longer held (see {@link cover}). */
  since(context: Context, after: number): SequencedEvent[] | undefined {
    return this.feeds.get(context)?.since(after);
  }

  /** Number of open feeds (one per context with listeners). */
  get openSubscriptions(): number {
    return this.feeds.size;
  }

  /** Number of listeners across all contexts (a subscription listens to each context it follows). */
  get listeners(): number {
    let n = 0;
    for (const f of this.feeds.values()) {
      n += f.listeners.size;
      for (const set of f.keyed.values()) n += set.size;
    }
    return n;
  }

  close(): void {
    for (const f of this.feeds.values()) f.close();
    this.feeds.clear();
  }
}
