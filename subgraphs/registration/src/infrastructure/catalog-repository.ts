/**
 * Registration's replica of the lecture catalog, fed by lecture events, so registering
 * works while the lecture subgraph is down. Seats are kept in ./seat-repository.ts.
 */
import { Schema, type Connection, type Model } from 'mongoose';
import { isDuplicateKey, withDocument } from '@courses/platform';
import type { CatalogLecture } from '../domain/registration.js';

interface CatalogDoc extends Omit<CatalogLecture, 'id'> {
  _id: string;
}

const schema = new Schema<CatalogDoc>(
  {
    _id: { type: String, required: true },
    title: { type: String, required: true },
    instructorId: { type: String, required: true },
    capacity: { type: Number, required: true },
    price: { type: Number, required: true },
    status: { type: String, required: true, enum: ['OPEN', 'CANCELED'] },
  },
  { timestamps: true, versionKey: false, collection: 'catalog' },
);

function toLecture(d: CatalogDoc): CatalogLecture {
  return { id: d._id, title: d.title, instructorId: d.instructorId, capacity: d.capacity, price: d.price, status: d.status };
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

  /** Adds an opened lecture; a repeat (redelivery) changes nothing. */
  async addOpened(l: Omit<CatalogLecture, 'status'>): Promise<void> {
    await withDocument(this.model, l.id, async () => {
      try {
        await this.model.updateOne(
          { _id: l.id },
          { $setOnInsert: { title: l.title, instructorId: l.instructorId, capacity: l.capacity, price: l.price, status: 'OPEN' } },
          { upsert: true },
        );
      } catch (err) {
        if (!isDuplicateKey(err)) throw err; // a replica inserted it first
      }
    });
  }

  /** Marks a lecture canceled (no new registrations). */
  async markCanceled(id: string): Promise<void> {
    await withDocument(this.model, id, () => this.model.updateOne({ _id: id }, { $set: { status: 'CANCELED' } }));
  }
}
