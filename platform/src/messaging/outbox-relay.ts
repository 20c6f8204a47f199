/**
 * The outbox relay: publishes the events a change stored in its document's `outbox` field to the
 * bus, in order, each with its event id as the message id (the stream drops a re-send within its
 * duplicate window, so publishing again after a crash is safe). Either the events the change
 * itself wrote, or, when earlier ones may be unpublished, everything the document's outbox holds.
 */
import type { Connection } from 'mongoose';
import type { EventEnvelope } from '@courses/contracts';
import type { ServiceMetrics } from '../observability/index.js';
import type { Bus } from './bus.js';

export interface OutboxRelayOptions {
  conn: Connection;
  /** Where events go (only its `publish` is used). */
  bus: Pick<Bus, 'publish'>;
  metrics?: ServiceMetrics;
  /** false publishes nothing (the OUTBOX_RELAY=off fault switch). Default true. */
  publish?: boolean;
}

/**
 * The bus refused an event: `unpublished` names it and those after it, in order (none of them was
 * sent); the ones before it went out. Its message is the bus's.
 */
export class PublishError extends Error {
  constructor(
    /** Ids of the events not published, the refused one first. */
    readonly unpublished: string[],
    cause: unknown,
  ) {
    super(String((cause as Error)?.message ?? cause), { cause });
    this.name = 'PublishError';
  }
}

/** Publishes the events of changes (see the module comment). */
export class OutboxRelay {
  /** false when the relay is switched off: every event stays in its document's outbox. */
  readonly publishing: boolean;

  constructor(private readonly opts: OutboxRelayOptions) {
    this.publishing = opts.publish ?? true;
  }

  /**
   * Publishes `events` in order, counting each in `events_published_total`.
   * @throws PublishError at the first event the bus refuses (those after it are not sent).
   */
  async publish(events: readonly EventEnvelope[]): Promise<void> {
    for (const [i, event] of events.entries()) {
      try {
        await this.opts.bus.publish(event);
      } catch (err) {
        throw new PublishError(
          events.slice(i).map((e) => e.id),
          err,
        );
      }
      this.opts.metrics?.eventsPublished.inc({ type: event.type });
    }
  }

  /**
   * Publishes everything the outbox of document `docId` of `collection` holds (nothing when the
   * document does not exist).
   * @throws the database's error, or PublishError.
   */
  async publishStored(collection: string, docId: string): Promise<void> {
    const doc = await this.opts.conn
      .collection<{ _id: string; outbox?: EventEnvelope[] }>(collection)
      .findOne({ _id: docId }, { projection: { outbox: 1 } });
    await this.publish(doc?.outbox ?? []);
  }
}
