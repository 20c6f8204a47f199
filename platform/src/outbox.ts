/**
 * The outbox relay: publishes events that aggregates stored in their `outbox` array and
 * removes each one after JetStream acknowledged it.
 *
 * An event is written in the same single-document update as the state change it describes
 * (MongoDB and FerretDB both make one-document updates atomic), so a crash can never leave
 * a change without its event. The relay is the only publisher: it runs on a timer
 * (`pollMs`) and when kicked after a write. A crash between publish and removal re-publishes
 * the event; JetStream drops the copy because `Nats-Msg-Id` is the event id.
 */
import type { mongo } from 'mongoose';

type Collection<T extends mongo.Document> = mongo.Collection<T>;
type Document = mongo.Document;
import type { JetStreamClient } from '@nats-io/jetstream';
import type { EventEnvelope } from '@courses/contracts';
import type { DocumentLocks } from './document-lock.js';
import { publishEvent } from './nats.js';
import type { Logger } from './logger.js';
import type { ServiceMetrics } from './metrics.js';

export interface OutboxRelayOptions {
  /** The aggregate collections whose documents carry an `outbox` array. */
  collections: Collection<Document>[];
  /** The write locks the aggregates' repositories use (keys `<collection>:<_id>`). */
  locks: DocumentLocks;
  js: JetStreamClient;
  namespace: string;
  logger: Logger;
  metrics?: ServiceMetrics;
  /** Milliseconds between sweeps for events that a kick missed (default 500). */
  pollMs?: number;
  /** Documents read per sweep and collection (default 100). */
  batch?: number;
}

/** The relay of one service process. */
export interface OutboxRelay {
  /** Asks for a sweep now (coalesced with one under way). */
  kick(): void;
  /** Runs one sweep to completion; resolves with the number of events published. */
  flush(): Promise<number>;
  stop(): Promise<void>;
}

/** Starts the relay's timer; the first sweep runs at once. */
export function startOutboxRelay(opts: OutboxRelayOptions): OutboxRelay {
  const { js, namespace, logger, collections } = opts;
  const batch = opts.batch ?? 100;
  let running: Promise<number> | undefined;
  let again = false;
  let stopped = false;
  let lastError = 0;

  async function sweepOnce(): Promise<number> {
    let published = 0;
    for (const col of collections) {
      const docs = await col
        .find({ 'outbox.id': { $exists: true } }, { projection: { outbox: 1 } })
        .limit(batch)
        .toArray();
      for (const doc of docs) {
        for (const event of (doc.outbox ?? []) as EventEnvelope[]) {
          await publishEvent(js, event, namespace);
          // Pull the exact stored object: FerretDB v1 matches $pull by whole value only.
          await opts.locks.run(`${col.collectionName}:${String(doc._id)}`, () =>
            col.updateOne({ _id: doc._id }, { $pull: { outbox: event } } as Document),
          );
          opts.metrics?.eventsPublished.inc({ type: event.type });
          published++;
        }
      }
    }
    return published;
  }

  async function sweep(): Promise<number> {
    let total = 0;
    do {
      again = false;
      try {
        total += await sweepOnce();
      } catch (err) {
        const now = Date.now();
        if (now - lastError > 5_000) logger.warn({ err: (err as Error).message }, 'outbox relay could not publish; will retry');
        lastError = now;
        break;
      }
    } while (again && !stopped);
    return total;
  }

  function run(): Promise<number> {
    if (running) {
      again = true;
      return running;
    }
    running = sweep().finally(() => {
      running = undefined;
    });
    return running;
  }

  const timer = setInterval(() => {
    if (!stopped) void run();
  }, opts.pollMs ?? 500);
  timer.unref();
  void run();

  return {
    kick() {
      if (!stopped) void run();
    },
    async flush() {
      await running;
      return run();
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
