/**
 * {@link Bus} on NATS JetStream: streams with the platform's limits, publishing with
 * `Nats-Msg-Id` (the stream drops a re-send within its duplicate window), durable pull consumers
 * with explicit acks, and ordered consumers for live listening. The connection's user needs what
 * its role allows (nats-auth.ts).
 */
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  type Consumer,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type StreamState,
} from '@nats-io/jetstream';
import { streamOf, type Context, type EventEnvelope, type StreamSpec } from '@courses/contracts';
import type { Logger } from '../observability/index.js';
import {
  listenByFollowing,
  StreamNotFoundError,
  type Bus,
  type BusMessage,
  type ConsumerLag,
  type DurableMessages,
  type DurableSpec,
  type Following,
  type StreamBounds,
  type StreamRecord,
} from './bus.js';
import type { DeadLetter } from './handlers.js';
import { deadLetterStream } from './nats-auth.js';
import { jetstreamOf, natsReady, type NatsConnection } from './nats-connection.js';
import { ensureStream, isNotFound, publishEvent } from './nats-streams.js';

/** The bus of one NATS connection, in `namespace` (subjects and streams, see `@courses/contracts`). */
export class NatsBus implements Bus {
  readonly kind = 'nats';
  private readonly js: JetStreamClient;
  private readonly jsm: Promise<JetStreamManager>;
  /** Streams already reported as missing (logged once each). */
  private readonly waitingFor = new Set<string>();

  constructor(
    readonly nc: NatsConnection,
    private readonly namespace: string,
    private readonly logger: Logger,
  ) {
    this.js = jetstream(nc);
    // No `$JS.API.INFO` call: a listener's NATS user (the gateway's) may read its streams, nothing more.
    this.jsm = jetstreamManager(nc, { checkAPI: false });
    this.jsm.catch(() => undefined); // an error surfaces where it is awaited
  }

  /** @throws as {@link ensureStream} does. */
  async ensureStream(spec: StreamSpec, replicas = 1): Promise<'ok' | 'differs'> {
    return ensureStream(await this.jsm, spec, replicas);
  }

  publish(event: EventEnvelope): Promise<void> {
    return publishEvent(this.js, event, this.namespace);
  }

  async append(subject: string, body: string, msgId: string): Promise<void> {
    await this.js.publish(subject, body, { msgID: msgId, timeout: 5_000 });
  }

  async durable(spec: DurableSpec): Promise<DurableMessages> {
    const consumer = await this.attach(spec);
    // Short pulls (5 s, heartbeats every 2.5 s): after a NATS restart the lost pull is noticed
    // and renewed within seconds instead of the client's 30 s default.
    const messages: ConsumerMessages = await consumer.consume({ max_messages: spec.maxMessages, expires: 5_000 });
    return {
      async *[Symbol.asyncIterator]() {
        for await (const m of messages) yield busMessage(m);
      },
      async stop() {
        await messages.close().catch(() => undefined);
      },
    };
  }

  async lag(stream: string, durable: string): Promise<ConsumerLag | undefined> {
    const jsm = await this.jsm;
    const info = await jsm.consumers.info(stream, durable).catch((err: Error) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    return info && { pending: info.num_pending, unacked: info.num_ack_pending };
  }

  async bounds(context: Context): Promise<StreamBounds> {
    const { first_seq, last_seq } = await this.streamState(streamOf(context, this.namespace).name);
    return { first: first_seq, last: last_seq };
  }

  /**
   * What stream `name` holds now.
   * @throws StreamNotFoundError when it does not exist (NATS says so in words only, JSApiError
   *   10059: one typed error for every bus); NATS's error otherwise.
   */
  private async streamState(name: string): Promise<StreamState> {
    try {
      return (await (await this.jsm).streams.info(name)).state;
    } catch (err) {
      throw isNotFound(err) ? new StreamNotFoundError(name, err) : err;
    }
  }

  /** Through an ordered consumer (ephemeral, in memory, no acks; nats.js re-creates it after the last sequence it saw). */
  async follow(context: Context, from: number | 'next', onRecord: (record: StreamRecord) => void): Promise<Following> {
    const name = streamOf(context, this.namespace).name;
    const start = from === 'next' ? (await this.bounds(context)).last + 1 : from;
    const consumer = await this.js.consumers.get(name, { opt_start_seq: start }).catch((err: unknown) => {
      throw isNotFound(err) ? new StreamNotFoundError(name, err) : err;
    });
    const messages = await consumer.consume({ max_messages: 256 });
    let stopped = false;
    void (async () => {
      for await (const m of messages) {
        if (stopped) break;
        onRecord({ subject: m.subject, seq: m.seq, data: m.data, header: (key) => m.headers?.get(key) || undefined });
      }
    })().catch((err: Error) => {
      if (!stopped) this.logger.error({ err: err.message, stream: name }, 'stream reading stopped');
    });
    return {
      from: start,
      stop() {
        stopped = true;
        messages.stop();
        void messages.closed().catch(() => undefined);
        void consumer.delete().catch(() => undefined);
      },
    };
  }

  listen(context: Context, listener: (event: EventEnvelope, seq: number) => void): Promise<() => void> {
    return listenByFollowing(this, context, listener, (err, subject) =>
      this.logger.warn({ err: (err as Error).message, subject }, 'live listener skipped a message'),
    );
  }

  ready(): boolean {
    return natsReady(this.nc);
  }

  async close(opts: { drain?: boolean } = {}): Promise<void> {
    if (this.nc.isClosed()) return;
    await (opts.drain ? this.nc.drain() : this.nc.close());
  }

  /** The durable consumer, created or updated once the stream exists. @throws while it does not. */
  private async attach(spec: DurableSpec): Promise<Consumer> {
    const jsm = await this.jsm;
    const { stream, durable } = spec;
    try {
      await this.streamState(stream.name);
      this.waitingFor.delete(stream.name);
    } catch (err) {
      if (err instanceof StreamNotFoundError && !this.waitingFor.has(stream.name)) {
        this.waitingFor.add(stream.name);
        this.logger.info({ stream: stream.name, durable }, 'waiting for the stream (its publisher creates it)');
      }
      throw err;
    }
    const limits = { ack_wait: spec.ackWaitMs * 1_000_000, max_deliver: spec.maxDeliver };
    try {
      await jsm.consumers.info(stream.name, durable);
      await jsm.consumers.update(stream.name, durable, limits);
    } catch {
      const config = {
        durable_name: durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ...limits,
        // One wildcard filter per stream (nats-server < 2.10 has no filter_subjects).
        filter_subject: stream.subjects[0],
      };
      await jsm.consumers.add(stream.name, config).catch(async (err) => {
        await jsm.consumers.info(stream.name, durable).catch(() => {
          throw err;
        });
      });
    }
    return this.js.consumers.get(stream.name, durable);
  }
}

/** A JetStream message as a {@link BusMessage}. */
function busMessage(m: JsMsg): BusMessage {
  return {
    subject: m.subject,
    seq: m.seq,
    data: m.data,
    deliveryCount: m.info.deliveryCount,
    header: (name) => m.headers?.get(name) || undefined,
    ack: () => m.ack(),
    nak: (delayMs) => m.nak(delayMs),
    // A plain TERM: servers before 2.10.4 do not know `+TERM <reason>` and ignore it, so the
    // message came again after its ack wait (nats-io/nats.go#1539). The reason is kept by the
    // caller (consumer.ts writes it into the dead letter).
    term: () => m.term(),
  };
}

/** A dead letter as read back from its stream: {@link DeadLetter} and where it is kept. */
export interface StoredDeadLetter extends DeadLetter {
  /** Its sequence in the dead-letter stream. */
  letterSeq: number;
}

/**
 * The dead letters `service`'s consumers set aside (oldest first, at most `limit`), read through
 * an ephemeral ordered consumer, which leaves the stream as it is. What the `operator` NATS user
 * may do (nats-auth.ts), and what `npm run dead-letters` prints.
 * @throws when the stream does not exist (the service has never started) or NATS refuses.
 */
export async function readDeadLetters(nc: NatsConnection, service: string, namespace = '', limit = 100): Promise<StoredDeadLetter[]> {
  const { js, jsm } = await jetstreamOf(nc);
  const name = deadLetterStream(service, namespace).name;
  const held = (await jsm.streams.info(name)).state;
  if (!held.messages) return [];
  const consumer = await js.consumers.get(name, { opt_start_seq: held.first_seq });
  const letters: StoredDeadLetter[] = [];
  try {
    const batch = await consumer.fetch({ max_messages: Math.min(limit, held.messages), expires: 2_000 });
    for await (const m of batch) {
      letters.push({ ...(JSON.parse(new TextDecoder().decode(m.data)) as DeadLetter), letterSeq: m.seq });
      if (letters.length >= Math.min(limit, held.messages)) break;
    }
  } finally {
    await consumer.delete().catch(() => undefined);
  }
  return letters;
}
