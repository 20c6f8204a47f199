/**
 * What a durable consumer's handlers see and may say (transport-free): the event and its delivery
 * count in, "applied" (resolve), "not applied" (throw) or "again later" ({@link Redeliver}) out;
 * the per-aggregate ordering key, the redelivery backoff, and what a dead letter keeps.
 */
import type { EventEnvelope, EventType } from '@courses/contracts';

/** What the dead-letter stream keeps about a message a consumer gave up on. */
export interface DeadLetter {
  durable: string;
  stream: string;
  subject: string;
  /** Stream sequence of the original message. */
  seq: number;
  deliveries: number;
  reason: string;
  /** The original message body, as UTF-8 text. */
  data: string;
  /** ISO-8601 time it was set aside. */
  at: string;
}

/** What a handler may know about a message's delivery (transport-free). */
export interface Delivery {
  /** 1 on the first delivery, 2 on the first redelivery, … */
  deliveryCount: number;
}

/**
 * Thrown by a handler that has applied the event but wants it again after `delayMs` (a policy
 * that must look a second time, e.g. once in-flight work has finished): the message is nak-ed
 * with that delay, which is neither a failure nor logged as one. Past the consumer's last
 * delivery it is acked.
 */
export class Redeliver extends Error {
  override name = 'Redeliver';
  constructor(readonly delayMs: number) {
    super(`deliver again in ${delayMs} ms`);
  }
}

/** A handler for one event type; throwing means "not applied, deliver again later". */
export type EventHandler<T extends EventType = EventType> = (event: EventEnvelope<T>, delivery: Delivery) => Promise<void>;

/** One handler per event type a consumer subscribes to. */
export type EventHandlers = { [T in EventType]?: EventHandler<T> };

/**
 * A handler for every event of a pull at once, in stream order (all of `types`). Throwing means
 * "not applied": the events are then handled one by one, so only a failing one is redelivered.
 */
export interface BatchHandler {
  types: EventType[];
  handle(events: EventEnvelope[]): Promise<void>;
  /** Most events per call (default 256). */
  max?: number;
  /**
   * How long (ms) the first event of a batch waits for others to join it (default 0: only
   * those already received). A few tens of ms turn many small writes into few large ones when
   * events trickle in, at the cost of that much delay.
   */
  lingerMs?: number;
}

/** Default ordering key: the aggregate an event concerns. */
export function aggregateKey(event: EventEnvelope): string {
  const c = event.correlation;
  return c.registrationId ?? c.paymentId ?? c.lectureId ?? event.id;
}

/** Redelivery delay after the n-th failed delivery: 250 ms doubling, capped at 10 s. */
export function backoffMs(deliveryCount: number): number {
  return Math.min(10_000, 250 * 2 ** Math.max(0, deliveryCount - 1));
}
