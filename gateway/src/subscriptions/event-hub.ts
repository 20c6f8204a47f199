/**
 * Fan-out of domain events to the gateway's subscribers, with each event's stream position and
 * a window of recent events to resume from.
 *
 * One feed per context (`registration`, `payment`, `lecture`, `dashboard`) per gateway process,
 * shared by every client, opened with its first listener and closed with its last: a JetStream
 * ordered consumer (ephemeral, in memory, no acks; nats.js re-creates it from the last sequence
 * it saw after a NATS restart, so a restart loses nothing) on the context's stream, starting
 * after the stream's last message when the feed opens. Every gateway replica has its own feeds
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
import {
  jetstream,
  jetstreamManager,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { parseEvent, streamOf, type Context, type EventEnvelope } from '@courses/contracts';
import { extractTrace, SpanKind, startRecordedSpan, tracerOf, type Logger, type TraceContext } from '@courses/platform';

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
  private messages?: ConsumerMessages;
  private backfilling?: Promise<void>;

  constructor(
    readonly context: Context,
    private readonly stream: string,
    private readonly hub: { js: JetStreamClient; jsm: Promise<JetStreamManager>; logger: Logger; replayMax: number },
  ) {
    this.ready = this.start();
    this.ready.catch(() => undefined);
  }

  private async start(): Promise<void> {
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        const info = await (await this.hub.jsm).streams.info(this.stream);
        const from = info.state.last_seq + 1;
        const consumer = await this.hub.js.consumers.get(this.stream, { opt_start_seq: from });
        if (this.closed) return void consumer.delete().catch(() => undefined);
        this.messages = await consumer.consume({ max_messages: 256 });
        this.from = from;
        this.last = from - 1;
        this.started = true;
        void this.pump(this.messages);
        return;
      } catch (err) {
        // The stream may not exist yet (its publisher creates it) or NATS may be away: retry.
        if (attempt === 0) this.hub.logger.warn({ err: (err as Error).message, stream: this.stream }, 'event feed waiting for its stream');
        await new Promise((resolve) => setTimeout(resolve, Math.min(200 * 2 ** attempt, 2_000)));
      }
    }
  }

  private async pump(messages: ConsumerMessages): Promise<void> {
    try {
      for await (const m of messages) this.receive(m);
    } catch (err) {
      if (!this.closed) this.hub.logger.error({ err: (err as Error).message, stream: this.stream }, 'event feed stopped');
    }
  }

  private receive(m: JsMsg): void {
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
      parent: extractTrace((key) => m.headers?.get(key) || undefined),
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
    const info = await (await this.hub.jsm).streams.info(this.stream);
    if (after + 1 < info.state.first_seq)
      throw new ResumeError('RESUME_EXPIRED', `the ${this.context} stream no longer holds the events after this position; read again`);
    const until = this.from - 1;
    if (until - after + this.history.length > this.hub.replayMax * 1.25)
      throw new ResumeError('RESUME_EXPIRED', `more than ${this.hub.replayMax} ${this.context} events since this position; read again`);
    const consumer = await this.hub.js.consumers.get(this.stream, { opt_start_seq: after + 1 });
    const read: SequencedEvent[] = [];
    try {
      const messages = await consumer.consume({ max_messages: Math.min(until - after, 1_000) });
      const giveUp = setTimeout(() => messages.stop(), 10_000);
      try {
        for await (const m of messages) {
          if (m.seq > until) break;
          try {
            read.push({ seq: m.seq, event: parseEvent(m.data) });
          } catch {
            // an invalid event is skipped, as when live
          }
          if (m.seq === until) break;
        }
      } finally {
        clearTimeout(giveUp);
        messages.stop();
      }
    } finally {
      await consumer.delete().catch(() => undefined);
    }
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
    this.messages?.stop();
    void this.messages?.closed().catch(() => undefined);
  }
}

export class EventHub {
  private readonly feeds = new Map<Context, Feed>();
  private readonly js: JetStreamClient;
  private readonly jsm: Promise<JetStreamManager>;

  /**
   * @param replayMax events each feed keeps for resuming, and the most a resume may replay per
   *   context (count; older positions get RESUME_EXPIRED)
   */
  constructor(
    nc: NatsConnection,
    private readonly namespace: string,
    private readonly logger: Logger,
    private readonly replayMax = REPLAY_MAX,
  ) {
    this.js = jetstream(nc);
    // No `$JS.API.INFO` call: the gateway's NATS user may read its streams, nothing more.
    this.jsm = jetstreamManager(nc, { checkAPI: false });
  }

  private feed(context: Context): Feed {
    let feed = this.feeds.get(context);
    if (!feed) {
      const { js, jsm, logger, replayMax } = this;
      feed = new Feed(context, streamOf(context, this.namespace).name, { js, jsm, logger, replayMax });
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
