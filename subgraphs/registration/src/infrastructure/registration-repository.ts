/**
 * Registration persistence. Every state change and its event are one single-document
 * update (the outbox rides inside the aggregate document).
 */
import { Schema, type Connection, type Model } from 'mongoose';
import { createEvent, type EventEnvelope } from '@courses/contracts';
import { isDuplicateKey, newId, outboxField, withDocument } from '@courses/platform';
import {
  closedKey,
  liveKey,
  VISIBLE_STATES,
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
    status: { type: String, required: true, enum: ['PENDING', 'CONFIRMED', 'CANCELED', 'FAILED'], index: true },
    cancellationReason: { type: String, default: null },
    paymentId: { type: String, default: null },
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
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
  };
}

export class RegistrationRepository {
  readonly model: Model<RegistrationDoc>;

  constructor(conn: Connection) {
    this.model = conn.model<RegistrationDoc>('Registration', schema);
  }

  async findById(id: string): Promise<Registration | null> {
    const d = await this.model.findById(id).lean<RegistrationDoc>();
    return d ? toRegistration(d) : null;
  }

  /** Visible registrations of a student, newest first. */
  async findVisibleByStudent(studentId: string): Promise<Registration[]> {
    const docs = await this.model.find({ studentId, status: { $in: VISIBLE_STATES } }).sort({ _id: -1 }).lean<RegistrationDoc[]>();
    return docs.map(toRegistration);
  }

  /** Visible registrations of a lecture, newest first. */
  async findVisibleByLecture(lectureId: string): Promise<Registration[]> {
    const docs = await this.model.find({ lectureId, status: { $in: VISIBLE_STATES } }).sort({ _id: -1 }).lean<RegistrationDoc[]>();
    return docs.map(toRegistration);
  }

  /** Ids of a lecture's CONFIRMED registrations. */
  async confirmedIdsOfLecture(lectureId: string): Promise<string[]> {
    const docs = await this.model.find({ lectureId, status: 'CONFIRMED' }, { _id: 1 }).lean<{ _id: string }[]>();
    return docs.map((d) => d._id);
  }

  /** PENDING registrations created before `before` (stuck attempts, e.g. after a crash). */
  async findPendingBefore(before: Date, limit = 100): Promise<Registration[]> {
    const docs = await this.model.find({ status: 'PENDING', createdAt: { $lt: before } }).limit(limit).lean<RegistrationDoc[]>();
    return docs.map(toRegistration);
  }

  /** Registrations among `ids` that no longer hold a seat (CANCELED or FAILED). */
  async closedAmong(ids: string[]): Promise<Registration[]> {
    const docs = await this.model.find({ _id: { $in: ids }, status: { $in: ['CANCELED', 'FAILED'] } }).lean<RegistrationDoc[]>();
    return docs.map(toRegistration);
  }

  /**
   * Stores a PENDING attempt of `studentId` for `lecture`.
   * @returns the new registration, or null when the student already has a live one for the lecture.
   */
  async createPending(studentId: string, lecture: CatalogLecture): Promise<Registration | null> {
    try {
      const doc = await this.model.create({
        _id: newId(),
        studentId,
        lectureId: lecture.id,
        instructorId: lecture.instructorId,
        lectureTitle: lecture.title,
        amount: lecture.price,
        status: 'PENDING',
        liveKey: liveKey(studentId, lecture.id),
      });
      return toRegistration(doc.toObject());
    } catch (err) {
      if (isDuplicateKey(err)) return null;
      throw err;
    }
  }

  /** Removes an attempt that never reached payment (no seat could be taken). */
  async discard(id: string): Promise<void> {
    await withDocument(this.model, id, () => this.model.deleteOne({ _id: id, status: 'PENDING' }));
  }

  /** PENDING → CONFIRMED with `registration.confirmed`. @returns false when it was no longer PENDING. */
  async confirm(reg: Registration, paymentId: string): Promise<boolean> {
    const event = createEvent('registration.confirmed', {
      registrationId: reg.id,
      studentId: reg.studentId,
      lectureId: reg.lectureId,
      instructorId: reg.instructorId,
      lectureTitle: reg.lectureTitle,
      paymentId,
      amount: reg.amount,
    });
    const res = await withDocument(this.model, reg.id, () =>
      this.model.updateOne({ _id: reg.id, status: 'PENDING' }, { $set: { status: 'CONFIRMED', paymentId }, $push: { outbox: event } }),
    );
    return res.modifiedCount === 1;
  }

  /**
   * PENDING → FAILED with `registration.abandoned` (payment voids any charge for it).
   * @returns false when it was no longer PENDING.
   */
  async abandon(reg: Registration, reason: 'PAYMENT_DECLINED' | 'PAYMENT_UNAVAILABLE'): Promise<boolean> {
    const event = createEvent('registration.abandoned', {
      registrationId: reg.id,
      studentId: reg.studentId,
      lectureId: reg.lectureId,
      reason,
    });
    const res = await withDocument(this.model, reg.id, () =>
      this.model.updateOne(
        { _id: reg.id, status: 'PENDING' },
        { $set: { status: 'FAILED', liveKey: closedKey(reg.studentId, reg.lectureId, reg.id) }, $push: { outbox: event } },
      ),
    );
    return res.modifiedCount === 1;
  }

  /** CONFIRMED → CANCELED with `registration.canceled`. @returns false when it was not CONFIRMED. */
  async cancel(reg: Registration, reason: CancellationReason): Promise<boolean> {
    const event = createEvent('registration.canceled', {
      registrationId: reg.id,
      studentId: reg.studentId,
      lectureId: reg.lectureId,
      instructorId: reg.instructorId,
      reason,
      paymentId: reg.paymentId,
    });
    const res = await withDocument(this.model, reg.id, () =>
      this.model.updateOne(
        { _id: reg.id, status: 'CONFIRMED' },
        { $set: { status: 'CANCELED', cancellationReason: reason, liveKey: closedKey(reg.studentId, reg.lectureId, reg.id) }, $push: { outbox: event } },
      ),
    );
    return res.modifiedCount === 1;
  }
}
