/**
 * Lecture persistence (mongoose): stores what the aggregate (../domain/lecture.ts) decides.
 * Each state change and the events it raises are written in one single-document write under the
 * document's outbox claim; the outbox publishes them.
 * Every hot-path access is by `_id`.
 */
import { Schema, type Connection, type Model } from 'mongoose';
import type { EventEnvelope } from '@courses/contracts';
import {
  insertCreated,
  outboxField,
  storeTransition,
  type ChangeContext,
  type Created,
  type Outbox,
  type Transition,
} from '@courses/platform';
import {
  applyEnrolments,
  enrolledCountChanged,
  type Enrolment,
  type EnrolmentState,
  type Lecture,
  type LectureStatus,
} from '../domain/lecture.js';

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
    outbox: outboxField() as never,
  },
  { timestamps: true, versionKey: false, collection: 'lectures' },
);
// `lectures(status: …)` pages in _id order (MongoDB uses it; FerretDB v1 filters without it).
schema.index({ status: 1, _id: 1 });

/** The aggregate collection whose changes go through the outbox. */
export const LECTURES = 'lectures';
/**
 * How long the enrolment consumer keeps a lecture's claim after a change (ms): a lecture taking
 * registrations changes again soon, and a kept claim saves its insert, its delete and a read.
 */
const ENROLMENT_HOLD_MS = 1_000;
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
  /** The enrolment memory of lectures this process wrote last (see applyEnrolments). */
  private readonly enrolment = new Map<string, EnrolmentState & { instructorId: string }>();

  constructor(
    conn: Connection,
    private readonly outbox: Outbox,
  ) {
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

  /**
   * Applies registrations' confirmations and cancellations, in stream order, to the enrolled
   * count of one lecture, each registration at most once whatever the redeliveries or order
   * (see the domain's `applyEnrolments`): one read and, when anything changed, one write with
   * one `lecture.enrolledCountChanged` carrying the final count. While this process holds the
   * lecture's claim without a break, it remembers what it wrote and skips the read.
   * @returns false when the lecture does not exist (yet).
   */
  applyEnrolments(lectureId: string, changes: readonly Enrolment[]): Promise<boolean> {
    return this.outbox.change(
      LECTURES,
      lectureId,
      async (ctx) => {
        let state = ctx.continued ? this.enrolment.get(lectureId) : undefined;
        if (!state) {
          const d = await this.model.collection.findOne(
            { _id: lectureId as never },
            { projection: { enrolledCount: 1, enrolled: 1, released: 1, instructorId: 1 } },
          );
          if (!d) return { value: false };
          state = { enrolledCount: d.enrolledCount, enrolled: d.enrolled ?? [], released: d.released ?? [], instructorId: d.instructorId };
        }
        const next = applyEnrolments(state, changes);
        this.remember(lectureId, {
          enrolledCount: next.enrolledCount,
          enrolled: next.enrolled,
          released: next.released,
          instructorId: state.instructorId,
        });
        if (!next.touched) return { value: true };
        const update = {
          $set: { enrolledCount: next.enrolledCount, enrolled: next.enrolled, released: next.released, updatedAt: new Date() },
        };
        if (!next.changed) {
          await this.model.collection.updateOne({ _id: lectureId as never }, update);
          return { value: true };
        }
        const event = enrolledCountChanged({ id: lectureId, instructorId: state.instructorId }, next.enrolledCount);
        await this.model.collection.updateOne({ _id: lectureId as never }, ctx.withEvents(update, [event]));
        return { value: true, events: [event] };
      },
      { holdMs: ENROLMENT_HOLD_MS },
    );
  }

  /** Keeps the enrolment memory last written, for the next change under the same unbroken claim. */
  private remember(lectureId: string, state: EnrolmentState & { instructorId: string }): void {
    this.enrolment.delete(lectureId);
    this.enrolment.set(lectureId, state);
    if (this.enrolment.size > 1_000) this.enrolment.delete(this.enrolment.keys().next().value!);
  }
}
