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
import { isDuplicateKey, outboxField, type ChangeContext, type Logger, type Outbox } from '@courses/platform';
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
/** Longest a read waits for another process to store a charge it answered, ms. */
export const READ_YOUR_CHARGE_MS = 1_000;

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
  /** Charges answered and being stored by this process, by payment id. */
  private readonly storing = new Map<string, Promise<unknown>>();

  constructor(
    conn: Connection,
    private readonly outbox: Outbox,
    private readonly logger: Logger,
  ) {
    this.model = conn.model<PaymentDoc>('Payment', schema);
  }

  async findById(id: string): Promise<Payment | null> {
    const d = await this.model.findById(id, { outbox: 0 }).lean<PaymentDoc>();
    return d ? this.remember(toPayment(d)) : null;
  }

  /**
   * The payments among `ids` (one query), in no particular order. A charge already answered and
   * still being stored (see {@link charge}) is waited for, here or in another process (its outbox
   * claim, at most {@link READ_YOUR_CHARGE_MS}), so a client that selects the payment of the
   * registration it just made sees it.
   */
  async findByIds(ids: readonly string[]): Promise<Payment[]> {
    const found = await this.readMany(ids);
    const missing = ids.filter((id) => !found.some((p) => p.id === id));
    if (!missing.length) return found;
    const storing = missing.map((id) => this.storing.get(id)).filter((p): p is Promise<unknown> => !!p);
    if (storing.length) await Promise.allSettled(storing);
    else {
      const claimed = await this.outbox.claimed(COLLECTION, missing);
      if (!claimed.length) return found;
      await this.outbox.waitForRelease(COLLECTION, claimed, READ_YOUR_CHARGE_MS);
    }
    return [...found, ...(await this.readMany(missing))];
  }

  private async readMany(ids: readonly string[]): Promise<Payment[]> {
    const docs = await this.model.find({ _id: { $in: ids } }, { outbox: 0 }).lean<PaymentDoc[]>();
    return docs.map((d) => this.remember(toPayment(d)));
  }

  /** The payment of a registration, if any. */
  findByRegistration(registrationId: string): Promise<Payment | null> {
    return this.findById(paymentIdOf(registrationId));
  }

  /**
   * Charges `input` through the provider and records it with `payment.completed`, once per
   * registration. The answer goes back the moment the provider decides: no database round trip
   * stands between the provider and the caller, whose breaker times out at 610 ms against a
   * provider that takes up to 600. The payment's outbox claim is taken while the provider works,
   * and the payment is stored and its event published under it after the answer.
   * - A repeat of a stored charge stores nothing.
   * - A charge of an attempt already voided (registration gave up on it before this call
   *   arrived, and ignores this answer) is recorded as refunded at once: the provider took money.
   * - Should this process die before storing an approved charge, the claim's recovery asks the
   *   provider for the decision again, and {@link ensureRecorded} does the same when
   *   `registration.confirmed` arrives (the crash may come before the claim is stored).
   * @returns `approved` with the payment id, or `declined`; and how long the provider took (ms).
   */
  async charge(input: ChargeInput, provider: PaymentProvider): Promise<({ decision: 'approved'; paymentId: string } | { decision: 'declined' }) & { providerMs: number }> {
    const id = paymentIdOf(input.registrationId);
    const started = performance.now();
    const decided = provider.charge(input);
    const stored = this.outbox.change(
      COLLECTION,
      id,
      async (ctx) => {
        if ((await decided) === 'declined') return { value: undefined };
        return { value: undefined, events: await this.recordApproved(id, input, ctx) };
      },
      { staleAfterMs: provider.maxLatencyMs + 5_000, data: { ...input } },
    );
    this.storing.set(id, stored);
    stored.then(
      () => this.storing.delete(id),
      (err) => {
        this.storing.delete(id);
        this.logger.error({ err, paymentId: id }, 'could not store an approved charge; the outbox recovers it');
      },
    );
    const decision = await decided;
    const providerMs = performance.now() - started;
    return decision === 'declined' ? { decision, providerMs } : { decision, paymentId: id, providerMs };
  }

  /**
   * Policy "registration confirmed → its payment is recorded": a no-op unless this process (or
   * one that died) answered the charge without storing it; then it asks the provider and stores
   * it. Driven by a durable event, so without a claim.
   */
  async ensureRecorded(input: ChargeInput, provider: PaymentProvider, redelivered: boolean): Promise<void> {
    const id = paymentIdOf(input.registrationId);
    if (this.recent.has(id) && !redelivered) return;
    await this.storing.get(id)?.catch(() => undefined);
    await this.outbox.applyFromEvent(COLLECTION, id, async (ctx) => {
      if (await this.findById(id)) return { value: undefined };
      if (provider.decisionOf(input) !== 'approved') return { value: undefined };
      this.logger.warn({ paymentId: id }, 'stored an approved charge its process had not stored');
      return { value: undefined, events: await this.recordApproved(id, input, ctx) };
    }, redelivered);
  }

  /**
   * Recovery of a charge whose process died (see {@link charge}): records it when the provider
   * approved it and nothing is stored yet.
   */
  async recoverCharge(id: string, input: ChargeInput | undefined, provider: PaymentProvider, ctx: ChangeContext): Promise<void> {
    if (!input || provider.decisionOf(input) !== 'approved') return;
    await this.recordApproved(id, input, ctx);
  }

  /** Stores an approved charge: COMPLETED, or the refund of a charge for a voided attempt; nothing for a repeat. */
  private async recordApproved(id: string, input: ChargeInput, ctx: ChangeContext): Promise<EventEnvelope[]> {
    const event = await this.insertCompleted(id, input);
    if (event) return [event];
    const existing = await this.findById(id);
    return existing && existing.status === 'VOIDED' ? this.refundLateCharge(existing, input.amount, ctx) : [];
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

  /**
   * Policy "registration canceled → refund its payment": COMPLETED → REFUNDED with
   * `payment.refunded`. A payment not stored yet (its charge answered a moment ago, still being
   * written) gets a VOIDED tombstone, and that charge then refunds itself when it finds it.
   * Driven by a durable event, so without a claim (see Outbox.applyFromEvent). Idempotent.
   * @returns true when it refunded now.
   */
  refund(paymentId: string, ids: Omit<ChargeInput, 'amount'>, redelivered: boolean): Promise<boolean> {
    return this.outbox.applyFromEvent(COLLECTION, paymentId, async (ctx) => {
      const p = this.recent.get(paymentId) ?? (await this.findById(paymentId));
      if (!p) return { value: false, events: (await this.tombstone(paymentId, ids)) ? [] : await this.refundStored(paymentId, ctx) };
      if (p.status !== 'COMPLETED') return { value: false };
      const events = await this.refundCompleted(p, ctx);
      return { value: events.length > 0, events };
    }, redelivered);
  }

  /**
   * Policy "registration abandoned → void its payment": refunds a completed one, or leaves a
   * VOIDED tombstone so that a charge arriving later is refunded at once. Driven by a durable
   * event, so without a claim. Idempotent.
   */
  void(input: Omit<ChargeInput, 'amount'>, redelivered: boolean): Promise<void> {
    const id = paymentIdOf(input.registrationId);
    return this.outbox.applyFromEvent(COLLECTION, id, async (ctx) => {
      if (await this.tombstone(id, input)) return { value: undefined };
      return { value: undefined, events: await this.refundStored(id, ctx) };
    }, redelivered);
  }

  /** Inserts a VOIDED tombstone for a registration without a payment; false when one exists. */
  private async tombstone(id: string, ids: Omit<ChargeInput, 'amount'>): Promise<boolean> {
    const now = new Date();
    try {
      await this.model.collection.insertOne({ _id: id, registrationId: ids.registrationId, studentId: ids.studentId, lectureId: ids.lectureId, amount: 0, status: 'VOIDED', createdAt: now, updatedAt: now, outbox: [] } as never);
      return true;
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      return false;
    }
  }

  /** Refunds the stored payment `id` if it is COMPLETED; the events written. */
  private async refundStored(id: string, ctx: ChangeContext): Promise<EventEnvelope[]> {
    const p = await this.findById(id);
    return p?.status === 'COMPLETED' ? this.refundCompleted(p, ctx) : [];
  }

  /** COMPLETED → REFUNDED with `payment.refunded` (guarded by the stored status); the events written. */
  private async refundCompleted(p: Payment, ctx: ChangeContext): Promise<EventEnvelope[]> {
    const event = refundedEvent(p);
    const updatedAt = new Date();
    const res = await this.model.collection.updateOne(
      { _id: p.id as never, status: 'COMPLETED' satisfies PaymentState },
      ctx.withEvents({ $set: { status: 'REFUNDED' satisfies PaymentState, updatedAt } }, [event]),
    );
    if (res.modifiedCount !== 1) return [];
    this.remember({ ...p, status: 'REFUNDED', updatedAt });
    return [event];
  }

  private remember(p: Payment): Payment {
    this.recent.set(p.id, p);
    return p;
  }
}
