/** Payment persistence: one document per registration (unique `registrationId`), with its outbox. */
import { Schema, type Connection, type Model } from 'mongoose';
import { createEvent, type EventEnvelope } from '@courses/contracts';
import { isDuplicateKey, newId, outboxField, withDocument } from '@courses/platform';
import type { Payment, PaymentState } from '../domain/payment.js';

interface PaymentDoc extends Omit<Payment, 'id'> {
  _id: string;
  outbox: EventEnvelope[];
}

const schema = new Schema<PaymentDoc>(
  {
    _id: { type: String, required: true },
    registrationId: { type: String, required: true, unique: true },
    studentId: { type: String, required: true, index: true },
    lectureId: { type: String, required: true },
    amount: { type: Number, required: true },
    status: { type: String, required: true, enum: ['COMPLETED', 'REFUNDED', 'VOIDED'] },
    outbox: outboxField() as never,
  },
  { timestamps: true, versionKey: false, collection: 'payments' },
);

function toPayment(d: PaymentDoc): Payment {
  const { _id, outbox: _o, ...rest } = d;
  return { id: _id, ...rest };
}

/** What a charge request carries. Amount in KRW. */
export interface ChargeInput {
  registrationId: string;
  studentId: string;
  lectureId: string;
  amount: number;
}

export class PaymentRepository {
  readonly model: Model<PaymentDoc>;

  constructor(conn: Connection) {
    this.model = conn.model<PaymentDoc>('Payment', schema);
  }

  async findById(id: string): Promise<Payment | null> {
    const d = await this.model.findById(id).lean<PaymentDoc>();
    return d ? toPayment(d) : null;
  }

  async findByRegistration(registrationId: string): Promise<Payment | null> {
    const d = await this.model.findOne({ registrationId }).lean<PaymentDoc>();
    return d ? toPayment(d) : null;
  }

  /**
   * Records a completed charge with `payment.completed`, once per registration.
   * @returns the stored payment: the new one, or whatever already exists for the registration.
   */
  async recordCharge(input: ChargeInput): Promise<Payment> {
    const id = newId();
    const event = createEvent('payment.completed', { paymentId: id, ...input });
    try {
      const doc = await this.model.create({ _id: id, ...input, status: 'COMPLETED', outbox: [event] });
      return toPayment(doc.toObject());
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      return (await this.findByRegistration(input.registrationId))!;
    }
  }

  /** COMPLETED → REFUNDED with `payment.refunded`. @returns false when not COMPLETED (idempotent). */
  async refund(p: Payment): Promise<boolean> {
    const event = createEvent('payment.refunded', {
      paymentId: p.id,
      registrationId: p.registrationId,
      studentId: p.studentId,
      lectureId: p.lectureId,
      amount: p.amount,
    });
    const res = await withDocument(this.model, p.id, () =>
      this.model.updateOne({ _id: p.id, status: 'COMPLETED' }, { $set: { status: 'REFUNDED' satisfies PaymentState }, $push: { outbox: event } }),
    );
    return res.modifiedCount === 1;
  }

  /**
   * Voids the registration's payment: refunds a completed one, or leaves a VOIDED tombstone
   * so that a charge arriving later is refused. Idempotent.
   * @returns the id of the payment it refunded now, if any (its event awaits the relay).
   */
  async void(input: Omit<ChargeInput, 'amount'>): Promise<string | undefined> {
    const existing = await this.findByRegistration(input.registrationId);
    if (existing) return (await this.refund(existing)) ? existing.id : undefined;
    try {
      await this.model.create({ _id: newId(), ...input, amount: 0, status: 'VOIDED' });
      return undefined;
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      const raced = await this.findByRegistration(input.registrationId);
      return raced && (await this.refund(raced)) ? raced.id : undefined;
    }
  }
}
