/**
 * The write lease of an aggregate document: a claim `{ _id: '<collection>:<id>', owner, at,
 * staleAfterMs }` in the service's `_outbox` collection. The unique `_id` makes it exclusive
 * across processes and replicas (FerretDB v1 does not apply concurrent updates of one document
 * atomically: measured, 3 × 200 concurrent `$inc` kept 16–158 of each 200), and while it exists
 * the document may hold events not yet published, so it is also the outbox's record of work in
 * flight (the relay deletes it only after publishing: messaging/outbox.ts).
 *
 * This module keeps the lease's life in one process: taking it (or reusing the one this process
 * finished a moment ago), taking over one whose owner died (older than its `staleAfterMs`),
 * remembering the claims a change left behind (unpublished, or failed midway), and releasing
 * finished claims in batches (`releaseAfterMs`, one `deleteMany`). Callers order changes of one
 * document within the process themselves (the outbox's keyed mutex).
 */
import { hostname } from 'node:os';
import type { Connection, mongo } from 'mongoose';
import { isDuplicateKey } from './mongo.js';

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
  /**
   * The relay's stored state, written only when publishing fails: attempts that failed so far
   * (count), the last one's error, and the ids of the events it left unpublished (in order).
   */
  attempts?: number;
  lastError?: string;
  unpublished?: string[];
}

/** Raised when another process holds a document's claim for longer than the wait allows. */
export class ClaimBusyError extends Error {
  override name = 'ClaimBusyError';
}

/** What a change holding the lease may know about the document's stored events (see ChangeContext). */
export interface Held {
  /** The document's stored outbox may hold events not yet published: append, and publish them all after. */
  inherited: boolean;
  /** This process held the lease without a break since its previous change of the document. */
  continued: boolean;
}

/** The claim a change asks for: its key (`<collection>:<docId>`), and what a new claim records. */
interface Wanted {
  key: string;
  collection: string;
  docId: string;
  staleAfterMs?: number;
  data?: Record<string, unknown>;
}

/** Finishes a dead or failed claimant's change on a document before the next one runs (the outbox's recovery). */
export type Recover = (collection: string, docId: string, data: Record<string, unknown> | undefined) => Promise<void>;

export interface ClaimLeaseOptions {
  conn: Connection;
  /** Default age (ms) after which a claim counts as abandoned (default 5000). */
  staleAfterMs?: number;
  /** How long (ms) taking a claim waits for another process's before giving up (default 5000). */
  waitMs?: number;
  /** How long (ms) a finished claim may wait to be deleted with others in one command (default 50). */
  releaseAfterMs?: number;
  /** Told when a batched release failed (it is tried again later). */
  onReleaseError?: (err: unknown) => void;
}

/**
 * Claims this process still holds after their change: not yet published, or the change failed
 * midway, or done and waiting to be deleted with others (`idle`), or being deleted.
 */
type Leftover =
  | { state: 'unpublished' }
  | { state: 'failed'; data?: Record<string, unknown> }
  | { state: 'idle'; reusableUntil: number; releaseAt: number }
  | { state: 'releasing'; done: Promise<void> };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A new claim-owner identity: host, pid and a random suffix (one per lease holder, so in-process replicas differ too). */
function newOwner(): string {
  return `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 10)}`;
}

/** The write leases of one service process (one database connection). */
export class ClaimLease {
  private readonly claims: mongo.Collection<Claim>;
  private readonly leftovers = new Map<string, Leftover>();
  /** Claims in use by a change now: until when (epoch ms) they may be reused, and how long to keep them after. */
  private readonly inUse = new Map<string, { reusableUntil: number; holdMs: number }>();
  private readonly staleAfterMs: number;
  private readonly releaseAfterMs: number;
  private releaseTimer: NodeJS.Timeout | undefined;
  private releaseDue = 0;
  private stopping = false;
  /** This process's identity in the claims it writes. */
  readonly owner = newOwner();

  constructor(private readonly opts: ClaimLeaseOptions) {
    this.claims = opts.conn.collection<Claim>(CLAIMS_COLLECTION);
    this.staleAfterMs = opts.staleAfterMs ?? 5_000;
    this.releaseAfterMs = opts.releaseAfterMs ?? 50;
  }

  /**
   * Takes the lease of `key` (`<collection>:<docId>`), or reuses this process's leftover one;
   * a failed change of ours, or an abandoned claim taken over, is finished by `recover` first.
   * @param opts.holdMs how long the claim stays after the change for another change to reuse
   * @throws ClaimBusyError when another live process holds it past the wait; the store's or `recover`'s error.
   */
  async acquire(
    key: string,
    collection: string,
    docId: string,
    opts: { staleAfterMs?: number; data?: Record<string, unknown>; holdMs?: number },
    recover: Recover,
  ): Promise<Held> {
    const held = await this.take({ key, collection, docId, staleAfterMs: opts.staleAfterMs, data: opts.data }, recover);
    const use = this.inUse.get(key);
    if (use && opts.holdMs !== undefined) use.holdMs = opts.holdMs;
    return held;
  }

  private async take(want: Wanted, recover: Recover): Promise<Held> {
    const { key, collection, docId } = want;
    let left = this.leftovers.get(key);
    if (left?.state === 'idle' && Date.now() < left.reusableUntil) {
      // Finished and not deleted yet: this change reuses it; every event it covered went out.
      this.leftovers.delete(key);
      this.inUse.set(key, { reusableUntil: left.reusableUntil, holdMs: this.releaseAfterMs });
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
        if (left.state === 'failed') await recover(collection, docId, left.data);
        this.leftovers.set(key, { state: 'unpublished' });
        return { inherited: true, continued: false };
      }
      this.leftovers.delete(key); // another process took it over (we were too slow) and settled it
    }
    return this.insert(want, recover);
  }

  /** Inserts a fresh claim, waiting for (or taking over from) another process's. */
  private async insert(want: Wanted, recover: Recover): Promise<Held> {
    const { key, collection, docId, staleAfterMs, data } = want;
    const mine: Claim = {
      _id: key,
      collection,
      docId,
      owner: this.owner,
      at: new Date(),
      staleAfterMs: staleAfterMs ?? this.staleAfterMs,
      ...(data ? { data } : {}),
    };
    // Reused for other changes only well before anyone could take it for abandoned.
    this.inUse.set(key, { reusableUntil: mine.at.getTime() + mine.staleAfterMs / 2, holdMs: this.releaseAfterMs });
    const until = Date.now() + (this.opts.waitMs ?? 5_000);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.claims.insertOne(mine);
        return { inherited: false, continued: false };
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
      }
      const other = await this.claims.findOne({ _id: key });
      if (other && isStale(other)) {
        if (await this.takeOver(other, mine)) {
          await recover(collection, docId, other.data);
          return { inherited: true, continued: false };
        }
        continue;
      }
      if (Date.now() > until) throw new ClaimBusyError(`${key} is being changed by another process`);
      await sleep(Math.min(50, 2 + attempt * 2) * (0.5 + Math.random()));
    }
  }

  /** Replaces an abandoned claim with this process's (`mine`, or `stale` re-owned); false when another process got there first. */
  async takeOver(stale: Claim, mine?: Claim): Promise<boolean> {
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

  /** Claims of other processes, oldest first, that are past their stale-after now (at most `limit`). */
  async abandoned(limit = 1_000): Promise<Claim[]> {
    const others = await this.claims
      .find({ owner: { $ne: this.owner } })
      .limit(limit)
      .toArray();
    return others.filter(isStale);
  }

  /** The change under `key` failed midway: its claim stays, and `data` goes to its recovery. */
  failed(key: string, data: Record<string, unknown> | undefined): void {
    this.inUse.delete(key);
    this.leftovers.set(key, { state: 'failed', data });
  }

  /** The change under `key` is stored but its events are not published: the claim stays with this process. */
  unpublished(key: string): void {
    this.inUse.delete(key);
    this.leftovers.set(key, { state: 'unpublished' });
  }

  /**
   * Writes down in the claim that publishing its events failed once more (the count, the error
   * and, when known, the ids of the events left unpublished): what an operator reads in `_outbox`
   * while NATS is away. Best effort.
   */
  async noteFailedAttempt(key: string, err: unknown, unpublished?: string[]): Promise<void> {
    try {
      const lastError = String((err as Error)?.message ?? err);
      // Awaited inside the try: a closed connection throws before it returns a promise.
      await this.claims.updateOne(
        { _id: key, owner: this.owner },
        { $inc: { attempts: 1 }, $set: { lastError, ...(unpublished ? { unpublished } : {}) } },
      );
    } catch {
      /* best effort: the claim stays unpublished either way */
    }
  }

  /** Claims this process holds with unpublished events or an unfinished change: key and, for a failed one, its data. */
  unsettled(): Array<{ key: string; failed: boolean; data?: Record<string, unknown> }> {
    return [...this.leftovers.keys()].flatMap((key) => {
      const left = this.unsettledOf(key);
      return left ? [{ key, ...left }] : [];
    });
  }

  /** `key`'s leftover now, when it is unpublished or failed (a sweep checks again under the mutex); else undefined. */
  unsettledOf(key: string): { failed: boolean; data?: Record<string, unknown> } | undefined {
    const l = this.leftovers.get(key);
    if (l?.state === 'unpublished') return { failed: false };
    if (l?.state === 'failed') return { failed: true, data: l.data };
    return undefined;
  }

  /** Marks a claim finished; it is deleted with the others once its hold time is over. */
  release(key: string): void {
    const use = this.inUse.get(key);
    this.inUse.delete(key);
    const holdMs = use?.holdMs ?? this.releaseAfterMs;
    this.leftovers.set(key, { state: 'idle', reusableUntil: use?.reusableUntil ?? 0, releaseAt: Date.now() + holdMs });
    this.scheduleRelease(holdMs);
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

  /** Age of the oldest claim of any process (ms; 0 when none). */
  async oldestClaimAgeMs(): Promise<number> {
    const [oldest] = await this.claims
      .find({}, { projection: { at: 1 } })
      .sort({ at: 1 })
      .limit(1)
      .toArray();
    return oldest ? Math.max(0, Date.now() - oldest.at.getTime()) : 0;
  }

  /** Deletes every finished claim now (stopping): what is unpublished or failed stays for a successor. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.releaseTimer);
    await this.releaseIdle().catch(() => undefined);
  }

  private scheduleRelease(inMs: number): void {
    const due = Date.now() + inMs;
    if (this.releaseTimer && this.releaseDue <= due) return;
    clearTimeout(this.releaseTimer);
    this.releaseDue = due;
    this.releaseTimer = setTimeout(() => {
      this.releaseTimer = undefined;
      void this.releaseIdle().catch((err) => this.opts.onReleaseError?.(err));
    }, inMs);
  }

  /** Deletes, in one command, every finished claim whose hold time is over (all of them when stopping). */
  private async releaseIdle(): Promise<void> {
    const now = Date.now();
    const idle = [...this.leftovers].filter((e): e is [string, Extract<Leftover, { state: 'idle' }>] => e[1].state === 'idle');
    const keys = idle.filter(([, l]) => this.stopping || l.releaseAt <= now + 5).map(([k]) => k);
    const later = idle.filter(([, l]) => !this.stopping && l.releaseAt > now + 5).map(([, l]) => l.releaseAt);
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
      this.scheduleRelease(this.releaseAfterMs); // try again later
      throw err;
    } finally {
      finished();
    }
  }
}

/** True when `c` is older than its stale-after: its owner is taken for dead. */
function isStale(c: Claim): boolean {
  return Date.now() - new Date(c.at).getTime() > c.staleAfterMs;
}
