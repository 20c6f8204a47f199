/**
 * Registration persistence: stores what the aggregate (../domain/registration.ts) decides.
 * Every state change and its event are one single-document write
 * (the outbox rides inside the aggregate document), made under the document's outbox claim
 * (see @courses/platform outbox), and every hot-path access is by `_id`.
 *
 * A small cache keeps the registrations this process wrote or read recently: their identity
 * fields (student, lecture, instructor, amount, payment, seat) never change after confirmation,
 * so a cancellation can build its event without a read; the status it sees is only a hint,
 * because every transition is guarded by the stored status.
 */
import { LRUCache } from 'lru-cache';
import { Schema, type Connection, type Model } from 'mongoose';
import type { EventEnvelope } from '@courses/contracts';
import { insertCreated, outboxField, storeTransition, type ChangeContext, type Created, type Transition } from '@courses/platform';
import { VISIBLE_STATES, type Registration } from '../domain/registration.js';

interface RegistrationDoc extends Omit<Registration, 'id'> {
  _id: string;
  outbox: EventEnvelope[];
}

const schema = new Schema<RegistrationDoc>(
  {
    _id: { type: String, required: true },
    studentId: { type: String, required: true, index: true },
    lectureId: { type: String, required: true, index: true },
    instructorId: { type: String, required: true },
    lectureTitle: { type: String, required: true },
    amount: { type: Number, required: true },
    status: { type: String, required: true, enum: ['WAITLISTED', 'CONFIRMED', 'CANCELED', 'FAILED'] },
    cancellationReason: { type: String, default: null },
    paymentId: { type: String, default: null },
    seat: { type: String, default: null },
    waitlistedAt: { type: Date, default: null },
    seatedAt: { type: Date, default: null },
    outbox: outboxField(),
  },
  { timestamps: true, versionKey: false, collection: 'registrations' },
);
// A lecture's registrations, newest first, one page at a time (Lecture.registrations; MongoDB
// uses it, FerretDB v1 scans).
schema.index({ lectureId: 1, _id: -1 });
// A student's registrations, newest first, one page at a time (myRegistrationsPage).
schema.index({ studentId: 1, _id: -1 });

function toRegistration(d: RegistrationDoc): Registration {
  return {
    id: d._id,
    studentId: d.studentId,
    lectureId: d.lectureId,
    instructorId: d.instructorId,
    lectureTitle: d.lectureTitle,
    amount: d.amount,
    status: d.status,
    cancellationReason: d.cancellationReason ?? null,
    paymentId: d.paymentId ?? null,
    seat: d.seat ?? null,
    waitlistedAt: d.waitlistedAt ?? null,
    seatedAt: d.seatedAt ?? null,
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
  };
}

export class RegistrationRepository {
  readonly model: Model<RegistrationDoc>;
  private readonly recent = new LRUCache<string, Registration>({ max: 20_000 });

  constructor(conn: Connection) {
    this.model = conn.model<RegistrationDoc>('Registration', schema);
  }

  async findById(id: string): Promise<Registration | null> {
    const d = await this.model.findById(id, { outbox: 0 }).lean<RegistrationDoc>();
    return d ? this.remember(toRegistration(d)) : null;
  }

  /** The registrations among `ids` (one query), in no particular order. */
  async findByIds(ids: readonly string[]): Promise<Registration[]> {
    const docs = await this.model.find({ _id: { $in: ids } }, { outbox: 0 }).lean<RegistrationDoc[]>();
    return docs.map((d) => this.remember(toRegistration(d)));
  }

  /** The registration as this process last saw it, if it did; its status may be stale. */
  cached(id: string): Registration | undefined {
    return this.recent.get(id);
  }

  /** A student's newest `limit` (count) visible registrations, newest first. */
  async newestVisibleByStudent(studentId: string, limit: number): Promise<Registration[]> {
    return (await this.newest({ studentId, status: { $in: VISIBLE_STATES } }, limit)).map(toRegistration);
  }

  /** The newest `limit` (count) documents matching `filter`, without their outbox. */
  private newest(filter: Record<string, unknown>, limit: number): Promise<RegistrationDoc[]> {
    return this.model.find(filter, { outbox: 0 }).sort({ _id: -1 }).limit(limit).lean<RegistrationDoc[]>().exec();
  }

  /**
   * One page of a lecture's or a student's visible registrations, newest first: at most `first`
   * (count) after the registration `afterId` (exclusive; ids grow with time), how many there are
   * in all, and whether more follow. Reads `first + 1` documents and counts the rest, never
   * loading them all.
   * @returns undefined when `afterId` is not one of the scope's visible registrations
   */
  async pageVisible(
    scope: { lectureId: string } | { studentId: string },
    first: number,
    afterId?: string,
  ): Promise<{ items: Registration[]; totalCount: number; hasNextPage: boolean } | undefined> {
    const filter = { ...scope, status: { $in: VISIBLE_STATES } };
    if (afterId !== undefined && !(await this.model.exists({ ...filter, _id: afterId }))) return undefined;
    const [docs, totalCount] = await Promise.all([
      this.newest(afterId === undefined ? filter : { ...filter, _id: { $lt: afterId } }, first + 1),
      this.model.countDocuments(filter),
    ]);
    return { items: docs.slice(0, first).map(toRegistration), totalCount, hasNextPage: docs.length > first };
  }

  /** Ids of a lecture's CONFIRMED and WAITLISTED registrations (a scan on FerretDB; only the lecture-canceled policy asks). */
  async liveIdsOfLecture(lectureId: string): Promise<string[]> {
    const docs = await this.model.find({ lectureId, status: { $in: ['CONFIRMED', 'WAITLISTED'] } }, { _id: 1 }).lean<{ _id: string }[]>();
    return docs.map((d) => d._id);
  }

  /**
   * Stores a new registration (an attempt's outcome, see the domain's `confirm` and `abandon`)
   * with its event in its outbox.
   * @returns false when a registration with that id exists already (the attempt's outcome was
   *   stored first by another process: this one was slow, or recovered it); nothing is written.
   */
  async insert(outcome: Created<Registration>): Promise<boolean> {
    if (!(await insertCreated(this.model.collection, outcome.created, [outcome.event]))) return false;
    this.remember(outcome.created);
    return true;
  }

  /**
   * Applies a transition of the aggregate (e.g. the domain's `cancel`) under the registration's
   * outbox claim: one write guarded by the stored status, with its event.
   * @returns false when the stored status was not the one the transition starts from; nothing is written.
   */
  async apply(t: Transition<Registration>, ctx: ChangeContext): Promise<boolean> {
    if (!(await storeTransition(this.model.collection, t, ctx))) return false;
    this.remember(t.next);
    return true;
  }

  private remember(reg: Registration): Registration {
    this.recent.set(reg.id, reg);
    return reg;
  }
}
