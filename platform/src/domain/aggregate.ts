/**
 * What an aggregate decides, as plain data for a repository to store: no I/O here. An
 * aggregate's functions take its current state and return one of these, or throw a
 * {@link DomainError}; the repository applies the result in one single-document write, with the
 * event in the document's outbox (see storeTransition and insertCreated in ./mongo.ts).
 *
 * The pattern is the one dotnet/eShop's Ordering aggregate follows (state changes are methods of
 * the aggregate that record domain events), reduced to values, because a transition here is
 * applied as a guarded update rather than by saving a loaded object: the stored status is the
 * guard, so two processes racing for the same change cannot both make it.
 */
import type { EventEnvelope } from '@courses/contracts';

/** An aggregate with a life-cycle status and a last-change time. */
export interface Stateful<S extends string = string> {
  id: string;
  status: S;
  updatedAt: Date;
}

/**
 * A change of state an aggregate decided: from status `from` to `next`, writing `set` and
 * raising `event`. Applied only while the stored status still is `from`.
 */
export interface Transition<T extends Stateful, E extends EventEnvelope = EventEnvelope> {
  /** The stored status the change requires (the guard). */
  from: T['status'];
  /** The fields the change writes: status and updatedAt always, others as the change needs. */
  set: Partial<Omit<T, 'id'>> & Pick<T, 'status' | 'updatedAt'>;
  /** The aggregate as it is after the change. */
  next: T;
  /** The domain event the change raises. */
  event: E;
}

/** A new aggregate and the domain event that announces it. */
export interface Created<T extends { id: string }, E extends EventEnvelope = EventEnvelope> {
  created: T;
  event: E;
}

/**
 * Builds the transition of `current` from status `from`, writing `set` (stamped with `now`), and
 * raising `event(next)`.
 */
export function transition<T extends Stateful, E extends EventEnvelope>(
  current: T,
  from: T['status'],
  set: Partial<Omit<T, 'id' | 'updatedAt'>> & Pick<T, 'status'>,
  now: Date,
  event: (next: T) => E,
): Transition<T, E> {
  const fields = { ...set, updatedAt: now } as Transition<T, E>['set'];
  const next = { ...current, ...fields };
  return { from, set: fields, next, event: event(next) };
}
