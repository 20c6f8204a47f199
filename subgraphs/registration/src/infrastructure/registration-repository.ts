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
  confirmedEvent,
  VISIBLE_STATES,
  type AbandonReason,
  type Attempt,
  type CancellationReason,
  type Registration,
} from '../domain/registration.js';

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
    status: { type: String, required: true, enum: ['CONFIRMED', 'CANCELED', 'FAILED'] },
    cancellationReason: { type: String, default: null },
    paymentId: { type: String, default: null },
    seat: { type: String, default: null },
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

  /** Visible registrations of a student, newest first. */
  async findVisibleByStudent(studentId: string): Promise<Registration[]> {
    const docs = await this.model.find({ studentId, status: { $in: VISIBLE_STATES } }, { outbox: 0 }).sort({ _id: -1 }).lean<RegistrationDoc[]>();
    return docs.map(toRegistration);
  }

  /** Visible registrations of a lecture, newest first. */
  async findVisibleByLecture(lectureId: string): Promise<Registration[]> {
    const docs = await this.model.find({ lectureId, status: { $in: VISIBLE_STATES } }, { outbox: 0 }).sort({ _id: -1 }).lean<RegistrationDoc[]>();
    return docs.map(toRegistration);
  }

  /** Ids of a lecture's CONFIRMED registrations (a scan on FerretDB; only the lecture-canceled policy asks). */
  async confirmedIdsOfLecture(lectureId: string): Promise<string[]> {
    const docs = await this.model.find({ lectureId, status: 'CONFIRMED' }, { _id: 1 }).lean<{ _id: string }[]>();
    return docs.map((d) => d._id);
  }

  /**
   * Stores a paid attempt as CONFIRMED, holding `seat`, with `registration.confirmed`.
   * No registration: a registration with that id exists already (the attempt was abandoned first).
   */
  async insertConfirmed(attempt: Attempt, paymentId: string, seat: string): Promise<Transition> {
    const now = new Date();
    const reg: Registration = { ...attempt, status: 'CONFIRMED', cancellationReason: null, paymentId, seat, createdAt: now, updatedAt: now };
    const event = confirmedEvent(reg, paymentId);
    if (!(await this.insert(reg, [event]))) return { registration: null, events: [] };
    return { registration: this.remember(reg), events: [event] };
  }

  /**
   * Stores an attempt abandoned at the payment step as FAILED, recording the `seat` it is about
   * to give back, with `registration.abandoned` (payment voids any charge). No events: a
   * registration with that id exists already.
   */
  async insertFailed(attempt: Attempt, reason: AbandonReason, seat: string | null): Promise<Transition> {
    const now = new Date();
    const reg: Registration = { ...attempt, status: 'FAILED', cancellationReason: null, paymentId: null, seat, createdAt: now, updatedAt: now };
    const event = abandonedEvent(reg, reason);
    return { registration: null, events: (await this.insert(reg, [event])) ? [event] : [] };
  }

  /** Inserts `reg` with `events` as its outbox; false when its id is taken. */
  private async insert(reg: Registration, events: EventEnvelope[]): Promise<boolean> {
    const { id: _id, ...rest } = reg;
    try {
      await this.model.collection.insertOne({ _id, ...rest, outbox: events } as never);
      return true;
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }

  /**
   * CONFIRMED → CANCELED with `registration.canceled` (the caller frees the seat). When it was not
   * CONFIRMED, nothing changes and the registration is read as stored.
   */
  async cancel(reg: Registration, reason: CancellationReason, ctx: ChangeContext): Promise<Transition> {
    const event = canceledEvent(reg, reason);
    const updatedAt = new Date();
    const res = await this.model.collection.updateOne(
      { _id: reg.id as never, status: 'CONFIRMED' },
      ctx.withEvents(
        { $set: { status: 'CANCELED', cancellationReason: reason, updatedAt } },
        [event],
      ),
    );
    if (res.modifiedCount === 1) {
      return { registration: this.remember({ ...reg, status: 'CANCELED', cancellationReason: reason, updatedAt }), events: [event] };
    }
    return { registration: await this.findById(reg.id), events: [] };
  }

  private remember(reg: Registration): Registration {
    this.recent.set(reg.id, reg);
    return reg;
  }
}
