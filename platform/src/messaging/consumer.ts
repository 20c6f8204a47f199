/**
 * Durable consumers, on any {@link Bus}: at-least-once delivery, ack only after the effect is
 * stored (handlers must be idempotent), nak with backoff, per-aggregate order, batches, and the
 * dead-letter stream for what a consumer gives up on. Replicas of a service share one durable
 * consumer, so each message goes to one of them. Handlers see the event and its delivery count,
 * never the transport's message.
 * Each message is handled in a span of its own (message-spans.ts).
 */
import { InvalidEventError, parseEvent, type EventEnvelope, type EventType, type StreamSpec } from '@courses/contracts';
import { KeyedMutex } from '../concurrency/index.js';
import { inSpan, tracerOf, type Logger, type ServiceMetrics } from '../observability/index.js';
import { StreamNotFoundError, type Bus, type BusMessage, type ConsumerLag, type DurableMessages, type DurableSpec } from './bus.js';
import {
  aggregateKey,
  backoffMs,
  Redeliver,
  type BatchHandler,
  type DeadLetter,
  type EventHandler,
  type EventHandlers,
} from './handlers.js';
import { inBatchSpans, processSpan, type Item } from './message-spans.js';
import { deadLetterStream } from './nats-auth.js';

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

/** A running durable consumer. */
export interface RunningConsumer {
  durable: string;
  /**
   * How far behind the consumer is, from the server: messages of its stream not yet delivered to
   * it (`pending`) and delivered but not acked yet (`unacked`). Undefined before it is attached.
   * @throws when NATS does not answer.
   */
  lag(): Promise<ConsumerLag | undefined>;
  /** Stops pulling; the messages in hand finish first. */
  stop(): Promise<void>;
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
  const consumer = new DurableConsumer(opts);
  await consumer.prepare();
  void consumer.run();
  consumer.log.info({ stream: opts.stream.name, types: consumer.types, batch: !!consumer.batch }, 'consumer started');
  return { durable: opts.durable, lag: () => consumer.lag(), stop: () => consumer.stop() };
}

/** One durable consumer of one process: pulls, hands events to their handlers, and settles each message. */
class DurableConsumer {
  readonly log: Logger;
  readonly batch: BatchHandler | undefined;
  readonly types: EventType[];
  private readonly handlers: EventHandlers;
  private readonly spec: DurableSpec;
  private readonly maxDeliver: number;
  private readonly dlq: { name: string; subjects: string[] };
  private readonly limit: number;
  private readonly keyOf: (event: EventEnvelope) => string;
  private readonly ordering = new KeyedMutex();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly slotFreed: Array<() => void> = [];
  private readonly tracer: ReturnType<typeof tracerOf>;
  private attached = false;
  private messages: DurableMessages | undefined;
  private stopped = false;
  /** Messages received and not yet handled (batch mode). */
  private waiting: BusMessage[] = [];
  private draining: Promise<void> | undefined;
  private lingering = false;

  constructor(private readonly opts: ConsumerOptions) {
    this.log = opts.logger.child({ durable: opts.durable });
    this.batch = isBatch(opts.handlers) ? opts.handlers : undefined;
    this.handlers = this.batch ? {} : (opts.handlers as EventHandlers);
    // Event types without a handler are acked unseen.
    this.types = this.batch ? this.batch.types : (Object.keys(this.handlers) as EventType[]);
    this.maxDeliver = opts.maxDeliver ?? 10;
    this.spec = {
      stream: opts.stream,
      durable: opts.durable,
      maxDeliver: this.maxDeliver,
      ackWaitMs: opts.ackWaitMs ?? 30_000,
      maxMessages: this.batch ? 256 : 64,
    };
    this.dlq = deadLetterStream(opts.service, opts.namespace);
    this.limit = Math.max(1, opts.concurrency ?? 8);
    this.keyOf = opts.keyOf ?? aggregateKey;
    this.tracer = tracerOf(opts.service);
  }

  /** Creates this service's dead-letter stream (its own: see nats-auth.ts). */
  async prepare(): Promise<void> {
    if ((await this.opts.bus.ensureStream(this.dlq, this.opts.streamReplicas)) === 'differs')
      this.log.warn(
        { stream: this.dlq.name },
        "the dead-letter stream's limits differ from this configuration's; the operator user may change them",
      );
  }

  /** Pulls until stopped; an interruption (the bus away, the stream not created yet) is retried after 1 s. */
  async run(): Promise<void> {
    while (!this.stopped) {
      try {
        this.messages = await this.opts.bus.durable(this.spec);
        this.attached = true;
        if (this.stopped) break;
        for await (const msg of this.messages) {
          await this.receive(msg);
          if (this.stopped) break;
        }
      } catch (err) {
        if (!this.stopped) {
          // A stream not created yet is waited for quietly (the bus says so once).
          if (this.attached || !(err instanceof StreamNotFoundError))
            this.log.warn({ err: (err as Error).message }, 'consumer interrupted; resuming in 1 s');
          await new Promise((r) => setTimeout(r, 1_000));
        }
      }
    }
  }

  /** Takes one message in: into the next batch, or to its handler once a slot is free. */
  private async receive(msg: BusMessage): Promise<void> {
    const batch = this.batch;
    if (batch) {
      while (this.waiting.length >= 4 * (batch.max ?? 256)) await new Promise<void>((r) => this.slotFreed.push(r));
      this.waiting.push(msg);
      // Everything already received (or arriving within lingerMs) joins this batch.
      if (!this.draining && !this.lingering) {
        this.lingering = true;
        const go = () => {
          this.lingering = false;
          void this.drain();
        };
        if (batch.lingerMs) setTimeout(go, batch.lingerMs);
        else setImmediate(go);
      }
      return;
    }
    while (this.inFlight.size >= this.limit) await new Promise<void>((r) => this.slotFreed.push(r));
    // Taking the key's turn now (synchronously, in arrival order) keeps per-key order.
    const p: Promise<void> = this.handleOne(msg).finally(() => {
      this.inFlight.delete(p);
      this.slotFreed.shift()?.();
    });
    this.inFlight.add(p);
  }

  lag(): Promise<ConsumerLag | undefined> {
    return this.attached ? this.opts.bus.lag(this.opts.stream.name, this.opts.durable) : Promise.resolve(undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([...this.inFlight]);
    if (this.batch) await (this.draining ?? this.drain());
    await this.messages?.stop();
  }

  private count(type: string, outcome: string, n = 1): void {
    this.opts.metrics?.eventsConsumed.inc({ durable: this.opts.durable, type, outcome }, n);
  }

  /** Keeps the message in the dead-letter stream with `reason`, then terminates it. */
  private async setAside(msg: BusMessage, reason: string): Promise<void> {
    const { durable, stream } = this.opts;
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
      await this.opts.bus.append(
        `${this.dlq.subjects[0].slice(0, -1)}${durable}`,
        JSON.stringify(letter),
        `${stream.name}:${msg.seq}:${durable}`,
      );
      msg.term(reason);
    } catch (err) {
      // Not stored: leave it to be redelivered rather than lose it.
      this.log.error({ err: (err as Error).message, seq: msg.seq }, 'could not write the dead letter; will retry');
      msg.nak(backoffMs(msg.deliveryCount));
    }
  }

  /** The message's event when it is one this consumer handles; acks or sets aside the rest. */
  private async eventOf(msg: BusMessage): Promise<EventEnvelope | undefined> {
    let event: EventEnvelope;
    try {
      event = parseEvent(msg.data);
    } catch (err) {
      const reason = err instanceof InvalidEventError ? err.message : 'unparseable';
      this.log.error({ reason, subject: msg.subject, seq: msg.seq }, 'poison message set aside in the dead-letter stream');
      this.count('invalid', 'term');
      await this.setAside(msg, `poison: ${reason}`);
      return undefined;
    }
    if (msg.deliveryCount > 1) this.opts.metrics?.eventsRedelivered.inc({ durable: this.opts.durable });
    if (!this.types.includes(event.type)) {
      msg.ack();
      return undefined;
    }
    return event;
  }

  /** Naks a failed message, or sets it aside at its last delivery. */
  private async failed(msg: BusMessage, event: EventEnvelope, err: unknown): Promise<void> {
    const n = msg.deliveryCount;
    if (n >= this.maxDeliver) {
      this.log.error(
        { err, eventId: event.id, type: event.type, deliveries: n },
        'event failed at its last delivery; set aside in the dead-letter stream',
      );
      await this.setAside(msg, `failed ${n} times: ${(err as Error).message}`);
      this.count(event.type, 'term');
    } else {
      this.log.warn({ err, eventId: event.id, type: event.type, deliveries: n }, 'event handling failed; will retry');
      msg.nak(backoffMs(n));
      this.count(event.type, 'nak');
    }
  }

  private async handleOne(msg: BusMessage): Promise<void> {
    const event = await this.eventOf(msg);
    if (!event) return;
    const handler = this.handlers[event.type] as EventHandler;
    await inSpan(
      this.tracer,
      `process ${msg.subject}`,
      () => processSpan(msg, event, this.opts.durable),
      async (span) => {
        try {
          await this.ordering.run(this.keyOf(event), () => handler(event, { deliveryCount: msg.deliveryCount }));
          msg.ack();
          this.count(event.type, 'ack');
        } catch (err) {
          span.setAttribute('messaging.outcome', err instanceof Redeliver ? 'deferred' : 'failed');
          if (err instanceof Redeliver) return this.deferred(msg, event, err);
          await this.failed(msg, event, err);
        }
      },
    );
  }

  /** A handler wants the event again later: nak-ed with its delay, or acked past the last delivery. */
  private deferred(msg: BusMessage, event: EventEnvelope, err: Redeliver): void {
    if (msg.deliveryCount >= this.maxDeliver) {
      this.log.warn({ eventId: event.id, type: event.type }, 'event wanted again past its last delivery; acked');
      msg.ack();
    } else msg.nak(err.delayMs);
    this.count(event.type, 'deferred');
  }

  private async handleBatch(msgs: BusMessage[]): Promise<void> {
    const items: Item[] = [];
    for (const msg of msgs) {
      const event = await this.eventOf(msg);
      if (event) items.push({ msg, event });
    }
    if (!items.length) return;
    try {
      await inBatchSpans(this.tracer, this.opts.durable, items, () => this.batch!.handle(items.map((i) => i.event)));
      this.acked(items);
      return;
    } catch (err) {
      if (items.length === 1) return this.failed(items[0].msg, items[0].event, err);
    }
    // Find the failing ones: one at a time, in order.
    for (const i of items) {
      try {
        await inBatchSpans(this.tracer, this.opts.durable, [i], () => this.batch!.handle([i.event]));
        this.acked([i]);
      } catch (err) {
        await this.failed(i.msg, i.event, err);
      }
    }
  }

  private acked(items: Item[]): void {
    for (const i of items) {
      i.msg.ack();
      this.count(i.event.type, 'ack');
    }
  }

  /** Handles what is waiting, batch after batch, until nothing is. */
  private drain(): Promise<void> {
    this.draining ??= (async () => {
      while (this.waiting.length) {
        const take = this.waiting.splice(0, this.batch!.max ?? 256);
        await this.handleBatch(take).catch((err) => this.log.error({ err }, 'batch handling failed'));
        this.slotFreed.splice(0).forEach((wake) => wake());
      }
    })().finally(() => {
      this.draining = undefined;
    });
    return this.draining;
  }
}
