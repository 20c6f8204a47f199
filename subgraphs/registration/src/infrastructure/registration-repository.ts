/**
 * Registration persistence. Every state change and its event are one single-document write
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
import { isDuplicateKey, outboxField, type ChangeContext } from '@courses/platform';
import {
  abandonedEvent,
  canceledEvent,
  closedKey,
  confirmedEvent,
  liveKey,
  VISIBLE_STATES,
  type AbandonReason,
  type CancellationReason,
  type CatalogLecture,
  type Registration,
} from '../domain/registration.js';

interface RegistrationDoc extends Omit<Registration, 'id'> {
  _id: string;
  /** See liveKey/closedKey: unique. */
  liveKey: string;
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
    status: { type: String, required: true, enum: ['PENDING', 'CONFIRMED', 'CANCELED', 'FAILED'] },
    cancellationReason: { type: String, default: null },
    paymentId: { type: String, default: null },
    seat: { type: String, default: null },
    liveKey: { type: String, required: true, unique: true },
    outbox: outboxField() as never,
  },
  { timestamps: true, versionKey: false, collection: 'registrations' },
);

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
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
  };
}

/** What a guarded transition found: the registration as stored after it, and the events it wrote. */
export interface Transition {
  registration: Registration | null;
  events: EventEnvelope[];
}

export class RegistrationRepository {
  readonly model: Model<RegistrationDoc>;
  private readonly recent = new LRUCache<string, Registration>({ max: 20_000 });

  constructor(conn: Connection) {
    this.model = conn.model<RegistrationDoc>('Registration', schema);
  }

  async findById(id: string): Promise<Registration | null> {
    const d = await this.model.findById(id, { outbox: 0, liveKey: 0 }).lean<RegistrationDoc>();
    return d ? this.remember(toRegistration(d)) : null;
  }

  /** The registrations among `ids` (one query), in no particular order. */
  async findByIds(ids: readonly string[]): Promise<Registration[]> {
    const docs = await this.model.find({ _id: { $in: ids } }, { outbox: 0, liveKey: 0 }).lean<RegistrationDoc[]>();
    return docs.map((d) => this.remember(toRegistration(d)));
  }

  /** The registration as this process last saw it, if it did; its status may be stale. */
  cached(id: string): Registration | undefined {
    return this.recent.get(id);
  }

  /** Visible registrations of a student, newest first. */
  async findVisibleByStudent(studentId: string): Promise<Registration[]> {
    const docs = await this.model.find({ studentId, status: { $in: VISIBLE_STATES } }, { outbox: 0, liveKey: 0 }).sort({ _id: -1 }).lean<RegistrationDoc[]>();
    return docs.map(toRegistration);
  }

  /** Visible registrations of a lecture, newest first. */
  async findVisibleByLecture(lectureId: string): Promise<Registration[]> {
    const docs = await this.model.find({ lectureId, status: { $in: VISIBLE_STATES } }, { outbox: 0, liveKey: 0 }).sort({ _id: -1 }).lean<RegistrationDoc[]>();
    return docs.map(toRegistration);
  }

  /** Ids of a lecture's CONFIRMED registrations (a scan on FerretDB; only the lecture-canceled policy asks). */
  async confirmedIdsOfLecture(lectureId: string): Promise<string[]> {
    const docs = await this.model.find({ lectureId, status: 'CONFIRMED' }, { _id: 1 }).lean<{ _id: string }[]>();
    return docs.map((d) => d._id);
  }

  /**
   * Stores attempt `id` of `studentId` for `lecture` as PENDING.
   * @returns the attempt, or null when the student already has a live registration for the lecture.
   */
  async insertPending(id: string, studentId: string, lecture: CatalogLecture): Promise<Registration | null> {
    const now = new Date();
    const reg: Registration = {
      id,
      studentId,
      lectureId: lecture.id,
      instructorId: lecture.instructorId,
      lectureTitle: lecture.title,
      amount: lecture.price,
      status: 'PENDING',
      cancellationReason: null,
      paymentId: null,
      seat: null,
      createdAt: now,
      updatedAt: now,
    };
    try {
      const { id: _id, ...rest } = reg;
      await this.model.collection.insertOne({ _id, ...rest, liveKey: liveKey(studentId, lecture.id), outbox: [] } as never);
      return reg;
    } catch (err) {
      if (isDuplicateKey(err)) return null;
      throw err;
    }
  }

  /** Removes an attempt that never reached payment (no seat could be taken). */
  async discard(id: string): Promise<void> {
    await this.model.deleteOne({ _id: id, status: 'PENDING' });
  }

  /** PENDING → CONFIRMED holding `seat`, with `registration.confirmed`. Null registration: it was no longer PENDING. */
  async confirm(reg: Registration, paymentId: string, seat: string, ctx: ChangeContext): Promise<Transition> {
    const event = confirmedEvent(reg, paymentId);
    const updatedAt = new Date();
    const res = await this.model.collection.updateOne(
      { _id: reg.id as never, status: 'PENDING' },
      ctx.withEvents({ $set: { status: 'CONFIRMED', paymentId, seat, updatedAt } }, [event]),
    );
    if (res.modifiedCount !== 1) return { registration: null, events: [] };
    return { registration: this.remember({ ...reg, status: 'CONFIRMED', paymentId, seat, updatedAt }), events: [event] };
  }

  /**
   * PENDING → FAILED with `registration.abandoned` (payment voids any charge), recording the
   * `seat` it is about to give back. No events: it was no longer PENDING.
   */
  async abandon(reg: Pick<Registration, 'id' | 'studentId' | 'lectureId'>, reason: AbandonReason, ctx: ChangeContext, seat: string | null = null): Promise<Transition> {
    const event = abandonedEvent(reg, reason);
    const res = await this.model.collection.updateOne(
      { _id: reg.id as never, status: 'PENDING' },
      ctx.withEvents({ $set: { status: 'FAILED', seat, liveKey: closedKey(reg.studentId, reg.lectureId, reg.id), updatedAt: new Date() } }, [event]),
    );
    return res.modifiedCount === 1 ? { registration: null, events: [event] } : { registration: null, events: [] };
  }

  /**
   * CONFIRMED → CANCELED with `registration.canceled`; frees the live key. When it was not
   * CONFIRMED, nothing changes and the registration is read as stored.
   */
  async cancel(reg: Registration, reason: CancellationReason, ctx: ChangeContext): Promise<Transition> {
    const event = canceledEvent(reg, reason);
    const updatedAt = new Date();
    const res = await this.model.collection.updateOne(
      { _id: reg.id as never, status: 'CONFIRMED' },
      ctx.withEvents(
        { $set: { status: 'CANCELED', cancellationReason: reason, liveKey: closedKey(reg.studentId, reg.lectureId, reg.id), updatedAt } },
        [event],
      ),
    );
    if (res.modifiedCount === 1) {
      return { registration: this.remember({ ...reg, status: 'CANCELED', cancellationReason: reason, updatedAt }), events: [event] };
    }
    return { registration: await this.findById(reg.id), events: [] };
  }

  private remember(reg: Registration): Registration {
    if (reg.status !== 'PENDING') this.recent.set(reg.id, reg);
    return reg;
  }
}
