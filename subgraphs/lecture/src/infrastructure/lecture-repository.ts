/**
 * Lecture persistence (mongoose). Each state change and the events it raises are written in
 * one single-document update; the outbox relay publishes the events afterwards.
 */
import { Schema, type Connection, type Model } from 'mongoose';
import { createEvent, type EventEnvelope } from '@courses/contracts';
import { newId, outboxField, withDocument } from '@courses/platform';
import { enrolmentEffect, type Lecture, type LectureStatus, type NewLecture } from '../domain/lecture.js';

/** The stored document: the aggregate plus its idempotency sets and outbox. */
export interface LectureDoc {
  _id: string;
  title: string;
  instructorId: string;
  capacity: number;
  price: number;
  status: LectureStatus;
  enrolledCount: number;
  /** Registration ids counted in enrolledCount. */
  enrolled: string[];
  /** Registration ids canceled (never to be counted again). */
  released: string[];
  outbox: EventEnvelope[];
  createdAt: Date;
  updatedAt: Date;
}

const schema = new Schema<LectureDoc>(
  {
    _id: { type: String, required: true },
    title: { type: String, required: true },
    instructorId: { type: String, required: true, index: true },
    capacity: { type: Number, required: true },
    price: { type: Number, required: true },
    status: { type: String, required: true, enum: ['OPEN', 'CANCELED'], index: true },
    enrolledCount: { type: Number, required: true, default: 0 },
    enrolled: { type: [String], default: [] },
    released: { type: [String], default: [] },
    outbox: outboxField() as never,
  },
  { timestamps: true, versionKey: false, collection: 'lectures' },
);

function toLecture(d: LectureDoc): Lecture {
  return {
    id: d._id,
    title: d.title,
    instructorId: d.instructorId,
    capacity: d.capacity,
    price: d.price,
    status: d.status,
    enrolledCount: d.enrolledCount,
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
  };
}

/** A page of lectures in id (creation) order. */
export interface LecturePage {
  items: Lecture[];
  hasNextPage: boolean;
  totalCount: number;
}

/** Tries a read-then-conditional-write this many times before giving up (optimistic concurrency). */
const MAX_ATTEMPTS = 20;

export class LectureRepository {
  readonly model: Model<LectureDoc>;

  constructor(conn: Connection) {
    this.model = conn.model<LectureDoc>('Lecture', schema);
  }

  async findById(id: string): Promise<Lecture | null> {
    const d = await this.model.findById(id).lean<LectureDoc>();
    return d ? toLecture(d) : null;
  }

  /** Lectures whose ids are in `ids` (for batched entity resolution), in no particular order. */
  async findByIds(ids: string[]): Promise<Lecture[]> {
    const docs = await this.model.find({ _id: { $in: ids } }).lean<LectureDoc[]>();
    return docs.map(toLecture);
  }

  /** `first` lectures after id `afterId` (exclusive), optionally of one status. */
  async page(first: number, afterId: string | undefined, status: LectureStatus | undefined): Promise<LecturePage> {
    const filter: Record<string, unknown> = status ? { status } : {};
    const pageFilter = afterId ? { ...filter, _id: { $gt: afterId } } : filter;
    const [docs, totalCount] = await Promise.all([
      this.model.find(pageFilter).sort({ _id: 1 }).limit(first + 1).lean<LectureDoc[]>(),
      this.model.countDocuments(filter),
    ]);
    return { items: docs.slice(0, first).map(toLecture), hasNextPage: docs.length > first, totalCount };
  }

  /** Stores a new OPEN lecture with its `lecture.opened` event. */
  async open(input: NewLecture, instructorId: string): Promise<Lecture> {
    const id = newId();
    const event = createEvent('lecture.opened', { lectureId: id, instructorId, ...input });
    const doc = await this.model.create({ _id: id, instructorId, status: 'OPEN', enrolledCount: 0, ...input, outbox: [event] });
    return toLecture(doc.toObject());
  }

  /** Sets an OPEN lecture CANCELED with its `lecture.canceled` event; returns the lecture as it is after. */
  async cancel(lecture: Lecture): Promise<Lecture | null> {
    const event = createEvent('lecture.canceled', { lectureId: lecture.id, instructorId: lecture.instructorId });
    await withDocument(this.model, lecture.id, () =>
      this.model.updateOne({ _id: lecture.id, status: 'OPEN' }, { $set: { status: 'CANCELED' }, $push: { outbox: event } }),
    );
    return this.findById(lecture.id);
  }

  /**
   * Applies a registration's confirmation or cancellation to the enrolled count, once per
   * registration whatever the redeliveries or order. The count and the
   * `lecture.enrolledCountChanged` event are written together, guarded by the count read
   * (optimistic concurrency: retried when another replica changed it in between).
   * @returns false when the lecture does not exist (yet).
   * @throws Error when the write keeps conflicting for {@link MAX_ATTEMPTS} tries.
   */
  applyEnrolment(lectureId: string, registrationId: string, kind: 'confirmed' | 'canceled'): Promise<boolean> {
    return withDocument(this.model, lectureId, () => this.applyEnrolmentLocked(lectureId, registrationId, kind));
  }

  private async applyEnrolmentLocked(lectureId: string, registrationId: string, kind: 'confirmed' | 'canceled'): Promise<boolean> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const d = await this.model.findById(lectureId, { enrolledCount: 1, enrolled: 1, released: 1, instructorId: 1 }).lean<LectureDoc>();
      if (!d) return false;
      const effect = enrolmentEffect(kind, registrationId, d.enrolled, d.released);
      if (effect === 'none') return true;
      if (effect === 'remember-release') {
        await this.model.updateOne({ _id: lectureId }, { $addToSet: { released: registrationId } });
        return true;
      }
      const next = d.enrolledCount + (effect === 'increment' ? 1 : -1);
      const event = createEvent('lecture.enrolledCountChanged', { lectureId, instructorId: d.instructorId, enrolledCount: next });
      const guard = { _id: lectureId, enrolledCount: d.enrolledCount, enrolled: effect === 'increment' ? { $ne: registrationId } : registrationId };
      const update =
        effect === 'increment'
          ? { $set: { enrolledCount: next }, $push: { enrolled: registrationId, outbox: event } }
          : { $set: { enrolledCount: next }, $pull: { enrolled: registrationId }, $push: { released: registrationId, outbox: event } };
      const res = await this.model.updateOne(guard, update);
      if (res.modifiedCount === 1) return true;
    }
    throw new Error(`enrolled count of lecture ${lectureId} kept changing under us`);
  }
}
