/**
 * Storing aggregates: a state change and the events it raises are written in one
 * single-document update (the events ride in the document's `outbox` field, see
 * {@link outboxField}), which is all the atomicity MongoDB and FerretDB v1 offer without
 * transactions. The outbox relay (messaging) publishes them afterwards.
 */
import type { EventEnvelope } from '@courses/contracts';
import type { Stateful, Transition } from '../domain/index.js';
import { withTraceContext } from '../observability/index.js';
import { isDuplicateKey } from './mongo.js';

/** What a change may know about the document's stored events. */
export interface ChangeContext {
  /**
   * True when the document's stored outbox may hold events not yet published (the claim was
   * taken over, or this process could not publish an earlier change): append to it, never replace.
   */
  readonly inherited: boolean;
  /**
   * True when this process has held the claim without a break since its previous change of the
   * document: nobody else can have written it meanwhile, so what that change read or wrote is
   * still what is stored.
   */
  readonly continued: boolean;
  /**
   * Merges `events` into `update` as the document's new outbox: `$set` when every stored event
   * is known to be published, `$push` otherwise.
   */
  withEvents<U extends Record<string, unknown>>(update: U, events: EventEnvelope[]): U;
}

/** What a change returns: its answer to the caller, and the events it wrote. */
export interface Changed<T> {
  value: T;
  /** Events written by this change, in order (already in the document's outbox). */
  events?: EventEnvelope[];
}

/** The part of a driver collection that storing aggregates needs (mongoose's `model.collection`). */
interface AggregateCollection {
  updateOne(filter: Record<string, unknown>, update: Record<string, unknown>): Promise<{ modifiedCount: number }>;
  insertOne(doc: Record<string, unknown>): Promise<unknown>;
}

/**
 * Applies an aggregate's {@link Transition} to its document: one update guarded by the stored
 * status (`t.from`) that writes `t.set` and appends `t.event` to the outbox (`ctx.withEvents`).
 * @returns true when it changed the document; false when the stored status was another, and
 *   nothing was written.
 */
export async function storeTransition(
  collection: AggregateCollection,
  t: Transition<Stateful>,
  ctx: Pick<ChangeContext, 'withEvents'>,
): Promise<boolean> {
  const res = await collection.updateOne({ _id: t.next.id, status: t.from }, ctx.withEvents({ $set: t.set }, [t.event]));
  return res.modifiedCount === 1;
}

/**
 * Inserts a new aggregate `created` (stored with `_id` for `id`) with `events` as its outbox.
 * @returns false when a document with that id exists already (nothing written).
 * @throws the driver's error for anything else.
 */
export async function insertCreated<T extends { id: string }>(
  collection: AggregateCollection,
  created: T,
  events: readonly EventEnvelope[],
): Promise<boolean> {
  const { id: _id, ...fields } = created;
  try {
    await collection.insertOne({ _id, ...fields, outbox: withTraceContext(events) });
    return true;
  } catch (err) {
    if (isDuplicateKey(err)) return false;
    throw err;
  }
}

/**
 * How a change writes its events: `inherited` when the document's stored outbox may hold events
 * not yet published (append), else replace; `continued` as {@link ChangeContext.continued}.
 */
export function changeContext(inherited: boolean, continued: boolean): ChangeContext {
  return {
    inherited,
    continued,
    withEvents(update, plain) {
      const events = withTraceContext(plain);
      if (inherited) return { ...update, $push: { ...(update.$push as object), outbox: { $each: events } } };
      return { ...update, $set: { ...(update.$set as object), outbox: events } };
    },
  };
}
