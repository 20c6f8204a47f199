/**
 * MongoDB plumbing: one mongoose connection per service (never the global default, so
 * several services can share a process in tests), and the outbox field every aggregate carries.
 *
 * Works against MongoDB and FerretDB v1; nothing here relies on transactions, change streams
 * or TTL/partial indexes, which FerretDB v1 lacks.
 */
import mongoose, { Schema, type Connection, type Model, type SchemaDefinitionProperty } from 'mongoose';
import type { EventEnvelope } from '@courses/contracts';
import type { Logger, ServiceMetrics } from '../observability/index.js';

/**
 * Opens a connection to `uri` (which names the service's own database) and waits until it
 * is usable. Index builds declared on models run when each model is first compiled. The pool
 * holds 20 connections, or the URI's `maxPoolSize`.
 * With `metrics`, every command the driver sends is counted in `db_commands_total`
 * (the driver's command monitoring), which `npm run bench:load` reads.
 * @throws the driver's error when no server answers within `serverSelectionTimeoutMS` (5000 ms).
 */
export async function connectMongo(uri: string, logger: Logger, metrics?: ServiceMetrics): Promise<Connection> {
  // 20 connections unless the URI says otherwise (the local FerretDB's does: see devkit/src/provision.mjs).
  const pool = /[?&]maxPoolSize=/i.test(uri) ? {} : { maxPoolSize: 20 };
  const conn = mongoose.createConnection(uri, { serverSelectionTimeoutMS: 5_000, ...pool, monitorCommands: !!metrics });
  conn.on('disconnected', () => logger.warn('mongodb disconnected'));
  conn.on('reconnected', () => logger.info('mongodb reconnected'));
  if (metrics) {
    conn.getClient().on('commandStarted', (e) => {
      const target = e.command[e.commandName];
      metrics.dbCommands.inc({ command: e.commandName, collection: typeof target === 'string' ? target : '' });
    });
  }
  await conn.asPromise();
  logger.info({ db: conn.name }, 'mongodb connected');
  return conn;
}

/** True while the connection can serve queries (readyState 1). */
export function mongoReady(conn: Connection): boolean {
  return conn.readyState === 1;
}

/**
 * Schema definition of an array field stored as Mixed (its items are checked where they are
 * built, not by mongoose), typed as the `T[]` field the document interface declares.
 */
export function mixedArrayField<T>(): SchemaDefinitionProperty<T[]> {
  // One cast, here: mongoose types a Mixed array's options as `any[]`, not as the items it holds.
  return { type: [Schema.Types.Mixed], default: () => [] } as unknown as SchemaDefinitionProperty<T[]>;
}

/**
 * Schema definition for an aggregate's outbox: events raised by the last state changes, written
 * in the same single-document update as the change itself (see aggregate-store.ts).
 */
export function outboxField(): SchemaDefinitionProperty<EventEnvelope[]> {
  return mixedArrayField<EventEnvelope>();
}

/**
 * The driver's collection under `model`, typed by its documents: for the raw reads and writes
 * of hot paths (no hydration). Mongoose types `model.collection` with the driver's default
 * document, whose `_id` is an ObjectId, so a filter by an aggregate's string id would not
 * type-check; this is the one place that says the documents are `T`.
 */
export function collectionOf<T extends { _id: string }>(model: Model<T>): mongoose.mongo.Collection<T> {
  return model.collection as unknown as mongoose.mongo.Collection<T>;
}

/** True when `err` is a duplicate-key error (E11000) from a unique index. */
export function isDuplicateKey(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: number }).code === 11000;
}

/**
 * Inserts `docs` (each with its `_id`) in one unordered `insertMany`, skipping those whose id is
 * stored already: how read models project events exactly once, whatever the redeliveries and
 * replicas, without a lock.
 * @throws the driver's error for anything but duplicate ids.
 */
export async function insertNew(
  collection: { insertMany(docs: never[], opts: { ordered: boolean }): Promise<unknown> },
  docs: readonly object[],
): Promise<void> {
  if (!docs.length) return;
  try {
    // `never[]` in the parameter's type lets any collection's `insertMany` be passed; the docs are its documents.
    await collection.insertMany(docs as never[], { ordered: false });
  } catch (err) {
    const writeErrors = (err as mongoose.mongo.MongoBulkWriteError).writeErrors;
    const list = Array.isArray(writeErrors) ? writeErrors : writeErrors ? [writeErrors] : [];
    if (!list.length || list.some((e) => e.code !== 11000)) throw err;
  }
}
