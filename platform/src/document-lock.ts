/**
 * Per-document write serialization.
 *
 * MongoDB applies each single-document update atomically. FerretDB v1 (the stand-in on
 * machines without mongod) does not: it reads the document, applies the update in its own
 * process and writes the whole document back, so concurrent updates of one document lose
 * writes and conditional updates can both pass their guard. Measured here on FerretDB
 * v1.24.2: 3 × 200 concurrent `$inc`/`$push` on one document kept 16–158 of each 200, and
 * 50 concurrent `{left: {$gt: 0}}` decrements granted 50 of 10 seats, with both the SQLite and
 * the PostgreSQL backend. Unique-index inserts, in contrast, stayed exact.
 *
 * So every write to an aggregate document (and the outbox relay's removal of sent events)
 * runs under {@link DocumentLocks.run} for that document:
 * - always an in-process keyed mutex (free on MongoDB too, and it keeps one process's writes
 *   to one document in order);
 * - on FerretDB also a lease: a document with that key as `_id` in the `_locks` collection,
 *   inserted to acquire (unique `_id` makes it exclusive across processes and replicas) and
 *   deleted to release. A lease older than {@link LEASE_MS} is taken over (its holder died).
 */
import { hostname } from 'node:os';
import type { Connection } from 'mongoose';
import { isDuplicateKey } from './mongo.js';

/** A lease older than this (ms) belongs to a dead holder and may be taken over. */
export const LEASE_MS = 10_000;

/** Serializes async functions per key within this process. */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `fn` after every earlier `run` with the same key has finished. */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.tails.set(key, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** Keys with a holder or waiters (for tests). */
  get size(): number {
    return this.tails.size;
  }
}

const owner = `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;

/** Write locks of one database connection. */
export class DocumentLocks {
  private readonly mutex = new KeyedMutex();
  private leases: Promise<boolean> | undefined;

  constructor(private readonly conn: Connection) {}

  /** Whether cross-process leases are used: true when the server is FerretDB (detected once). */
  useLeases(): Promise<boolean> {
    this.leases ??= (async () => {
      const env = process.env.DOCUMENT_LEASES;
      if (env === 'on' || env === 'off') return env === 'on';
      const info = await this.conn.db!.admin().command({ buildInfo: 1 });
      return typeof info.ferretdbVersion === 'string';
    })();
    return this.leases;
  }

  /**
   * Runs `fn` while holding the write lock of document `key` (by convention
   * `<collection>:<_id>`). `fn` should do the document's read-modify-write and nothing slow.
   */
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.mutex.run(key, async () => {
      if (!(await this.useLeases())) return fn();
      await this.acquire(key);
      try {
        return await fn();
      } finally {
        await this.conn.collection('_locks').deleteOne({ _id: key as never, owner });
      }
    });
  }

  private async acquire(key: string): Promise<void> {
    const locks = this.conn.collection('_locks');
    for (let attempt = 0; ; attempt++) {
      try {
        await locks.insertOne({ _id: key as never, owner, at: new Date() });
        return;
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
      }
      const held = await locks.findOne({ _id: key as never });
      if (held && Date.now() - new Date(held.at).getTime() > LEASE_MS) {
        await locks.deleteOne({ _id: key as never, at: held.at });
        continue;
      }
      await new Promise((r) => setTimeout(r, Math.min(50, 2 + attempt * 2) * (0.5 + Math.random())));
    }
  }
}

const byConnection = new WeakMap<Connection, DocumentLocks>();

/** The (shared) write locks of a connection. */
export function documentLocks(conn: Connection): DocumentLocks {
  let locks = byConnection.get(conn);
  if (!locks) {
    locks = new DocumentLocks(conn);
    byConnection.set(conn, locks);
  }
  return locks;
}

/** The parts of a mongoose model {@link withDocument} needs. */
interface ModelLike {
  db: Connection;
  collection: { collectionName: string };
}

/** Runs `fn` under the write lock of document `id` of `model`'s collection (see {@link DocumentLocks}). */
export function withDocument<T>(model: ModelLike, id: string, fn: () => Promise<T>): Promise<T> {
  return documentLocks(model.db).run(`${model.collection.collectionName}:${id}`, fn);
}
