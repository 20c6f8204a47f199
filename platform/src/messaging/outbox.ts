/**
 * The transactional outbox, with write claims: this module orchestrates three parts, each of
 * its own module and tests: the write lease (persistence/claim-lease.ts), the relay
 * (outbox-relay.ts) and recovery (outbox-recovery.ts).
 *
 * Every state change of an aggregate document that raises events goes through
 * {@link Outbox.change}:
 * 1. **claim** the document: the write lease, exclusive across processes and replicas, which also
 *    records that the document may hold unpublished events. Within one process a keyed mutex
 *    orders changes first, so a claim is contended only across processes;
 * 2. the change **writes** the new state and its events in one single-document write (the events
 *    ride in the document's `outbox` field);
 * 3. the events are **published** to the bus (JetStream, with `Nats-Msg-Id` = event id: a re-send
 *    inside the stream's duplicate window is dropped);
 * 4. the claim is **deleted**: within `releaseAfterMs` (50), with the other claims this process
 *    finished meanwhile, in one `deleteMany`; a change of the same document in that time reuses it.
 * The caller has its answer after step 2; steps 3–4 finish in the background, still in the mutex.
 *
 * A claim older than its `staleAfterMs` belongs to a process that died mid-change: any replica's
 * sweeper (every `sweepMs`) takes it over, runs the collection's recovery (see
 * {@link Outbox.recoverWith}; e.g. registration abandons an attempt left PENDING), publishes
 * what the document's outbox holds, and deletes the claim. A claim whose publish failed (NATS
 * down) stays with its owner, which publishes again on each sweep until it succeeds; the claim
 * counts the failed attempts and keeps the last error and the events still unpublished
 * (`attempts`, `lastError`, `unpublished`).
 *
 * A claim is deleted only after its events were published, so a change that takes a fresh
 * claim knows every event stored in the document went out: it replaces the outbox (`$set`),
 * keeping documents small. A change that inherits a claim (taken over, or left unpublished by
 * this process) appends (`$push`) and publishes the whole stored outbox afterwards.
 *
 * The `_outbox` collection holds only changes in flight, so sweeping it costs next to nothing
 * whatever the size of the data; every other access is by `_id`.
 */
import type { Connection } from 'mongoose';
import type { EventEnvelope } from '@courses/contracts';
import { KeyedMutex } from '../concurrency/index.js';
import type { Logger, ServiceMetrics } from '../observability/index.js';
import { changeContext, ClaimLease, type ChangeContext, type Changed } from '../persistence/index.js';
import type { Bus } from './bus.js';
import { Recoveries, type Recovery } from './outbox-recovery.js';
import { OutboxRelay, PublishError } from './outbox-relay.js';

export interface OutboxOptions {
  conn: Connection;
  /** Where events go (only its `publish` is used). */
  bus: Pick<Bus, 'publish'>;
  logger: Logger;
  metrics?: ServiceMetrics;
  /** false leaves every event unpublished (the OUTBOX_RELAY=off fault switch). Default true. */
  publish?: boolean;
  /** Milliseconds between sweeps for abandoned and unpublished claims (default 1000). */
  sweepMs?: number;
  /** Default age (ms) after which a claim counts as abandoned (default 5000). */
  staleAfterMs?: number;
  /** How long (ms) a change waits for another process's claim before giving up (default 5000). */
  waitMs?: number;
  /** How long (ms) a finished claim may wait to be deleted with others in one command (default 50). */
  releaseAfterMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The outbox of one service process (one database connection). */
export class Outbox {
  private readonly mutex = new KeyedMutex();
  private readonly lease: ClaimLease;
  private readonly relay: OutboxRelay;
  private readonly recoveries = new Recoveries();
  /** Documents changed without a claim whose events could not be published yet (see applyFromEvent). */
  private readonly unpublished = new Set<string>();
  private readonly background = new Set<Promise<unknown>>();
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private stopped = false;
  private lastWarning = 0;

  constructor(private readonly opts: OutboxOptions) {
    this.lease = new ClaimLease({
      conn: opts.conn,
      staleAfterMs: opts.staleAfterMs,
      waitMs: opts.waitMs,
      releaseAfterMs: opts.releaseAfterMs,
      onReleaseError: (err) => this.warn(err, 'could not release outbox claims; will retry'),
    });
    this.relay = new OutboxRelay({ conn: opts.conn, bus: opts.bus, metrics: opts.metrics, publish: opts.publish });
  }

  /** This outbox's identity in the claims it writes. */
  get owner(): string {
    return this.lease.owner;
  }

  /** Registers how to finish a dead claimant's change on documents of `collection`. */
  recoverWith(collection: string, recovery: Recovery): void {
    this.recoveries.register(collection, recovery);
  }

  /**
   * Runs one change of document `docId` of `collection` under its claim (see the module doc)
   * and resolves with `fn`'s value once the change is stored; its events are published after.
   * `fn` should report business outcomes in its value and throw only on failures: after a
   * throw the claim stays, and the collection's recovery runs on the next sweep.
   * @param opts.staleAfterMs age after which a dead claimant's claim may be taken over (default 5000 ms);
   *   a change that waits on a slow call (e.g. a payment) needs more
   * @param opts.data kept in the claim for the recovery
   * @param opts.holdMs how long the claim stays after the change for another change of the same
   *   document to reuse (default `releaseAfterMs`); a hot document's writer keeps it longer, at
   *   the cost of another process waiting that long for it
   * @throws ClaimBusyError when another live process holds the claim past the wait; `fn`'s error.
   */
  change<T>(
    collection: string,
    docId: string,
    fn: (ctx: ChangeContext) => Promise<Changed<T>>,
    opts: { staleAfterMs?: number; data?: Record<string, unknown>; holdMs?: number } = {},
  ): Promise<T> {
    const key = `${collection}:${docId}`;
    return new Promise<T>((resolve, reject) => {
      this.track(
        this.mutex.run(key, async () => {
          let held: { inherited: boolean; continued: boolean };
          try {
            held = await this.lease.acquire(key, collection, docId, opts, this.recover);
          } catch (err) {
            reject(err);
            return;
          }
          let result: Changed<T>;
          try {
            result = await fn(changeContext(held.inherited, held.continued));
          } catch (err) {
            this.lease.failed(key, opts.data);
            reject(err);
            return;
          }
          resolve(result.value);
          await this.finish(key, collection, docId, result.events ?? [], held.inherited);
        }),
      );
    });
  }

  /** True when some process holds a claim on a document of `collection` whose claim data matches `filter` (e.g. `{ 'data.lectureId': id }`). */
  anyClaim(collection: string, filter: Record<string, unknown>): Promise<boolean> {
    return this.lease.anyClaim(collection, filter);
  }

  /** The ids among `docIds` of `collection` that some process holds a claim on now (one query). */
  claimed(collection: string, docIds: readonly string[]): Promise<string[]> {
    return this.lease.claimed(collection, docIds);
  }

  /**
   * Waits until no process holds a claim on any of `docIds` of `collection`, or `timeoutMs`
   * passes: a reader that must see a change another process answered for but has not stored yet.
   */
  async waitForRelease(collection: string, docIds: readonly string[], timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    let left = [...docIds];
    while (left.length && Date.now() < until) {
      await sleep(10);
      left = await this.claimed(collection, left);
    }
  }

  /**
   * Runs one change of document `docId` of `collection` caused by a durable event (a message
   * that is delivered again until it is acked), without a claim: the event is the record
   * that the change must happen and be published, so this publishes before resolving (the caller
   * acks after) and throws when it cannot (the event comes again). A `redelivered` event first
   * publishes what the document's outbox holds, in case an earlier delivery stored its change and
   * died before publishing it. `fn` must append its events (`ctx.withEvents` does) and its writes
   * must be safe without a lease: inserts, or updates guarded by a state no other writer moves
   * from concurrently. Changes of one document in this process still run one at a time.
   * @throws `fn`'s error, or the publishing error.
   */
  applyFromEvent<T>(collection: string, docId: string, fn: (ctx: ChangeContext) => Promise<Changed<T>>, redelivered: boolean): Promise<T> {
    return this.mutex.run(`${collection}:${docId}`, async () => {
      // With the relay off (a fault switch), nothing may be acked as published: the event comes again.
      if (!this.relay.publishing) throw new Error('the outbox relay is off (OUTBOX_RELAY=off)');
      if (redelivered) await this.relay.publishStored(collection, docId);
      const result = await fn(changeContext(true, false));
      try {
        await this.relay.publish(result.events ?? []);
      } catch (err) {
        // The event comes again after its ack wait; until then the sweeper keeps trying.
        this.unpublished.add(`${collection}:${docId}`);
        throw err;
      }
      return result.value;
    });
  }

  /** Starts the sweeper; the first sweep runs at once. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.sweep(), this.opts.sweepMs ?? 1_000);
    this.timer.unref();
    void this.sweep();
  }

  /** Stops sweeping, waits for changes in flight and deletes finished claims. Claims not yet published stay for a successor. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.sweeping;
    while (this.background.size) await Promise.allSettled([...this.background]);
    await this.lease.stop();
  }

  /** Claims this process holds with unpublished events or an unfinished change (for tests and metrics). */
  get unsettled(): number {
    return this.unpublished.size + this.lease.unsettled().length;
  }

  /**
   * Age of the oldest claim of any process (ms; 0 when none): how long the oldest change in
   * flight has waited to be published and released. Long-lived claims mean NATS is unreachable
   * or a process died mid-change.
   */
  oldestClaimAgeMs(): Promise<number> {
    return this.lease.oldestClaimAgeMs();
  }

  /** Runs one sweep now: this process's unsettled claims, its claim-less changes, then abandoned claims of others. */
  sweep(): Promise<void> {
    this.sweeping ??= this.sweepOnce().finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  private async sweepOnce(): Promise<void> {
    try {
      await this.settleOwn();
      await this.publishClaimless();
      if (this.relay.publishing) await this.finishAbandoned();
    } catch (err) {
      this.warn(err, 'outbox sweep failed; will retry');
    }
  }

  /** This process's claims left unpublished or failed: recovered when failed, published, released. */
  private async settleOwn(): Promise<void> {
    for (const { key, failed } of this.lease.unsettled()) {
      if (this.stopped) return;
      if (!failed && !this.relay.publishing) continue;
      const [collection, docId] = split(key);
      await this.mutex.run(key, async () => {
        const now = this.lease.unsettledOf(key);
        if (!now) return; // settled meanwhile
        if (now.failed) await this.recover(collection, docId, now.data);
        this.lease.unpublished(key);
        try {
          await this.relay.publishStored(collection, docId);
        } catch (err) {
          await this.noteFailed(key, err);
          throw err;
        }
        this.lease.release(key);
      });
    }
  }

  /** Documents changed without a claim (applyFromEvent) whose events could not be published: published now. */
  private async publishClaimless(): Promise<void> {
    for (const key of [...this.unpublished]) {
      if (this.stopped || !this.relay.publishing) break;
      const [collection, docId] = split(key);
      await this.mutex.run(key, () => this.relay.publishStored(collection, docId));
      this.unpublished.delete(key);
    }
  }

  /** Claims of processes that died mid-change: taken over, recovered, their stored events published, released. */
  private async finishAbandoned(): Promise<void> {
    for (const c of await this.lease.abandoned()) {
      if (this.stopped) return;
      await this.mutex.run(c._id, async () => {
        if (!(await this.lease.takeOver(c))) return;
        this.lease.unpublished(c._id);
        await this.recover(c.collection, c.docId, c.data);
        await this.relay.publishStored(c.collection, c.docId);
        this.lease.release(c._id);
        this.opts.logger.warn({ claim: c._id, owner: c.owner }, 'finished a change abandoned by another process');
      });
    }
  }

  private readonly recover = (collection: string, docId: string, data: Record<string, unknown> | undefined): Promise<void> =>
    this.recoveries.run(collection, docId, data);

  /** Publishes a change's events (or, when inherited, everything stored) and releases the claim; on failure leaves it to the sweeper. */
  private async finish(key: string, collection: string, docId: string, events: EventEnvelope[], inherited: boolean): Promise<void> {
    if (!this.relay.publishing) {
      this.lease.unpublished(key);
      return;
    }
    try {
      if (inherited) await this.relay.publishStored(collection, docId);
      else await this.relay.publish(events);
      this.lease.release(key);
    } catch (err) {
      this.lease.unpublished(key);
      await this.noteFailed(key, err);
      this.warn(err, 'could not publish events; will retry');
    }
  }

  /** Counts a failed publishing attempt in `key`'s claim, with the events it left unpublished when the relay says. */
  private noteFailed(key: string, err: unknown): Promise<void> {
    return this.lease.noteFailedAttempt(key, err, err instanceof PublishError ? err.unpublished : undefined);
  }

  private track(p: Promise<unknown>): void {
    this.background.add(p);
    void p.finally(() => this.background.delete(p));
  }

  private warn(err: unknown, msg: string): void {
    const now = Date.now();
    if (now - this.lastWarning > 5_000) this.opts.logger.warn({ err: (err as Error).message }, msg);
    this.lastWarning = now;
  }
}

function split(key: string): [string, string] {
  const i = key.indexOf(':');
  return [key.slice(0, i), key.slice(i + 1)];
}
