/**
 * Use cases of the payment context: the synchronous charge registration makes, the reads that
 * must see a charge just answered, the policies on registration events (record, refund, void)
 * and the recovery of a charge whose process died. Orchestrates the provider, the repository and
 * the outbox; the rules live in ../domain, the I/O in ../infrastructure.
 */
import type { EventEnvelope } from '@courses/contracts';
import type { ChangeContext, Logger, Outbox } from '@courses/platform';
import { complete, paymentIdOf, refund, refundLateCharge, voided, type ChargeInput, type Payment } from '../domain/payment.js';
import { PAYMENTS, type PaymentRepository } from '../infrastructure/payment-repository.js';
import type { PaymentProvider } from '../infrastructure/simulated-provider.js';

/** Longest a read waits for another process to store a charge it answered, ms. */
export const READ_YOUR_CHARGE_MS = 1_000;

/** What a charge answered: approved with the payment id, or declined; and the provider's time (ms). */
export type ChargeResult = ({ decision: 'approved'; paymentId: string } | { decision: 'declined' }) & { providerMs: number };

export class PaymentService {
  /** Charges answered and being stored by this process, by payment id. */
  private readonly storing = new Map<string, Promise<unknown>>();

  constructor(
    private readonly payments: PaymentRepository,
    private readonly provider: PaymentProvider,
    private readonly outbox: Outbox,
    private readonly logger: Logger,
  ) {
    outbox.recoverWith(PAYMENTS, (id, data, ctx) => this.recoverCharge(id, data as ChargeInput | undefined, ctx));
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
   *   provider for the decision again, and {@link onRegistrationConfirmed} does the same when
   *   `registration.confirmed` arrives (the crash may come before the claim is stored).
   */
  async charge(input: ChargeInput): Promise<ChargeResult> {
    const id = paymentIdOf(input.registrationId);
    const started = performance.now();
    const decided = this.provider.charge(input);
    const stored = this.outbox.change(
      PAYMENTS,
      id,
      async (ctx) => {
        if ((await decided) === 'declined') return { value: undefined };
        return { value: undefined, events: await this.recordApproved(id, input, ctx) };
      },
      { staleAfterMs: this.provider.maxLatencyMs + 5_000, data: { ...input } },
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
   * The payments among `ids` (one query), in no particular order. A charge already answered and
   * still being stored (see {@link charge}) is waited for, here or in another process (its outbox
   * claim, at most {@link READ_YOUR_CHARGE_MS}), so a client that selects the payment of the
   * registration it just made sees it.
   */
  async findByIds(ids: readonly string[]): Promise<Payment[]> {
    const found = await this.payments.findByIds(ids);
    const missing = ids.filter((id) => !found.some((p) => p.id === id));
    if (!missing.length) return found;
    const storing = missing.map((id) => this.storing.get(id)).filter((p): p is Promise<unknown> => !!p);
    if (storing.length) await Promise.allSettled(storing);
    else {
      const claimed = await this.outbox.claimed(PAYMENTS, missing);
      if (!claimed.length) return found;
      await this.outbox.waitForRelease(PAYMENTS, claimed, READ_YOUR_CHARGE_MS);
    }
    return [...found, ...(await this.payments.findByIds(missing))];
  }

  /**
   * Policy "registration confirmed → its payment is recorded": a no-op unless this process (or
   * one that died) answered the charge without storing it; then it asks the provider and stores
   * it. Driven by a durable event, so without a claim (see Outbox.applyFromEvent).
   */
  async onRegistrationConfirmed(input: ChargeInput, redelivered: boolean): Promise<void> {
    const id = paymentIdOf(input.registrationId);
    if (this.payments.cached(id) && !redelivered) return;
    await this.storing.get(id)?.catch(() => undefined);
    await this.outbox.applyFromEvent(
      PAYMENTS,
      id,
      async (ctx) => {
        if (await this.payments.findById(id)) return { value: undefined };
        if (this.provider.decisionOf(input) !== 'approved') return { value: undefined };
        this.logger.warn({ paymentId: id }, 'stored an approved charge its process had not stored');
        return { value: undefined, events: await this.recordApproved(id, input, ctx) };
      },
      redelivered,
    );
  }

  /**
   * Policy "registration canceled → refund its payment" (`paymentId`): COMPLETED → REFUNDED with
   * `payment.refunded`. A payment not stored yet (its charge answered a moment ago, still being
   * written) gets a VOIDED tombstone, and that charge then refunds itself when it finds it.
   * Driven by a durable event, so without a claim. Idempotent.
   * @returns true when it refunded now.
   */
  onRegistrationCanceled(paymentId: string, of: Omit<ChargeInput, 'amount'>, redelivered: boolean): Promise<boolean> {
    return this.outbox.applyFromEvent(
      PAYMENTS,
      paymentId,
      async (ctx) => {
        const p = this.payments.cached(paymentId) ?? (await this.payments.findById(paymentId));
        if (!p)
          return {
            value: false,
            events: (await this.payments.insertTombstone(voided(paymentId, of))) ? [] : await this.refundStored(paymentId, ctx),
          };
        const events = await this.refund(p, ctx);
        return { value: events.length > 0, events };
      },
      redelivered,
    );
  }

  /**
   * Policy "registration abandoned → void its payment": refunds a completed one, or leaves a
   * VOIDED tombstone so that a charge arriving later is refunded at once. Driven by a durable
   * event, so without a claim. Idempotent.
   */
  onRegistrationAbandoned(of: Omit<ChargeInput, 'amount'>, redelivered: boolean): Promise<void> {
    const id = paymentIdOf(of.registrationId);
    return this.outbox.applyFromEvent(
      PAYMENTS,
      id,
      async (ctx) => {
        if (await this.payments.insertTombstone(voided(id, of))) return { value: undefined };
        return { value: undefined, events: await this.refundStored(id, ctx) };
      },
      redelivered,
    );
  }

  /**
   * Recovery of a charge whose process died (see {@link charge}): records it when the provider
   * approved it and nothing is stored yet.
   */
  private async recoverCharge(id: string, input: ChargeInput | undefined, ctx: ChangeContext): Promise<void> {
    if (!input || this.provider.decisionOf(input) !== 'approved') return;
    await this.recordApproved(id, input, ctx);
  }

  /** Stores an approved charge: COMPLETED, or the refund of a charge for a voided attempt; nothing for a repeat. */
  private async recordApproved(id: string, input: ChargeInput, ctx: ChangeContext): Promise<EventEnvelope[]> {
    const completed = complete(id, input);
    if (await this.payments.insert(completed)) return [completed.event];
    const existing = await this.payments.findById(id);
    const refunding = existing && refundLateCharge(existing, input.amount);
    return refunding && (await this.payments.apply(refunding, ctx)) ? [refunding.event] : [];
  }

  /** Refunds the stored payment `id` if it is COMPLETED; the events written. */
  private async refundStored(id: string, ctx: ChangeContext): Promise<EventEnvelope[]> {
    const p = await this.payments.findById(id);
    return p ? this.refund(p, ctx) : [];
  }

  /** {@link refund}s `p` when it is COMPLETED (guarded by the stored status); the events written. */
  private async refund(p: Payment, ctx: ChangeContext): Promise<EventEnvelope[]> {
    const refunding = refund(p);
    return refunding && (await this.payments.apply(refunding, ctx)) ? [refunding.event] : [];
  }
}
