/**
 * The seat ledger: one document per taken seat, `_id` = `<lectureId>#<seat number>` with
 * seat numbers 1..capacity, and a unique `registrationId`. Taking a seat is an insert, so
 * the database's unique index (not a read-then-write) decides who gets the last seat:
 * a lecture can never have more than `capacity` seat documents, whatever the concurrency
 * or the number of replicas, on MongoDB and FerretDB alike.
 */
import { Schema, type Connection, type Model } from 'mongoose';
import { isDuplicateKey } from '@courses/platform';
import type { CatalogLecture } from '../domain/registration.js';

interface SeatDoc {
  _id: string;
  lectureId: string;
  registrationId: string;
  takenAt: Date;
}

const schema = new Schema<SeatDoc>(
  {
    _id: { type: String, required: true },
    lectureId: { type: String, required: true, index: true },
    registrationId: { type: String, required: true, unique: true },
    takenAt: { type: Date, required: true },
  },
  { versionKey: false, collection: 'seats' },
);

export class SeatRepository {
  readonly model: Model<SeatDoc>;

  constructor(conn: Connection) {
    this.model = conn.model<SeatDoc>('Seat', schema);
  }

  /** Seats taken in a lecture. */
  taken(lectureId: string): Promise<number> {
    return this.model.countDocuments({ lectureId });
  }

  /**
   * Takes a free seat of `lecture` for `registrationId`. Tries seat numbers after the count
   * of taken seats first, then the gaps that releases left.
   * @returns true when the registration holds a seat (also when it already held one); false when full.
   */
  async take(lecture: Pick<CatalogLecture, 'id' | 'capacity'>, registrationId: string): Promise<boolean> {
    const taken = await this.taken(lecture.id);
    if (taken >= lecture.capacity) return false;
    const order = [...range(taken + 1, lecture.capacity), ...range(1, taken)];
    for (const n of order) {
      try {
        await this.model.create({ _id: `${lecture.id}#${n}`, lectureId: lecture.id, registrationId, takenAt: new Date() });
        return true;
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        if (await this.model.exists({ registrationId })) return true;
      }
    }
    return false;
  }

  /** Frees the seat held by `registrationId`, if any (idempotent). @returns true when one was freed. */
  async release(registrationId: string): Promise<boolean> {
    const res = await this.model.deleteOne({ registrationId });
    return res.deletedCount === 1;
  }

  /** Registration ids holding seats, oldest first, at most `limit` (for the seat-leak sweep). */
  async holders(limit = 500): Promise<string[]> {
    const docs = await this.model.find({}, { registrationId: 1 }).sort({ takenAt: 1 }).limit(limit).lean<SeatDoc[]>();
    return docs.map((d) => d.registrationId);
  }
}

function range(from: number, to: number): number[] {
  return from > to ? [] : Array.from({ length: to - from + 1 }, (_, i) => from + i);
}
