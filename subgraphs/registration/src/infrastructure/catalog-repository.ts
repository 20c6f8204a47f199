/**
 * Registration's replica of the lecture catalog, fed by lecture events, so registering
 * works while the lecture subgraph is down. It is also the seat ledger: `seatsLeft` and
 * `seatHolders` change together in one conditional update, so seats are never oversold.
 */
import { Schema, type Connection, type Model } from 'mongoose';
import { isDuplicateKey } from '@courses/platform';
import type { CatalogLecture } from '../domain/registration.js';

interface CatalogDoc extends Omit<CatalogLecture, 'id'> {
  _id: string;
  /** Registration ids holding a seat (PENDING or CONFIRMED). */
  seatHolders: string[];
}

const schema = new Schema<CatalogDoc>(
  {
    _id: { type: String, required: true },
    title: { type: String, required: true },
    instructorId: { type: String, required: true },
    capacity: { type: Number, required: true },
    price: { type: Number, required: true },
    status: { type: String, required: true, enum: ['OPEN', 'CANCELED'] },
    seatsLeft: { type: Number, required: true },
    seatHolders: { type: [String], default: [] },
  },
  { timestamps: true, versionKey: false, collection: 'catalog' },
);

function toLecture(d: CatalogDoc): CatalogLecture {
  return { id: d._id, title: d.title, instructorId: d.instructorId, capacity: d.capacity, price: d.price, status: d.status, seatsLeft: d.seatsLeft };
}

export class CatalogRepository {
  readonly model: Model<CatalogDoc>;

  constructor(conn: Connection) {
    this.model = conn.model<CatalogDoc>('CatalogLecture', schema);
  }

  async findById(id: string): Promise<CatalogLecture | null> {
    const d = await this.model.findById(id).lean<CatalogDoc>();
    return d ? toLecture(d) : null;
  }

  /** Adds an opened lecture with all seats free; a repeat (redelivery) changes nothing. */
  async addOpened(l: Omit<CatalogLecture, 'status' | 'seatsLeft'>): Promise<void> {
    try {
      await this.model.updateOne(
        { _id: l.id },
        { $setOnInsert: { title: l.title, instructorId: l.instructorId, capacity: l.capacity, price: l.price, status: 'OPEN', seatsLeft: l.capacity, seatHolders: [] } },
        { upsert: true },
      );
    } catch (err) {
      if (!isDuplicateKey(err)) throw err; // a replica inserted it first
    }
  }

  /** Marks a lecture canceled (no new registrations). */
  async markCanceled(id: string): Promise<void> {
    await this.model.updateOne({ _id: id }, { $set: { status: 'CANCELED' } });
  }

  /**
   * Takes one seat of an OPEN lecture for `registrationId`, atomically.
   * @returns true when taken; false when the lecture is full, not open, or the holder already has it.
   */
  async takeSeat(lectureId: string, registrationId: string): Promise<boolean> {
    const res = await this.model.updateOne(
      { _id: lectureId, status: 'OPEN', seatsLeft: { $gt: 0 }, seatHolders: { $ne: registrationId } },
      { $inc: { seatsLeft: -1 }, $push: { seatHolders: registrationId } },
    );
    return res.modifiedCount === 1;
  }

  /** Gives back the seat held by `registrationId`, if it holds one (idempotent). */
  async releaseSeat(lectureId: string, registrationId: string): Promise<boolean> {
    const res = await this.model.updateOne({ _id: lectureId, seatHolders: registrationId }, { $inc: { seatsLeft: 1 }, $pull: { seatHolders: registrationId } });
    return res.modifiedCount === 1;
  }

  /** Lectures with at least one seat holder, with the holders (for the seat-leak sweep). */
  async withHolders(limit = 200): Promise<Array<{ id: string; seatHolders: string[] }>> {
    const docs = await this.model.find({ 'seatHolders.0': { $exists: true } }, { seatHolders: 1 }).limit(limit).lean<CatalogDoc[]>();
    return docs.map((d) => ({ id: d._id, seatHolders: d.seatHolders }));
  }
}
