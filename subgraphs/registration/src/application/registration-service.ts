/**
 * Use cases of the registration context: register (seat → synchronous payment → confirm),
 * cancel, and the policy "when a lecture is canceled, cancel its registrations".
 * Orchestrates the aggregate's repositories and the payment client; the rules live in
 * ../domain, the I/O in ../infrastructure.
 */
import { appError, ErrorCode, type Identity, type Logger, type OutboxRelay } from '@courses/platform';
import { assertMayCancel, assertOpen, type CancellationReason, type Registration } from '../domain/registration.js';
import type { CatalogRepository } from '../infrastructure/catalog-repository.js';
import type { PaymentClient } from '../infrastructure/payment-client.js';
import type { SeatRepository } from '../infrastructure/seat-repository.js';
import type { RegistrationRepository } from '../infrastructure/registration-repository.js';

export class RegistrationService {
  constructor(
    private readonly registrations: RegistrationRepository,
    private readonly catalog: CatalogRepository,
    private readonly seats: SeatRepository,
    private readonly payment: PaymentClient,
    private readonly logger: Logger,
    private readonly relay?: () => OutboxRelay | undefined,
  ) {}

  /** Publishes the registration's new events now rather than at the relay's next sweep. */
  private kick(registrationId: string): void {
    this.relay?.()?.kick(this.registrations.model.collection.collectionName, registrationId);
  }

  /**
   * Registers `who` for lecture `lectureId` and charges its price.
   * Steps: live-key insert (one live registration per student and lecture) → atomic seat
   * take → payment call through the breaker → confirm with `registration.confirmed`.
   * On any failure after the seat was taken, the seat is given back and the attempt is
   * abandoned (`registration.abandoned` makes payment void a late charge).
   * @throws GraphQLError NOT_FOUND, LECTURE_NOT_OPEN, LECTURE_FULL, ALREADY_REGISTERED,
   *   PAYMENT_DECLINED, PAYMENT_UNAVAILABLE (with `retryAfterSeconds`).
   */
  async register(who: Identity, lectureId: string): Promise<Registration> {
    const lecture = await this.catalog.findById(lectureId);
    if (!lecture) throw appError(ErrorCode.NOT_FOUND, `no lecture ${lectureId}`);
    assertOpen(lecture);
    const pending = await this.registrations.createPending(who.sub, lecture);
    if (!pending) throw appError(ErrorCode.ALREADY_REGISTERED, `you are already registered for "${lecture.title}"`);

    if (!(await this.seats.take(lecture, pending.id))) {
      await this.registrations.discard(pending.id);
      const now = await this.catalog.findById(lectureId);
      if (now) assertOpen(now);
      throw appError(ErrorCode.LECTURE_FULL, `lecture "${lecture.title}" has no seat left (capacity ${lecture.capacity})`);
    }

    let outcome;
    try {
      outcome = await this.payment.charge({ registrationId: pending.id, studentId: who.sub, lectureId, amount: pending.amount });
    } catch (err) {
      this.logger.error({ err, registrationId: pending.id }, 'payment call failed unexpectedly');
      outcome = { kind: 'unavailable' as const, reason: 'error', retryAfterSeconds: 1 };
    }

    if (outcome.kind === 'completed') {
      if (await this.registrations.confirm(pending, outcome.paymentId)) {
        this.kick(pending.id);
        const confirmed = (await this.registrations.findById(pending.id))!;
        // The lecture may have been canceled while the charge was in flight: cancel at once
        // (refund follows from the event) instead of leaving a registration for a dead lecture.
        const after = await this.catalog.findById(lectureId);
        if (after?.status === 'CANCELED') return (await this.cancelOne(confirmed, 'LECTURE_CANCELED')) ?? confirmed;
        return confirmed;
      }
      // The reconciler abandoned it meanwhile (we took too long): payment voids the charge.
      throw appError(ErrorCode.PAYMENT_UNAVAILABLE, 'payment took too long; please try again', { retryAfterSeconds: 1 });
    }

    await this.seats.release(pending.id);
    const reason = outcome.kind === 'declined' ? 'PAYMENT_DECLINED' : 'PAYMENT_UNAVAILABLE';
    const abandonedHere = await this.registrations.abandon(pending, reason);
    this.kick(pending.id);
    if (!abandonedHere) {
      // The reconciler gave up on this attempt first (payment took too long); payment then
      // refused the charge for that reason, which is not the card's fault.
      throw appError(ErrorCode.PAYMENT_UNAVAILABLE, 'payment took too long; please try again', { retryAfterSeconds: 1 });
    }
    if (outcome.kind === 'declined') {
      throw appError(ErrorCode.PAYMENT_DECLINED, `payment declined: ${outcome.reason}`);
    }
    this.logger.warn({ registrationId: pending.id, reason: outcome.reason }, 'payment unavailable; registration not made');
    throw appError(ErrorCode.PAYMENT_UNAVAILABLE, 'payment is busy or unavailable right now; please try again shortly', {
      retryAfterSeconds: outcome.retryAfterSeconds,
    });
  }

  /**
   * Cancels registration `id` at the request of `who` (its student or an admin).
   * @throws GraphQLError NOT_FOUND (also for registrations `who` may not see), FORBIDDEN.
   */
  async cancel(who: Identity, id: string): Promise<Registration> {
    const reg = await this.registrations.findById(id);
    if (!reg || reg.status === 'PENDING' || reg.status === 'FAILED') throw appError(ErrorCode.NOT_FOUND, `no registration ${id}`);
    assertMayCancel(reg, who);
    if (reg.status === 'CANCELED') return reg;
    return (await this.cancelOne(reg, 'STUDENT_REQUEST')) ?? reg;
  }

  /** Cancels one CONFIRMED registration and frees its seat; returns it as stored after. */
  private async cancelOne(reg: Registration, reason: CancellationReason): Promise<Registration | null> {
    if (await this.registrations.cancel(reg, reason)) this.kick(reg.id);
    await this.seats.release(reg.id);
    return this.registrations.findById(reg.id);
  }

  /**
   * Policy "lecture canceled → cancel its registrations": closes the catalog entry, then
   * cancels every CONFIRMED registration with reason LECTURE_CANCELED. Safe to repeat.
   */
  async onLectureCanceled(lectureId: string): Promise<number> {
    await this.catalog.markCanceled(lectureId);
    let n = 0;
    for (const id of await this.registrations.confirmedIdsOfLecture(lectureId)) {
      const reg = await this.registrations.findById(id);
      if (reg?.status === 'CONFIRMED') {
        await this.cancelOne(reg, 'LECTURE_CANCELED');
        n++;
      }
    }
    return n;
  }

  /**
   * Reconciliation: abandons PENDING attempts older than `olderThanMs` (their process died
   * mid-registration) and frees seats still held by closed registrations.
   * @returns how many attempts were abandoned and seats freed.
   */
  async reconcile(olderThanMs: number): Promise<{ abandoned: number; seatsFreed: number }> {
    let abandoned = 0;
    let seatsFreed = 0;
    for (const reg of await this.registrations.findPendingBefore(new Date(Date.now() - olderThanMs))) {
      await this.seats.release(reg.id);
      if (await this.registrations.abandon(reg, 'PAYMENT_UNAVAILABLE')) {
        abandoned++;
        this.kick(reg.id);
      }
    }
    for (const reg of await this.registrations.closedAmong(await this.seats.holders())) {
      if (await this.seats.release(reg.id)) seatsFreed++;
    }
    if (abandoned || seatsFreed) this.logger.warn({ abandoned, seatsFreed }, 'reconciliation repaired registrations');
    return { abandoned, seatsFreed };
  }
}
