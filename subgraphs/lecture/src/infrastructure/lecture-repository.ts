/**
 * Lecture persistence (mongoose): stores what the aggregate (../domain/lecture.ts) decides.
 * Each state change and the events it raises are written in one single-document write under the
 * document's outbox claim; the outbox publishes them.
 * Every hot-path access is by `_id`.
 */
import { Schema, type Connection, type Model } from 'mongoose';
import type { EventEnvelope } from '@courses/contracts';
import {
  collectionOf,
  insertCreated,
  outboxField,
  storeTransition,
  type ChangeContext,
  type Created,
  type Transition,
} from '@courses/platform';
import type { EnrolmentState, Lecture, LectureStatus } from '../domain/lecture.js';

/** The stored document: the aggregate plus its enrolment memory and outbox. */
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
  /** Recently canceled registration ids (never to be counted again), newest last. */
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
    status: { type: String, required: true, enum: ['OPEN', 'CANCELED'] },
    enrolledCount: { type: Number, required: true, default: 0 },
    enrolled: { type: [String], default: [] },
    released: { type: [String], default: [] },
    outbox: outboxField(),
  },
  { timestamps: true, versionKey: false, collection: 'lectures' },
);
// `lectures(status: …)` pages in _id order (MongoDB uses it; FerretDB v1 filters without it).
schema.index({ status: 1, _id: 1 });

/** The aggregate collection whose changes go through the outbox. */
export const LECTURES = 'lectures';
/** Fields a read never needs. */
const BULKY = { enrolled: 0, released: 0, outbox: 0 } as const;

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

export class LectureRepository {
  readonly model: Model<LectureDoc>;

  constructor(conn: Connection) {
    this.model = conn.model<LectureDoc>('Lecture', schema);
  }

  async findById(id: string): Promise<Lecture | null> {
    const d = await this.model.findById(id, BULKY).lean<LectureDoc>();
    return d ? toLecture(d) : null;
  }

  /** Lectures whose ids are in `ids` (one query, for batched entity resolution), in no particular order. */
  async findByIds(ids: readonly string[]): Promise<Lecture[]> {
    const docs = await this.model.find({ _id: { $in: ids } }, BULKY).lean<LectureDoc[]>();
    return docs.map(toLecture);
  }

  /** The newest `limit` lectures of instructor `instructorId`, or of everyone when undefined. */
  async managedBy(instructorId: string | undefined, limit: number): Promise<Lecture[]> {
    const docs = await this.model
      .find(instructorId ? { instructorId } : {}, BULKY)
      .sort({ _id: -1 })
      .limit(limit)
      .lean<LectureDoc[]>();
    return docs.map(toLecture);
  }

  /** `first` lectures after id `afterId` (exclusive), optionally of one status. */
  async page(first: number, afterId: string | undefined, status: LectureStatus | undefined): Promise<LecturePage> {
    const filter: Record<string, unknown> = status ? { status } : {};
    const pageFilter = afterId ? { ...filter, _id: { $gt: afterId } } : filter;
    const [docs, totalCount] = await Promise.all([
      this.model
        .find(pageFilter, BULKY)
        .sort({ _id: 1 })
        .limit(first + 1)
        .lean<LectureDoc[]>(),
      this.model.countDocuments(filter),
    ]);
    return { items: docs.slice(0, first).map(toLecture), hasNextPage: docs.length > first, totalCount };
  }

  /** Stores a new lecture (see the domain's `open`) with its event, under its claim. */
  async insert(opened: Created<Lecture>): Promise<void> {
    if (!(await insertCreated(this.model.collection, { ...opened.created, enrolled: [], released: [] }, [opened.event]))) {
      throw new Error(`lecture ${opened.created.id} exists already`);
    }
  }

  /**
   * Applies a transition of the aggregate (e.g. the domain's `cancel`) under the lecture's
   * claim: one write guarded by the stored status, with its event.
   * @returns false when the stored status was not the one it starts from; nothing is written.
   */
  apply(t: Transition<Lecture>, ctx: ChangeContext): Promise<boolean> {
    return storeTransition(this.model.collection, t, ctx);
  }

  /** Lecture `lectureId`'s enrolment memory and instructor as stored; null when it does not exist (yet). */
  async enrolmentOf(lectureId: string): Promise<(EnrolmentState & { instructorId: string }) | null> {
    const d = await collectionOf(this.model).findOne(
      { _id: lectureId },
      { projection: { enrolledCount: 1, enrolled: 1, released: 1, instructorId: 1 } },
    );
    return d && { enrolledCount: d.enrolledCount, enrolled: d.enrolled ?? [], released: d.released ?? [], instructorId: d.instructorId };
  }

  /**
   * Stores `state` as lecture `lectureId`'s enrolment (count and memory) in one write under its
   * claim, with `event` in its outbox when the count changed.
   */
  async storeEnrolment(lectureId: string, state: EnrolmentState, event: EventEnvelope | undefined, ctx: ChangeContext): Promise<void> {
    const update = {
      $set: { enrolledCount: state.enrolledCount, enrolled: state.enrolled, released: state.released, updatedAt: new Date() },
    };
    await collectionOf(this.model).updateOne({ _id: lectureId }, event ? ctx.withEvents(update, [event]) : update);
  }
}
