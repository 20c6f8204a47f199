/**
 * The transactional outbox, with write claims.
 *
 * Every state change of an aggregate document that raises events goes through
 * {@link Outbox.change}:
 * 1. **claim** the document: insert `{ _id: '<collection>:<id>', owner, at, staleAfterMs }` into
 *    the service's `_outbox` collection. The unique `_id` makes the claim exclusive across
 *    processes and replicas, so it is the document's write lease (FerretDB v1 does not apply
 *    concurrent updates of one document atomically: measured, 3 × 200 concurrent `$inc` kept
 *    16–158 of each 200), and it records that the document may hold unpublished events. Within
 *    one process a keyed mutex orders changes first, so a claim is contended only across processes;
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
 * down) stays with its owner, which publishes again on each sweep until it succeeds.
 *
 * A claim is deleted only after its events were published, so a change that takes a fresh
 * claim knows every event stored in the document went out: it replaces the outbox (`$set`),
 * keeping documents small. A change that inherits a claim (taken over, or left unpublished by
 * this process) appends (`$push`) and publishes the whole stored outbox afterwards.
 *
 * The `_outbox` collection holds only changes in flight, so sweeping it costs next to nothing
 * whatever the size of the data; every other access is by `_id`.
 */
import { hostname } from 'node:os';
import type { Connection, mongo } from 'mongoose';
import type { EventEnvelope } from '@courses/contracts';
import { KeyedMutex } from '../concurrency/index.js';
import type { Logger, ServiceMetrics } from '../observability/index.js';
import { changeContext, isDuplicateKey, type ChangeContext, type Changed } from '../persistence/index.js';
import type { Bus } from './bus.js';

/** Name of the collection that holds the claims of changes in flight. */
export const CLAIMS_COLLECTION = '_outbox';

/** A stored claim. `data` is what the claimant left for a recovery (e.g. an attempt's keys). */
export interface Claim {
  _id: string;
  collection: string;
  docId: string;
  owner: string;
  at: Date;
  /** After this many ms the claim counts as abandoned and may be taken over. */
  staleAfterMs: number;
  data?: Record<string, unknown>;
}

/**
 * Finishes what a dead claimant left in document `docId` (the claim is held by the caller):
 * writes the state the document must end in, with its events via `ctx.withEvents`. The stored
 * outbox is published afterwards.
 */
export type Recovery = (docId: string, data: Record<string, unknown> | undefined, ctx: ChangeContext) => Promise<void>;

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

/** A new claim-owner identity: host, pid and a random suffix (one per outbox, so in-process replicas differ too). */
function newOwner(): string {
  return `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 10)}`;
}

/** Raised when another process holds a document's claim for longer than the wait allows. */
export class ClaimBusyError extends Error {
  override name = 'ClaimBusyError';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Claims this process still holds after their change: not yet published, or the change failed
 * midway, or done and waiting to be deleted with others (`idle`), or being deleted.
 */
type Leftover =
  | { state: 'unpublished' }
  | { state: 'failed'; data?: Record<string, unknown> }
  | { state: 'idle'; reusableUntil: number; releaseAt: number }
  | { state: 'releasing'; done: Promise<void> };

/** The outbox of one service process (one database connection). */
export class Outbox {
  private readonly claims: mongo.Collection<Claim>;
  private readonly mutex = new KeyedMutex();
  private readonly leftovers = new Map<string, Leftover>();
  /** Documents changed without a claim whose events could not be published yet (see applyFromEvent). */
  private readonly unpublished = new Set<string>();
  /** Claims in use by a change now: until when (epoch ms) they may be reused, and how long to keep them after. */
  private readonly inUse = new Map<string, { reusableUntil: number; holdMs: number }>();
  private readonly recoveries = new Map<string, Recovery>();
  private readonly background = new Set<Promise<unknown>>();
  private readonly publishing: boolean;
  private readonly staleAfterMs: number;
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private releaseTimer: NodeJS.Timeout | undefined;
  private releaseDue = 0;
  private stopped = false;
  private lastWarning = 0;
  /** This outbox's identity in the claims it writes. */
  readonly owner = newOwner();

  constructor(private readonly opts: OutboxOptions) {
    this.claims = opts.conn.collection<Claim>(CLAIMS_COLLECTION);
    this.publishing = opts.publish ?? true;
    this.staleAfterMs = opts.staleAfterMs ?? 5_000;
  }

  /** Registers how to finish a dead claimant's change on documents of `collection`. */
  recoverWith(collection: string, recovery: Recovery): void {
    this.recoveries.set(collection, recovery);
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
          let taken: { inherited: boolean; continued: boolean };
          try {
            taken = await this.claim(key, collection, docId, opts);
            const use = this.inUse.get(key);
            if (use && opts.holdMs !== undefined) use.holdMs = opts.holdMs;
          } catch (err) {
            reject(err);
            return;
          }
          const { inherited } = taken;
          let result: Changed<T>;
          try {
            result = await fn(changeContext(inherited, taken.continued));
          } catch (err) {
            this.inUse.delete(key);
            this.leftovers.set(key, { state: 'failed', data: opts.data });
            reject(err);
            return;
          }
          resolve(result.value);
          await this.finish(key, collection, docId, result.events ?? [], inherited);
        }),
      );
    });
  }

  /** True when some process holds a claim on a document of `collection` whose claim data matches `filter` (e.g. `{ 'data.lectureId': id }`). */
  async anyClaim(collection: string, filter: Record<string, unknown>): Promise<boolean> {
    return (await this.claims.findOne({ collection, ...filter }, { projection: { _id: 1 } })) !== null;
  }

  /** The ids among `docIds` of `collection` that some process holds a claim on now (one query). */
  async claimed(collection: string, docIds: readonly string[]): Promise<string[]> {
    const keys = docIds.map((id) => `${collection}:${id}`);
    const found = await this.claims.find({ _id: { $in: keys } }, { projection: { docId: 1 } }).toArray();
    return found.map((c) => c.docId);
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
   * Runs one change of document `docId` of `collection` caused by a durable event (a JetStream
   * message that is delivered again until it is acked), without a claim: the event is the record
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
      if (!this.publishing) throw new Error('the outbox relay is off (OUTBOX_RELAY=off)');
      if (redelivered) await this.publishStored(collection, docId);
      const result = await fn(changeContext(true, false));
      try {
        for (const e of result.events ?? []) await this.publish(e);
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
    clearTimeout(this.releaseTimer);
    await this.releaseIdle().catch(() => undefined);
  }

  /** Claims this process holds with unpublished events or an unfinished change (for tests and metrics). */
  get unsettled(): number {
    let n = this.unpublished.size;
    for (const l of this.leftovers.values()) if (l.state === 'unpublished' || l.state === 'failed') n++;
    return n;
  }

  /**
   * Age of the oldest claim of any process (ms; 0 when none): how long the oldest change in
   * flight has waited to be published and released. Long-lived claims mean NATS is unreachable
   * or a process died mid-change.
   */
  async oldestClaimAgeMs(): Promise<number> {
    const [oldest] = await this.claims
      .find({}, { projection: { at: 1 } })
      .sort({ at: 1 })
      .limit(1)
      .toArray();
    return oldest ? Math.max(0, Date.now() - oldest.at.getTime()) : 0;
  }

  /** Runs one sweep now: this process's unsettled claims, then abandoned claims of others. */
  sweep(): Promise<void> {
    this.sweeping ??= this.sweepOnce().finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  private async sweepOnce(): Promise<void> {
    try {
      for (const [key, left] of [...this.leftovers]) {
        if (this.stopped) return;
        if (left.state === 'idle' || left.state === 'releasing') continue;
        if (left.state === 'unpublished' && !this.publishing) continue;
        const [collection, docId] = split(key);
        await this.mutex.run(key, async () => {
          const now = this.leftovers.get(key);
          if (!now || now.state === 'idle' || now.state === 'releasing') return; // settled meanwhile
          if (now.state === 'failed') await this.recover(collection, docId, now.data);
          this.leftovers.set(key, { state: 'unpublished' });
          await this.publishStored(collection, docId);
          await this.release(key);
        });
      }
      for (const key of [...this.unpublished]) {
        if (this.stopped || !this.publishing) break;
        const [collection, docId] = split(key);
        await this.mutex.run(key, () => this.publishStored(collection, docId));
        this.unpublished.delete(key);
      }
      if (!this.publishing) return;
      const now = Date.now();
      for (const c of await this.claims
        .find({ owner: { $ne: this.owner } })
        .limit(1_000)
        .toArray()) {
        if (this.stopped) return;
        if (now - new Date(c.at).getTime() <= c.staleAfterMs) continue;
        await this.mutex.run(c._id, async () => {
          if (!(await this.takeOver(c))) return;
          this.leftovers.set(c._id, { state: 'unpublished' });
          await this.recover(c.collection, c.docId, c.data);
          await this.publishStored(c.collection, c.docId);
          await this.release(c._id);
          this.opts.logger.warn({ claim: c._id, owner: c.owner }, 'finished a change abandoned by another process');
        });
      }
    } catch (err) {
      this.warn(err, 'outbox sweep failed; will retry');
    }
  }

  /** Takes the claim, or reuses this process's leftover one; resolves with whether stored events may be unpublished. */
  private async claim(
    key: string,
    collection: string,
    docId: string,
    opts: { staleAfterMs?: number; data?: Record<string, unknown> },
  ): Promise<{ inherited: boolean; continued: boolean }> {
    let left = this.leftovers.get(key);
    if (left?.state === 'idle' && Date.now() < left.reusableUntil) {
      // Finished and not deleted yet: this change reuses it; every event it covered went out.
      this.leftovers.delete(key);
      this.inUse.set(key, { reusableUntil: left.reusableUntil, holdMs: this.opts.releaseAfterMs ?? 50 });
      return { inherited: false, continued: true };
    }
    if (left?.state === 'idle') {
      // Ours but too old to reuse (another process could soon take it for abandoned): let it go now.
      await this.claims.deleteOne({ _id: key, owner: this.owner });
      this.leftovers.delete(key);
      left = undefined;
    }
    if (left?.state === 'releasing') {
      await left.done;
      left = this.leftovers.get(key);
    }
    if (left && left.state !== 'idle' && left.state !== 'releasing') {
      if ((await this.claims.findOne({ _id: key }))?.owner === this.owner) {
        if (left.state === 'failed') await this.recover(collection, docId, left.data);
        this.leftovers.set(key, { state: 'unpublished' });
        return { inherited: true, continued: false };
      }
      this.leftovers.delete(key); // another process took it over (we were too slow) and settled it
    }
    const mine: Claim = {
      _id: key,
      collection,
      docId,
      owner: this.owner,
      at: new Date(),
      staleAfterMs: opts.staleAfterMs ?? this.staleAfterMs,
      ...(opts.data ? { data: opts.data } : {}),
    };
    // Reused for other changes only well before anyone could take it for abandoned.
    this.inUse.set(key, { reusableUntil: mine.at.getTime() + mine.staleAfterMs / 2, holdMs: this.opts.releaseAfterMs ?? 50 });
    const until = Date.now() + (this.opts.waitMs ?? 5_000);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.claims.insertOne(mine);
        return { inherited: false, continued: false };
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
      }
      const other = await this.claims.findOne({ _id: key });
      if (other && Date.now() - new Date(other.at).getTime() > other.staleAfterMs) {
        if (await this.takeOver(other, mine)) {
          await this.recover(collection, docId, other.data);
          return { inherited: true, continued: false };
        }
        continue;
      }
      if (Date.now() > until) throw new ClaimBusyError(`${key} is being changed by another process`);
      await sleep(Math.min(50, 2 + attempt * 2) * (0.5 + Math.random()));
    }
  }

  /** Replaces an abandoned claim with this process's; false when another process got there first. */
  private async takeOver(stale: Claim, mine?: Claim): Promise<boolean> {
    const removed = await this.claims.deleteOne({ _id: stale._id, owner: stale.owner, at: stale.at });
    if (removed.deletedCount !== 1) return false;
    try {
      await this.claims.insertOne(mine ?? { ...stale, owner: this.owner, at: new Date() });
      return true;
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }

  private async recover(collection: string, docId: string, data: Record<string, unknown> | undefined): Promise<void> {
    await this.recoveries.get(collection)?.(docId, data, changeContext(true, false));
  }

  /** Publishes a change's events (or, when inherited, everything stored) and deletes the claim; on failure leaves it to the sweeper. */
  private async finish(key: string, collection: string, docId: string, events: EventEnvelope[], inherited: boolean): Promise<void> {
    if (!this.publishing) {
      this.inUse.delete(key);
      this.leftovers.set(key, { state: 'unpublished' });
      return;
    }
    try {
      if (inherited) await this.publishStored(collection, docId);
      else for (const e of events) await this.publish(e);
      await this.release(key);
    } catch (err) {
      this.inUse.delete(key);
      this.leftovers.set(key, { state: 'unpublished' });
      this.warn(err, 'could not publish events; will retry');
    }
  }

  private async publishStored(collection: string, docId: string): Promise<void> {
    const doc = await this.opts.conn.collection(collection).findOne({ _id: docId as never }, { projection: { outbox: 1 } });
    for (const e of (doc?.outbox ?? []) as EventEnvelope[]) await this.publish(e);
  }

  private async publish(event: EventEnvelope): Promise<void> {
    await this.opts.bus.publish(event);
    this.opts.metrics?.eventsPublished.inc({ type: event.type });
  }

  /** Marks a claim finished; it is deleted with the others once its hold time is over. */
  private async release(key: string): Promise<void> {
    const use = this.inUse.get(key);
    this.inUse.delete(key);
    const holdMs = use?.holdMs ?? this.opts.releaseAfterMs ?? 50;
    this.leftovers.set(key, { state: 'idle', reusableUntil: use?.reusableUntil ?? 0, releaseAt: Date.now() + holdMs });
    this.scheduleRelease(holdMs);
  }

  private scheduleRelease(inMs: number): void {
    const due = Date.now() + inMs;
    if (this.releaseTimer && this.releaseDue <= due) return;
    clearTimeout(this.releaseTimer);
    this.releaseDue = due;
    this.releaseTimer = setTimeout(() => {
      this.releaseTimer = undefined;
      void this.releaseIdle().catch((err) => this.warn(err, 'could not release outbox claims; will retry'));
    }, inMs);
  }

  /** Deletes, in one command, every finished claim whose hold time is over (all of them when stopping). */
  private async releaseIdle(): Promise<void> {
    const now = Date.now();
    const idle = [...this.leftovers].filter((e): e is [string, Extract<Leftover, { state: 'idle' }>] => e[1].state === 'idle');
    const keys = idle.filter(([, l]) => this.stopped || l.releaseAt <= now + 5).map(([k]) => k);
    const later = idle.filter(([, l]) => !this.stopped && l.releaseAt > now + 5).map(([, l]) => l.releaseAt);
    if (later.length) this.scheduleRelease(Math.max(1, Math.min(...later) - now));
    if (!keys.length) return;
    let finished!: () => void;
    const done = new Promise<void>((r) => (finished = r));
    for (const k of keys) this.leftovers.set(k, { state: 'releasing', done });
    try {
      await this.claims.deleteMany({ _id: { $in: keys }, owner: this.owner });
      for (const k of keys) if (this.leftovers.get(k)?.state === 'releasing') this.leftovers.delete(k);
    } catch (err) {
      for (const k of keys)
        if (this.leftovers.get(k)?.state === 'releasing') this.leftovers.set(k, { state: 'idle', reusableUntil: 0, releaseAt: 0 });
      this.scheduleRelease(this.opts.releaseAfterMs ?? 50); // try again later
      throw err;
    } finally {
      finished();
    }
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
