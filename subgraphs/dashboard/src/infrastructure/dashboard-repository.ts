/**
 * The dashboard read model: one document per registration, written only by event
 * projections. Each write is one conditional upsert guarded by the status rank
 * (see ../domain/dashboard.ts); a duplicate-key error means a newer status is already there.
 */
import { Schema, type Connection, type Model } from 'mongoose';
import { isDuplicateKey, withDocument } from '@courses/platform';
import { RANK, type DashboardEntry, type PaymentStatus, type RegistrationStatus } from '../domain/dashboard.js';

interface EntryDoc {
  _id: string;
  studentId: string;
  lectureId: string;
  lectureTitle?: string;
  registrationStatus?: RegistrationStatus;
  registrationRank?: number;
  paymentStatus?: PaymentStatus;
  paymentRank?: number;
  updatedAt: Date;
  /** When the projection last changed this entry (this process's clock). */
  projectedAt?: Date;
  /** Milliseconds from the state change (event time) to that projection: the read model's lag. */
  lagMs?: number;
}

const schema = new Schema<EntryDoc>(
  {
    _id: { type: String, required: true },
    studentId: { type: String, required: true, index: true },
    lectureId: { type: String, required: true },
    lectureTitle: String,
    registrationStatus: String,
    registrationRank: Number,
    paymentStatus: String,
    paymentRank: Number,
    updatedAt: { type: Date, required: true },
    projectedAt: Date,
    lagMs: Number,
  },
  { versionKey: false, collection: 'dashboard_entries' },
);

/** Keys every projected event carries. */
interface Keys {
  registrationId: string;
  studentId: string;
  lectureId: string;
  /** When the change happened (the event's occurredAt). */
  at: Date;
}

export class DashboardRepository {
  readonly model: Model<EntryDoc>;

  constructor(conn: Connection) {
    this.model = conn.model<EntryDoc>('DashboardEntry', schema);
  }

  /** Entries of a student with a known registration status, most recently changed first. */
  async forStudent(studentId: string): Promise<DashboardEntry[]> {
    const docs = await this.model.find({ studentId, registrationStatus: { $exists: true } }).sort({ updatedAt: -1, _id: -1 }).lean<EntryDoc[]>();
    return docs.map((d) => ({
      registrationId: d._id,
      lectureId: d.lectureId,
      lectureTitle: d.lectureTitle ?? '',
      registrationStatus: d.registrationStatus!,
      paymentStatus: d.paymentStatus ?? null,
      updatedAt: d.updatedAt,
    }));
  }

  async findById(registrationId: string): Promise<EntryDoc | null> {
    return this.model.findById(registrationId).lean<EntryDoc>();
  }

  /** Projects a registration status (and the lecture title, when the event carries it). */
  async applyRegistration(k: Keys, status: RegistrationStatus, lectureTitle?: string): Promise<boolean> {
    const rank = RANK.registration[status];
    const set: Partial<EntryDoc> = { studentId: k.studentId, lectureId: k.lectureId, registrationStatus: status, registrationRank: rank, updatedAt: k.at };
    return withDocument(this.model, k.registrationId, async () => {
      const changed = await this.advance(k.registrationId, { registrationRank: { $not: { $gte: rank } } }, set);
      // The title is not rank-bound: a confirmation redelivered after the cancellation still brings it.
      if (lectureTitle !== undefined) await this.model.updateOne({ _id: k.registrationId }, { $set: { lectureTitle } });
      return changed;
    });
  }

  /** Projects a payment status. */
  async applyPayment(k: Keys, status: PaymentStatus): Promise<boolean> {
    const rank = RANK.payment[status];
    return withDocument(this.model, k.registrationId, () =>
      this.advance(
        k.registrationId,
        { paymentRank: { $not: { $gte: rank } } },
        { studentId: k.studentId, lectureId: k.lectureId, paymentStatus: status, paymentRank: rank, updatedAt: k.at },
      ),
    );
  }

  /**
   * Upserts the entry when the guard holds. A duplicate-key error means the entry exists but
   * the guard failed, or another projection inserted it at the same moment; a plain guarded
   * update (no upsert) then tells the two apart.
   * @returns true when the entry changed; false when a status of equal or higher rank was already stored.
   */
  private async advance(id: string, guard: Record<string, unknown>, fields: Partial<EntryDoc>): Promise<boolean> {
    const now = new Date();
    const set = { ...fields, projectedAt: now, lagMs: fields.updatedAt ? now.getTime() - fields.updatedAt.getTime() : undefined };
    try {
      const res = await this.model.updateOne({ _id: id, ...guard }, { $set: set }, { upsert: true });
      return res.modifiedCount + res.upsertedCount > 0;
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      const res = await this.model.updateOne({ _id: id, ...guard }, { $set: set });
      return res.modifiedCount > 0;
    }
  }
}
