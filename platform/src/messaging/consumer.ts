/**
 * Durable consumers, on any {@link Bus}: at-least-once delivery, ack only after the effect is
 * stored (handlers must be idempotent), nak with backoff, per-aggregate order, batches, and the
 * dead-letter stream for what a consumer gives up on. Replicas of a service share one durable
 * consumer, so each message goes to one of them. Handlers see the event and its delivery count,
 * never the transport's message.
 *
 * Each message is handled in a consumer span `process <subject>`, a child of the publisher's span
 * whose W3C context the message headers carry (tracing.ts); a batch runs in its first message's span.
 */
import { InvalidEventError, parseEvent, type EventEnvelope, type EventType, type StreamSpec } from '@courses/contracts';
import { KeyedMutex } from '../concurrency/index.js';
import {
  extractTrace,
  inSpan,
  SpanKind,
  startRecordedSpan,
  tracerOf,
  type Logger,
  type ServiceMetrics,
  type TraceContext,
} from '../observability/index.js';
import type { Bus, BusMessage, DurableMessages, DurableSpec } from './bus.js';
import { deadLetterStream } from './nats-auth.js';

/** What the dead-letter stream keeps about a message a consumer gave up on. */
export interface DeadLetter {
  durable: string;
  stream: string;
  subject: string;
  /** Stream sequence of the original message. */
  seq: number;
  deliveries: number;
  reason: string;
  /** The original message body, as UTF-8 text. */
  data: string;
  /** ISO-8601 time it was set aside. */
  at: string;
}

/** What a handler may know about a message's delivery (transport-free). */
export interface Delivery {
  /** 1 on the first delivery, 2 on the first redelivery, … */
  deliveryCount: number;
}

/**
 * Thrown by a handler that has applied the event but wants it again after `delayMs` (a policy
 * that must look a second time, e.g. once in-flight work has finished): the message is nak-ed
 * with that delay, which is neither a failure nor logged as one. Past the consumer's last
 * delivery it is acked.
 */
export class Redeliver extends Error {
  override name = 'Redeliver';
  constructor(readonly delayMs: number) {
    super(`deliver again in ${delayMs} ms`);
  }
}

/** A handler for one event type; throwing means "not applied, deliver again later". */
export type EventHandler<T extends EventType = EventType> = (event: EventEnvelope<T>, delivery: Delivery) => Promise<void>;

/** One handler per event type a consumer subscribes to. */
export type EventHandlers = { [T in EventType]?: EventHandler<T> };

/**
 * A handler for every event of a pull at once, in stream order (all of `types`). Throwing means
 * "not applied": the events are then handled one by one, so only a failing one is redelivered.
 */
export interface BatchHandler {
  types: EventType[];
  handle(events: EventEnvelope[]): Promise<void>;
  /** Most events per call (default 256). */
  max?: number;
  /**
   * How long (ms) the first event of a batch waits for others to join it (default 0: only
   * those already received). A few tens of ms turn many small writes into few large ones when
   * events trickle in, at the cost of that much delay.
   */
  lingerMs?: number;
}

export interface ConsumerOptions {
  bus: Bus;
  stream: StreamSpec;
  /** Durable consumer name, shared by all replicas of the consuming service. */
  durable: string;
  namespace: string;
  /** The consuming service (its dead letters go to its own stream, see {@link deadLetterStream}). */
  service: string;
  /** One handler per event type (the keys are the types consumed), or one batch handler. */
  handlers: EventHandlers | BatchHandler;
  logger: Logger;
  metrics?: ServiceMetrics;
  /** Deliveries before a failing message is terminated (default 10). */
  maxDeliver?: number;
  /** Copies of the dead-letter stream this consumer creates (default 1; see ensureStream). */
  streamReplicas?: number;
  /** Milliseconds JetStream waits for an ack before redelivering (default 30000). */
  ackWaitMs?: number;
  /** Messages handled at once by per-event handlers (default 8); those with the same key never overlap. */
  concurrency?: number;
  /**
   * The ordering key of an event: events with the same key are handled one after another,
   * in stream order. Default: the registration, payment or lecture the event is about.
   */
  keyOf?: (event: EventEnvelope) => string;
}

/** Default ordering key: the aggregate an event concerns. */
export function aggregateKey(event: EventEnvelope): string {
  const c = event.correlation;
  return c.registrationId ?? c.paymentId ?? c.lectureId ?? event.id;
}

/** A running durable consumer. */
export interface RunningConsumer {
  durable: string;
  /**
   * How far behind the consumer is, from the server: messages of its stream not yet delivered to
   * it (`pending`) and delivered but not acked yet (`unacked`). Undefined before it is attached.
   * @throws when NATS does not answer.
   */
  lag(): Promise<{ pending: number; unacked: number } | undefined>;
  /** Stops pulling; the messages in hand finish first. */
  stop(): Promise<void>;
}

/** Redelivery delay after the n-th failed delivery: 250 ms doubling, capped at 10 s. */
export function backoffMs(deliveryCount: number): number {
  return Math.min(10_000, 250 * 2 ** Math.max(0, deliveryCount - 1));
}

function isBatch(h: EventHandlers | BatchHandler): h is BatchHandler {
  return typeof (h as BatchHandler).handle === 'function' && Array.isArray((h as BatchHandler).types);
}

/**
 * Creates (or updates) the durable pull consumer and processes messages. Valid events go to
 * their handler and are acked after it resolves; a handler failure naks with {@link backoffMs}
 * delay; a payload that breaks its contract, or a message at its last delivery, is copied to the
 * dead-letter stream ({@link deadLetterStream}) with the reason, logged, and terminated, so the
 * stream keeps flowing.
 * - The stream read belongs to its publisher, which creates it: until it exists the consumer
 *   waits (checking every second, in the background, so services that consume each other's
 *   streams can start in any order) and then reads it from the first message.
 * - Per-event handlers: up to `concurrency` messages at once, one at a time per ordering key (so
 *   one aggregate's events apply in stream order).
 * - A batch handler: the messages that have arrived when the previous batch is done are handled
 *   together, batches one after another (so stream order holds across batches).
 */
export async function startConsumer(opts: ConsumerOptions): Promise<RunningConsumer> {
  const { bus, stream, durable, namespace, logger } = opts;
  const log = logger.child({ durable });
  const batch = isBatch(opts.handlers) ? opts.handlers : undefined;
  const handlers = batch ? {} : (opts.handlers as EventHandlers);
  const types = batch ? batch.types : (Object.keys(handlers) as EventType[]);
  const maxDeliver = opts.maxDeliver ?? 10;
  // Event types without a handler are acked unseen.
  const spec: DurableSpec = { stream, durable, maxDeliver, ackWaitMs: opts.ackWaitMs ?? 30_000, maxMessages: batch ? 256 : 64 };
  let attached = false;
  let messages: DurableMessages | undefined;
  let stopped = false;
  const limit = Math.max(1, opts.concurrency ?? 8);
  const keyOf = opts.keyOf ?? aggregateKey;
  const ordering = new KeyedMutex();
  const inFlight = new Set<Promise<void>>();
  const slotFreed: Array<() => void> = [];

  const count = (type: string, outcome: string, n = 1) => opts.metrics?.eventsConsumed.inc({ durable, type, outcome }, n);
  const dlq = deadLetterStream(opts.service, namespace);
  if ((await bus.ensureStream(dlq, opts.streamReplicas)) === 'differs')
    log.warn({ stream: dlq.name }, "the dead-letter stream's limits differ from this configuration's; the operator user may change them");

  /** Keeps the message in the dead-letter stream with `reason`, then terminates it. */
  async function setAside(msg: BusMessage, reason: string): Promise<void> {
    const letter: DeadLetter = {
      durable,
      stream: stream.name,
      subject: msg.subject,
      seq: msg.seq,
      deliveries: msg.deliveryCount,
      reason,
      data: new TextDecoder().decode(msg.data),
      at: new Date().toISOString(),
    };
    try {
      await bus.append(`${dlq.subjects[0].slice(0, -1)}${durable}`, JSON.stringify(letter), `${stream.name}:${msg.seq}:${durable}`);
      msg.term(reason);
    } catch (err) {
      // Not stored: leave it to be redelivered rather than lose it.
      log.error({ err: (err as Error).message, seq: msg.seq }, 'could not write the dead letter; will retry');
      msg.nak(backoffMs(msg.deliveryCount));
    }
  }

  /** The message's event when it is one this consumer handles; acks or sets aside the rest. */
  async function eventOf(msg: BusMessage): Promise<EventEnvelope | undefined> {
    let event: EventEnvelope;
    try {
      event = parseEvent(msg.data);
    } catch (err) {
      const reason = err instanceof InvalidEventError ? err.message : 'unparseable';
      log.error({ reason, subject: msg.subject, seq: msg.seq }, 'poison message set aside in the dead-letter stream');
      count('invalid', 'term');
      await setAside(msg, `poison: ${reason}`);
      return undefined;
    }
    if (msg.deliveryCount > 1) opts.metrics?.eventsRedelivered.inc({ durable });
    if (!types.includes(event.type)) {
      msg.ack();
      return undefined;
    }
    return event;
  }

  /** Naks a failed message, or sets it aside at its last delivery. */
  async function failed(msg: BusMessage, event: EventEnvelope, err: unknown): Promise<void> {
    const n = msg.deliveryCount;
    if (n >= maxDeliver) {
      log.error(
        { err, eventId: event.id, type: event.type, deliveries: n },
        'event failed at its last delivery; set aside in the dead-letter stream',
      );
      await setAside(msg, `failed ${n} times: ${(err as Error).message}`);
      count(event.type, 'term');
    } else {
      log.warn({ err, eventId: event.id, type: event.type, deliveries: n }, 'event handling failed; will retry');
      msg.nak(backoffMs(n));
      count(event.type, 'nak');
    }
  }

  const tracer = tracerOf(opts.service);
  /** Parent (from the message's headers) and attributes of the span that handles `msg`. */
  function processSpan(
    msg: BusMessage,
    event: EventEnvelope,
  ): { kind: SpanKind; parent: TraceContext; attributes: Record<string, string | number> } {
    const parent = extractTrace((key) => msg.header(key));
    const attributes = {
      'messaging.system': 'nats',
      'messaging.operation.type': 'process',
      'messaging.destination.name': msg.subject,
      'messaging.consumer.group.name': durable,
      'messaging.message.id': event.id,
      'messaging.nats.delivery_count': msg.deliveryCount,
    };
    return { kind: SpanKind.CONSUMER, parent, attributes };
  }

  async function handleOne(msg: BusMessage): Promise<void> {
    const event = await eventOf(msg);
    if (!event) return;
    const handler = handlers[event.type] as EventHandler;
    await inSpan(
      tracer,
      `process ${msg.subject}`,
      () => processSpan(msg, event),
      async (span) => {
        try {
          await ordering.run(keyOf(event), () => handler(event, { deliveryCount: msg.deliveryCount }));
          msg.ack();
          count(event.type, 'ack');
        } catch (err) {
          span.setAttribute('messaging.outcome', err instanceof Redeliver ? 'deferred' : 'failed');
          if (err instanceof Redeliver) {
            if (msg.deliveryCount >= maxDeliver) {
              log.warn({ eventId: event.id, type: event.type }, 'event wanted again past its last delivery; acked');
              msg.ack();
            } else msg.nak(err.delayMs);
            count(event.type, 'deferred');
            return;
          }
          await failed(msg, event, err);
        }
      },
    );
  }

  /**
   * Runs `handle` for a batch in its first message's span; every other message of the batch has
   * its own span (in its own trace) for the same time.
   */
  async function inBatchSpans(items: Array<{ msg: BusMessage; event: EventEnvelope }>, handle: () => Promise<void>): Promise<void> {
    const optionsOf = ({ msg, event }: { msg: BusMessage; event: EventEnvelope }) => {
      const options = processSpan(msg, event);
      return { ...options, attributes: { ...options.attributes, 'messaging.batch.message_count': items.length } };
    };
    const others = items.slice(1).flatMap((item) => startRecordedSpan(tracer, `process ${item.msg.subject}`, () => optionsOf(item)) ?? []);
    try {
      await inSpan(tracer, `process ${items[0].msg.subject}`, () => optionsOf(items[0]), handle);
    } finally {
      for (const { span } of others) span.end();
    }
  }

  async function handleBatch(msgs: BusMessage[]): Promise<void> {
    const items: Array<{ msg: BusMessage; event: EventEnvelope }> = [];
    for (const msg of msgs) {
      const event = await eventOf(msg);
      if (event) items.push({ msg, event });
    }
    if (!items.length) return;
    try {
      await inBatchSpans(items, () => batch!.handle(items.map((i) => i.event)));
      for (const i of items) {
        i.msg.ack();
        count(i.event.type, 'ack');
      }
      return;
    } catch (err) {
      if (items.length === 1) return failed(items[0].msg, items[0].event, err);
    }
    // Find the failing ones: one at a time, in order.
    for (const i of items) {
      try {
        await inBatchSpans([i], () => batch!.handle([i.event]));
        i.msg.ack();
        count(i.event.type, 'ack');
      } catch (err) {
        await failed(i.msg, i.event, err);
      }
    }
  }

  /** Messages received and not yet handled (batch mode). */
  let waiting: BusMessage[] = [];
  let draining: Promise<void> | undefined;
  let lingering = false;
  function drain(): Promise<void> {
    draining ??= (async () => {
      while (waiting.length) {
        const take = waiting.splice(0, batch!.max ?? 256);
        await handleBatch(take).catch((err) => log.error({ err }, 'batch handling failed'));
        slotFreed.splice(0).forEach((wake) => wake());
      }
    })().finally(() => {
      draining = undefined;
    });
    return draining;
  }

  void (async () => {
    while (!stopped) {
      try {
        messages = await bus.durable(spec);
        attached = true;
        if (stopped) break;
        for await (const msg of messages) {
          if (batch) {
            while (waiting.length >= 4 * (batch.max ?? 256)) await new Promise<void>((r) => slotFreed.push(r));
            waiting.push(msg);
            // Everything already received (or arriving within lingerMs) joins this batch.
            if (!draining && !lingering) {
              lingering = true;
              const go = () => {
                lingering = false;
                void drain();
              };
              if (batch.lingerMs) setTimeout(go, batch.lingerMs);
              else setImmediate(go);
            }
          } else {
            while (inFlight.size >= limit) await new Promise<void>((r) => slotFreed.push(r));
            // Taking the key's turn now (synchronously, in arrival order) keeps per-key order.
            const p: Promise<void> = handleOne(msg).finally(() => {
              inFlight.delete(p);
              slotFreed.shift()?.();
            });
            inFlight.add(p);
          }
          if (stopped) break;
        }
      } catch (err) {
        if (!stopped) {
          // A stream not created yet is waited for quietly (the bus says so once).
          if (attached || !/not found/i.test(String((err as Error)?.message)))
            log.warn({ err: (err as Error).message }, 'consumer interrupted; resuming in 1 s');
          await new Promise((r) => setTimeout(r, 1_000));
        }
      }
    }
  })();
  log.info({ stream: stream.name, types, batch: !!batch }, 'consumer started');

  return {
    durable,
    async lag() {
      return attached ? bus.lag(stream.name, durable) : undefined;
    },
    async stop() {
      stopped = true;
      await Promise.allSettled([...inFlight]);
      if (batch) await (draining ?? drain());
      await messages?.stop();
    },
  };
}
