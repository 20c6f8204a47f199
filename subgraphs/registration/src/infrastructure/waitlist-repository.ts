/**
 * Waitlist persistence, collection `waitlists`: one document per lecture that ever had a line,
 * `_id` = the lecture id, holding the {@link Waitlist} aggregate and its outbox. It is written
 * only under the lecture's lease (its outbox claim, see ../application/waitlist-desk.ts), whole,
 * in one update: FerretDB v1 does not apply concurrent updates of one document atomically, and
 * here there are none. Every read is by `_id`, except the sweep over lectures whose line is not
 * empty (`size`, a small collection).
 */
import { Schema, type Connection, type Model } from 'mongoose';
import type { EventEnvelope } from '@courses/contracts';
import { collectionOf, mixedArrayField, outboxField, type ChangeContext } from '@courses/platform';
import type { Waitlist, WaitlistEntry } from '../domain/waitlist.js';

interface WaitlistDoc extends Omit<Waitlist, 'lectureId'> {
  _id: string;
  /** Places in line: lets the sweep find the lectures with one. */
  size: number;
  outbox: EventEnvelope[];
}

const schema = new Schema<WaitlistDoc>(
  {
    _id: { type: String, required: true },
    instructorId: { type: String, required: true },
    limit: { type: Number, required: true },
    closed: { type: Boolean, required: true },
    entries: mixedArrayField<WaitlistEntry>(),
    size: { type: Number, required: true, index: true },
    outbox: outboxField(),
  },
  { versionKey: false, collection: 'waitlists' },
);

/** Name of the collection, also the outbox claims' collection of a lecture's lease. */
export const WAITLISTS = 'waitlists';

function toWaitlist(d: WaitlistDoc): Waitlist {
  return {
    lectureId: d._id,
    instructorId: d.instructorId,
    limit: d.limit,
    closed: d.closed,
    entries: (d.entries as WaitlistEntry[]).map((e) => ({
      registrationId: e.registrationId,
      studentId: e.studentId,
      joinedAt: new Date(e.joinedAt),
      offer: e.offer ? { seat: e.offer.seat, at: new Date(e.offer.at) } : null,
    })),
  };
}

export class WaitlistRepository {
  readonly model: Model<WaitlistDoc>;

  constructor(conn: Connection) {
    this.model = conn.model<WaitlistDoc>('Waitlist', schema);
  }

  /** The waitlist of lecture `lectureId`, or null when it never had one. */
  async findById(lectureId: string): Promise<Waitlist | null> {
    const d = await this.model.findById(lectureId, { outbox: 0 }).lean<WaitlistDoc>();
    return d ? toWaitlist(d) : null;
  }

  /** The waitlists among `lectureIds` (one query), in no particular order, each as `{ id, waitlist }`. */
  async findByIds(lectureIds: readonly string[]): Promise<{ id: string; waitlist: Waitlist }[]> {
    const docs = await this.model.find({ _id: { $in: lectureIds } }, { outbox: 0 }).lean<WaitlistDoc[]>();
    return docs.map((d) => ({ id: d._id, waitlist: toWaitlist(d) }));
  }

  /** Ids of the lectures whose line is not empty (the sweep's). */
  async lecturesWaiting(): Promise<string[]> {
    const docs = await this.model.find({ size: { $gt: 0 } }, { _id: 1 }).lean<{ _id: string }[]>();
    return docs.map((d) => d._id);
  }

  /**
   * Stores `w` whole with `events` in its outbox, creating the document on first use. Only under
   * the lecture's lease (`ctx` is its change context).
   */
  async store(w: Waitlist, events: EventEnvelope[], ctx: ChangeContext): Promise<void> {
    const { lectureId, ...fields } = w;
    await collectionOf(this.model).updateOne({ _id: lectureId }, ctx.withEvents({ $set: { ...fields, size: w.entries.length } }, events), {
      upsert: true,
    });
  }
}
