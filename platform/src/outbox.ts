/**
 * The outbox relay: publishes events that aggregates stored in their `outbox` array and
 * removes each one after JetStream acknowledged it.
 *
 * An event is written in the same single-document update as the state change it describes
 * (one update is all-or-nothing on MongoDB and FerretDB; concurrent updates of one document
 * are serialized by ./document-lock.ts), so a crash can never leave a change without its
 * event. The relay is the only publisher. Kicked with the document a write touched, it
 * publishes that document's events at once (an `_id` lookup); a full sweep of every
 * collection on a timer (`pollMs`) catches what no kick named: events left by a crashed
 * process or another replica. A crash between publish and removal re-publishes the event;
 * JetStream drops the copy because `Nats-Msg-Id` is the event id.
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
  /** Milliseconds between full sweeps for events that no kick named (default 5000). */
  pollMs?: number;
  /** Documents read per sweep and collection (default 100). */
  batch?: number;
  /** Documents whose events are published at once; each document's events stay in order (default 16). */
  concurrency?: number;
}

/** The relay of one service process. */
export interface OutboxRelay {
  /**
   * Asks for the events of one document (`collection`, `id`) to be published now; without
   * arguments, asks for a full sweep. Coalesced with a run under way.
   */
  kick(collection?: string, id?: string): void;
  stop(): Promise<void>;
}

/** Starts the relay's timer; the first sweep runs at once. */
export function startOutboxRelay(opts: OutboxRelayOptions): OutboxRelay {
  const { js, namespace, logger, collections } = opts;
  const batch = opts.batch ?? 100;
  let running: Promise<number> | undefined;
  let again = false;
  /** Documents named by kicks and not yet relayed, per collection. */
  const dirty = new Map<string, Set<unknown>>();
  let fullSweep = true;
  let stopped = false;
  let lastError = 0;

  async function sweepOnce(): Promise<number> {
    let published = 0;
    const full = fullSweep;
    fullSweep = false;
    for (const col of collections) {
      const named = dirty.get(col.collectionName);
      dirty.delete(col.collectionName);
      const docs = full
        ? await col.find({ 'outbox.id': { $exists: true } }, { projection: { outbox: 1 } }).limit(batch).toArray()
        : named?.size
          ? await col.find({ _id: { $in: [...named] } } as Document, { projection: { outbox: 1 } }).toArray()
          : [];
      const relayDocument = async (doc: Document) => {
        for (const event of (doc.outbox ?? []) as EventEnvelope[]) {
          await publishEvent(js, event, namespace);
          // Pull the exact stored object: FerretDB v1 matches $pull by whole value only.
          await opts.locks.run(`${col.collectionName}:${String(doc._id)}`, () =>
            col.updateOne({ _id: doc._id }, { $pull: { outbox: event } } as Document),
          );
          opts.metrics?.eventsPublished.inc({ type: event.type });
          published++;
        }
      };
      // Documents in parallel (bounded), each document's events in order.
      const queue = [...docs];
      const workers = Array.from({ length: Math.min(opts.concurrency ?? 16, queue.length) }, async () => {
        for (let doc = queue.shift(); doc; doc = queue.shift()) await relayDocument(doc);
      });
      const results = await Promise.allSettled(workers);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
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
        fullSweep = true; // retry everything not yet published on the next run
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
    if (stopped) return;
    fullSweep = true;
    void run();
  }, opts.pollMs ?? 5_000);
  timer.unref();
  void run();

  return {
    kick(collection, id) {
      if (stopped) return;
      if (collection && id !== undefined) {
        const set = dirty.get(collection) ?? new Set();
        set.add(id);
        dirty.set(collection, set);
      } else fullSweep = true;
      void run();
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
