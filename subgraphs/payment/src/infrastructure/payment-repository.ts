/**
 * Payment persistence: one document per registration, `_id` = {@link paymentIdOf} its
 * registration id (so the unique `_id` also makes the charge once-only), with its outbox. Every change goes through the service's outbox claim and
 * every access is by `_id`.
 *
 * A small cache keeps the payments this process recorded or read: amount, student, lecture and
 * registration never change, so a refund builds its event without a read; the status it sees
 * is only a hint, because every transition is guarded by the stored status.
 */
import { LRUCache } from 'lru-cache';
import { Schema, type Connection, type Model } from 'mongoose';
import type { EventEnvelope } from '@courses/contracts';
import { isDuplicateKey, outboxField, type ChangeContext, type Outbox } from '@courses/platform';
import { completedEvent, paymentIdOf, refundedEvent, type Payment, type PaymentState } from '../domain/payment.js';
import type { PaymentProvider } from './simulated-provider.js';

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
    outbox: outboxField() as never,
  },
  { timestamps: true, versionKey: false, collection: 'payments' },
);

/** The aggregate collection whose changes go through the outbox. */
const COLLECTION = 'payments';

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
  private readonly recent = new LRUCache<string, Payment>({ max: 20_000 });

  constructor(
    conn: Connection,
    private readonly outbox: Outbox,
  ) {
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

  /** The payment of a registration, if any. */
  findByRegistration(registrationId: string): Promise<Payment | null> {
    return this.findById(paymentIdOf(registrationId));
  }

  /**
   * Charges `input` through the provider and records it with `payment.completed`, once per
   * registration. The payment's outbox claim is taken, and the stored payment read, while the
   * provider works; the answer goes back as soon as the provider approves, and the write of the
   * payment and the publication of its event follow under the claim, off the caller's clock (a
   * breaker times the caller out at 610 ms against a provider that takes up to 600). Should this
   * process die before the write, the claim's recovery asks the provider for the decision again.
   * - A repeat of a stored charge answers with it and stores nothing.
   * - A charge of an attempt already voided (registration gave up on it before this call
   *   arrived) is declined and, as the provider took the money, recorded as refunded at once.
   * @returns `approved` with the payment id, or `declined`.
   */
  charge(input: ChargeInput, provider: PaymentProvider): Promise<{ decision: 'approved'; paymentId: string } | { decision: 'declined' }> {
    const id = paymentIdOf(input.registrationId);
    const decided = provider.charge(input);
    decided.catch(() => undefined);
    return new Promise((resolve, reject) => {
      this.outbox
        .change(
          COLLECTION,
          id,
          async (ctx) => {
            const [decision, stored] = await Promise.all([decided, this.findById(id)]);
            if (decision === 'declined') {
              resolve({ decision: 'declined' });
              return { value: undefined };
            }
            if (stored?.status === 'COMPLETED') {
              resolve({ decision: 'approved', paymentId: id });
              return { value: undefined };
            }
            if (stored) {
              resolve({ decision: 'declined' });
              return { value: undefined, events: await this.refundLateCharge(stored, input.amount, ctx) };
            }
            resolve({ decision: 'approved', paymentId: id });
            const event = await this.insertCompleted(id, input);
            return { value: undefined, events: event ? [event] : [] };
          },
          { staleAfterMs: provider.maxLatencyMs + 5_000, data: { ...input } },
        )
        .catch(reject);
    });
  }

  /** A voided attempt that the provider charged after all: VOIDED → REFUNDED with the amount, and `payment.refunded`. */
  private async refundLateCharge(voided: Payment, amount: number, ctx: ChangeContext): Promise<EventEnvelope[]> {
    const event = refundedEvent({ ...voided, amount });
    const res = await this.model.collection.updateOne(
      { _id: voided.id as never, status: 'VOIDED' satisfies PaymentState },
      ctx.withEvents({ $set: { status: 'REFUNDED' satisfies PaymentState, amount, updatedAt: new Date() } }, [event]),
    );
    return res.modifiedCount === 1 ? [event] : [];
  }

  /**
   * Recovery of a charge whose process died (see {@link charge}): records it when the provider
   * approved it and nothing is stored yet.
   */
  async recoverCharge(id: string, input: ChargeInput | undefined, provider: PaymentProvider): Promise<void> {
    if (!input || provider.decisionOf(input) !== 'approved') return;
    await this.insertCompleted(id, input);
  }

  /** Inserts a COMPLETED payment with its event; undefined when a payment for the registration exists already. */
  private async insertCompleted(id: string, input: ChargeInput): Promise<EventEnvelope | undefined> {
    const now = new Date();
    const payment: Payment = { id, ...input, status: 'COMPLETED', createdAt: now, updatedAt: now };
    const event = completedEvent(payment);
    try {
      await this.model.collection.insertOne({ _id: id, ...input, status: 'COMPLETED', createdAt: now, updatedAt: now, outbox: [event] } as never);
    } catch (err) {
      if (isDuplicateKey(err)) return undefined;
      throw err;
    }
    this.remember(payment);
    return event;
  }

  /** COMPLETED → REFUNDED with `payment.refunded`. @returns false when it was not COMPLETED (idempotent). */
  refund(paymentId: string): Promise<boolean> {
    return this.outbox.change(COLLECTION, paymentId, async (ctx) => {
      const p = this.recent.get(paymentId) ?? (await this.findById(paymentId));
      if (!p || p.status === 'VOIDED') return { value: false };
      const event = refundedEvent(p);
      const updatedAt = new Date();
      const res = await this.model.collection.updateOne(
        { _id: paymentId as never, status: 'COMPLETED' satisfies PaymentState },
        ctx.withEvents({ $set: { status: 'REFUNDED' satisfies PaymentState, updatedAt } }, [event]),
      );
      if (res.modifiedCount !== 1) return { value: false };
      this.remember({ ...p, status: 'REFUNDED', updatedAt });
      return { value: true, events: [event] };
    });
  }

  /**
   * Voids the registration's payment: refunds a completed one, or leaves a VOIDED tombstone
   * so that a charge arriving later is refused. Idempotent.
   */
  async void(input: Omit<ChargeInput, 'amount'>): Promise<void> {
    const id = paymentIdOf(input.registrationId);
    const tombstoned = await this.outbox.change(COLLECTION, id, async () => {
      const now = new Date();
      try {
        await this.model.collection.insertOne({ _id: id, ...input, amount: 0, status: 'VOIDED', createdAt: now, updatedAt: now, outbox: [] } as never);
        return { value: true };
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        return { value: false };
      }
    });
    if (!tombstoned) await this.refund(id);
  }

  private remember(p: Payment): Payment {
    this.recent.set(p.id, p);
    return p;
  }
}
