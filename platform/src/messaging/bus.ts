/**
 * The event bus as the application side sees it: publish a domain event to its context's
 * stream, consume a stream through a durable consumer (at least once, until acked), listen
 * live to what is published from now on, and follow a stream from a sequence in order (the
 * gateway's live feeds and their replay window). Two implementations keep the same contract
 * (platform/test/bus.contract.test.ts runs one suite over both): {@link NatsBus} on NATS
 * JetStream, and {@link InMemoryBus}, one process's twin for tests that need no NATS server.
 *
 * The policies on top (per-type handlers, per-aggregate order, batches, backoff, dead letters:
 * consumer.ts; the outbox relay: outbox.ts) are written once, against this interface.
 */
import { parseEvent, type Context, type EventEnvelope, type StreamSpec } from '@courses/contracts';

/** One message of a stream as a durable consumer receives it. */
export interface BusMessage {
  readonly subject: string;
  /** Its sequence in the stream (1, 2, …). */
  readonly seq: number;
  /** The body as published (an event's JSON, without its stored trace context). */
  readonly data: Uint8Array;
  /** 1 on the first delivery, 2 on the first redelivery, … */
  readonly deliveryCount: number;
  /** A header the publisher set (e.g. `traceparent`), or undefined. */
  header(name: string): string | undefined;
  /** Done: never delivered to this durable consumer again. */
  ack(): void;
  /** Not done: delivered again after `delayMs` (0: at once), up to the consumer's `maxDeliver`. */
  nak(delayMs?: number): void;
  /** Given up: never delivered again (the caller keeps it, and `reason`, elsewhere first: see consumer.ts). */
  term(reason?: string): void;
}

/** One message of a stream as a follower reads it (see {@link Bus.follow}): in stream order, no acks. */
export interface StreamRecord {
  readonly subject: string;
  /** Its sequence in the stream (1, 2, …). */
  readonly seq: number;
  readonly data: Uint8Array;
  /** A header the publisher set (e.g. `traceparent`), or undefined. */
  header(name: string): string | undefined;
}

/** The sequences a stream holds: its first and its last (`last` 0 while it has held none; `first` is then 1). */
export interface StreamBounds {
  first: number;
  last: number;
}

/** A reading of a stream started by {@link Bus.follow}. */
export interface Following {
  /** The first sequence it reads. */
  readonly from: number;
  /** Stops reading; no record is handed over after it returns. */
  stop(): void;
}

/** A durable consumer of one stream, shared by every replica that names it. */
export interface DurableSpec {
  stream: StreamSpec;
  /** Its name: replicas with the same name share the messages, each to one of them. */
  durable: string;
  /** Deliveries of one message at most (the first included). */
  maxDeliver: number;
  /** How long (ms) a delivered message waits for its ack before it is delivered again. */
  ackWaitMs: number;
  /** Most messages handed out and not yet acked, nak-ed or termed, per pull (a hint). */
  maxMessages: number;
}

/** The messages of a durable consumer as they arrive; iteration ends once {@link stop} is called or the bus closes. */
export interface DurableMessages extends AsyncIterable<BusMessage> {
  /** Stops receiving; messages handed out and not acked are delivered again after their ack wait. */
  stop(): Promise<void>;
}

/** How far a durable consumer is behind: messages not yet delivered, and delivered but not acked (counts). */
export interface ConsumerLag {
  pending: number;
  unacked: number;
}

/** What a service's code needs of the event bus. */
export interface Bus {
  /** `nats` or `memory`: what carries the events (for logs and health). */
  readonly kind: 'nats' | 'memory';
  /**
   * Creates stream `spec` if missing, with the platform's limits (nats-streams.ts); `differs`
   * when it exists with other limits this service may not change.
   * @throws when the transport refuses.
   */
  ensureStream(spec: StreamSpec, replicas?: number): Promise<'ok' | 'differs'>;
  /**
   * Publishes `event` on its subject and resolves once its stream stored it. A second publish of
   * the same event id within the stream's duplicate window is dropped (stored once).
   * @throws when no stream stores the subject, or the transport is unreachable.
   */
  publish(event: EventEnvelope): Promise<void>;
  /**
   * Appends `body` (JSON) to `stream` on `subject`, stored once per `msgId`: what a consumer sets
   * aside in its dead-letter stream.
   * @throws when the stream does not store the subject, or the transport is unreachable.
   */
  append(subject: string, body: string, msgId: string): Promise<void>;
  /**
   * The durable consumer `spec` (created, or updated to `spec`'s limits), from the stream's first
   * message on its first start.
   * @throws StreamNotFoundError while the stream does not exist (its publisher creates it); another
   *   error while the transport is down.
   */
  durable(spec: DurableSpec): Promise<DurableMessages>;
  /** How far durable `durable` of `stream` is behind; undefined when it does not exist. */
  lag(stream: string, durable: string): Promise<ConsumerLag | undefined>;
  /**
   * Calls `listener` with every event of `context` published from now on, in stream order, at
   * most once, without acks (live views; a listener that misses one does not get it again).
   * @returns the function that stops listening.
   */
  listen(context: Context, listener: (event: EventEnvelope, seq: number) => void): Promise<() => void>;
  /**
   * The first and last sequence of `context`'s stream.
   * @throws StreamNotFoundError while the stream does not exist.
   */
  bounds(context: Context): Promise<StreamBounds>;
  /**
   * Reads `context`'s stream in order from sequence `from` (`'next'`: after its last message,
   * i.e. what is published from now on), handing each message to `onRecord`, without acks,
   * until stopped; after a transport outage it goes on from the last message it handed over.
   * @throws StreamNotFoundError while the stream does not exist.
   */
  follow(context: Context, from: number | 'next', onRecord: (record: StreamRecord) => void): Promise<Following>;
  /** True while publishing can reach the transport. */
  ready(): boolean;
  /** Closes the bus; `drain` first lets what is in flight finish. */
  close(opts?: { drain?: boolean }): Promise<void>;
}

/**
 * A stream that does not exist (yet): its publisher creates it (platform/src/messaging/nats-streams.ts).
 * A durable consumer waits for it quietly, where any other failure is worth a warning.
 */
export class StreamNotFoundError extends Error {
  constructor(
    /** The stream's name. */
    readonly stream: string,
    cause?: unknown,
  ) {
    super(`stream ${stream} not found`, { cause });
    this.name = 'StreamNotFoundError';
  }
}

/**
 * {@link Bus.listen} on top of {@link Bus.follow}, for every implementation: each event of
 * `context` from now on, parsed; a message that is no event, or that `listener` throws on, is
 * skipped (`skipped` hears why).
 */
export async function listenByFollowing(
  bus: Pick<Bus, 'follow'>,
  context: Context,
  listener: (event: EventEnvelope, seq: number) => void,
  skipped?: (err: unknown, subject: string) => void,
): Promise<() => void> {
  const following = await bus.follow(context, 'next', (r) => {
    try {
      listener(parseEvent(r.data), r.seq);
    } catch (err) {
      skipped?.(err, r.subject);
    }
  });
  return () => following.stop();
}
