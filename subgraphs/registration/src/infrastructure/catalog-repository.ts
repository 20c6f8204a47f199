/**
 * Registration's replica of the lecture catalog, fed by lecture events, so registering
 * works while the lecture subgraph is down. Seats are kept in ./seat-repository.ts.
 *
 * Reads go through a short-lived cache ({@link CATALOG_CACHE_MS}): a lecture's title, price,
 * capacity and instructor never change, and its status only goes OPEN → CANCELED. A stale OPEN
 * lets registrations in for at most a cache lifetime after the lecture was canceled: the
 * lecture-canceled policy (./consumers.ts) looks again once every cached entry has expired and
 * cancels those too.
 */
import { LRUCache } from 'lru-cache';
import { Schema, type Connection, type Model } from 'mongoose';
import { isDuplicateKey, SingleFlight } from '@courses/platform';
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

/** How long (ms) a catalog entry read from the database is served from memory. */
export const CATALOG_CACHE_MS = 2_000;

function toLecture(d: CatalogDoc): CatalogLecture {
  return { id: d._id, title: d.title, instructorId: d.instructorId, capacity: d.capacity, price: d.price, status: d.status };
}

export class CatalogRepository {
  readonly model: Model<CatalogDoc>;
  private readonly cache = new LRUCache<string, CatalogLecture>({ max: 10_000, ttl: CATALOG_CACHE_MS });
  /** Reads in flight, by id: a rush of requests for one lecture shares one read. */
  private readonly reading = new SingleFlight<CatalogLecture | null>();

  constructor(conn: Connection) {
    this.model = conn.model<CatalogDoc>('CatalogLecture', schema);
  }

  /** The lecture, from the cache when read less than {@link CATALOG_CACHE_MS} ago (callers at the same moment share one read). */
  async findById(id: string): Promise<CatalogLecture | null> {
    return this.cache.get(id) ?? this.reading.run(id, () => this.fresh(id));
  }

  /** The lecture as stored now (and cached). */
  async fresh(id: string): Promise<CatalogLecture | null> {
    const d = await this.model.findById(id).lean<CatalogDoc>();
    if (!d) return null;
    const lecture = toLecture(d);
    this.cache.set(id, lecture);
    return lecture;
  }

  /** Adds an opened lecture; a repeat (redelivery) changes nothing. */
  async addOpened(l: Omit<CatalogLecture, 'status'>): Promise<void> {
    try {
      await this.model.updateOne(
        { _id: l.id },
        { $setOnInsert: { title: l.title, instructorId: l.instructorId, capacity: l.capacity, price: l.price, status: 'OPEN' } },
        { upsert: true },
      );
    } catch (err) {
      if (!isDuplicateKey(err)) throw err; // a replica inserted it first
    }
  }

  /**
   * Marks a lecture canceled (no new registrations), and reads it back: on FerretDB a
   * concurrent write of the same document (a redelivered `lecture.opened` on another replica)
   * could put the old state back, so it writes again until the read shows CANCELED.
   */
  async markCanceled(id: string): Promise<void> {
    for (let i = 0; i < 5; i++) {
      await this.model.updateOne({ _id: id }, { $set: { status: 'CANCELED' } });
      if ((await this.fresh(id))?.status !== 'OPEN') return;
    }
    throw new Error(`lecture ${id} keeps reverting to OPEN in the catalog replica`);
  }
}
