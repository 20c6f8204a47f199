/**
 * Payment persistence: stores what the aggregate (../domain/payment.ts) decides. One document
 * per registration, `_id` = `paymentIdOf` its registration id (so the unique `_id` also makes
 * the charge once-only), with its outbox. Every change goes through the service's outbox claim
 * and every access is by `_id`.
 *
 * A small cache keeps the payments this process recorded or read: amount, student, lecture and
 * registration never change, so a refund builds its event without a read; the status it sees
 * is only a hint, because every transition is guarded by the stored status.
 */
import { LRUCache } from 'lru-cache';
import { Schema, type Connection, type Model } from 'mongoose';
import type { EventEnvelope } from '@courses/contracts';
import { insertCreated, outboxField, storeTransition, type ChangeContext, type Created, type Transition } from '@courses/platform';
import type { Payment } from '../domain/payment.js';

interface PaymentDoc extends Omit<Payment, 'id'> {
  _id: string;
  outbox: EventEnvelope[];
}

const schema = new Schema<PaymentDoc>(
  {
    _id: { type: String, required: true },
    registrationId: { type: String, required: true },
    studentId: { type: String, required: true },
    lectureId: { type: String, required: true },
    amount: { type: Number, required: true },
    status: { type: String, required: true, enum: ['COMPLETED', 'REFUNDED', 'VOIDED'] },
    outbox: outboxField(),
  },
  { timestamps: true, versionKey: false, collection: 'payments' },
);

/** The aggregate collection whose changes go through the outbox. */
export const PAYMENTS = 'payments';

function toPayment(d: PaymentDoc): Payment {
  const { _id, outbox: _o, ...rest } = d;
  return { id: _id, ...rest };
}

export class PaymentRepository {
  readonly model: Model<PaymentDoc>;
  private readonly recent = new LRUCache<string, Payment>({ max: 20_000 });

  constructor(conn: Connection) {
    this.model = conn.model<PaymentDoc>('Payment', schema);
  }

  async findById(id: string): Promise<Payment | null> {
    const d = await this.model.findById(id, { outbox: 0 }).lean<PaymentDoc>();
    return d ? this.remember(toPayment(d)) : null;
  }

  /** The payments among `ids` (one query), in no particular order. */
  async findByIds(ids: readonly string[]): Promise<Payment[]> {
    const docs = await this.model.find({ _id: { $in: ids } }, { outbox: 0 }).lean<PaymentDoc[]>();
    return docs.map((d) => this.remember(toPayment(d)));
  }

  /** The payment as this process last stored or read it, if it did; its status may be stale. */
  cached(id: string): Payment | undefined {
    return this.recent.get(id);
  }

  /**
   * Stores a new payment (see the domain's `complete`) with its event.
   * @returns false when a payment for the registration exists already; nothing is written.
   */
  async insert(completed: Created<Payment>): Promise<boolean> {
    if (!(await insertCreated(this.model.collection, completed.created, [completed.event]))) return false;
    this.remember(completed.created);
    return true;
  }

  /**
   * Stores a VOIDED tombstone (see the domain's `voided`), without events.
   * @returns false when a payment for the registration exists already; nothing is written.
   */
  insertTombstone(tombstone: Payment): Promise<boolean> {
    return insertCreated(this.model.collection, tombstone, []);
  }

  /**
   * Applies a transition of the aggregate (e.g. the domain's `refund`): one write guarded by the
   * stored status, with its event.
   * @returns false when the stored status was not the one it starts from; nothing is written.
   */
  async apply(t: Transition<Payment>, ctx: Pick<ChangeContext, 'withEvents'>): Promise<boolean> {
    if (!(await storeTransition(this.model.collection, t, ctx))) return false;
    this.remember(t.next);
    return true;
  }

  private remember(p: Payment): Payment {
    this.recent.set(p.id, p);
    return p;
  }
}
