/**
 * Policy "when a seat frees and students wait, the first in line is enrolled": the freed seat is
 * offered to the first place without one (by the lecture's waitlist writer, ./waitlist-desk.ts),
 * its registration is charged then, under its own outbox claim, and becomes CONFIRMED; a
 * declined charge drops it (CANCELED, PAYMENT_DECLINED) and its seat goes to the next in line;
 * payment being busy keeps the offer and tries again (the charge is idempotent on the
 * registration id, so a retry cannot charge twice).
 *
 * A freed seat reaches the line because whoever frees one reads the line right after
 * ({@link Promotions.seatFreed}), while a place that joins is written before the writer reads
 * the seat ledger: of two such moves at the same time, at least one sees the other.
 *
 * The sweep (every {@link SWEEP_MS}, in every replica) finishes what a process that died left:
 * offers never charged, places whose registration ended without leaving the line, and free seats
 * with students waiting.
 */
import type { Logger, Outbox } from '@courses/platform';
import { promotionStep } from '../domain/attempt.js';
import { cancel, enrollFromWaitlist, type CatalogLecture } from '../domain/registration.js';
import { waitingForSeat, type SeatOffer } from '../domain/waitlist.js';
import type { CatalogRepository } from '../infrastructure/catalog-repository.js';
import type { PaymentClient } from '../infrastructure/payment-client.js';
import type { RegistrationRepository } from '../infrastructure/registration-repository.js';
import type { SeatRepository } from '../infrastructure/seat-repository.js';
import type { WaitlistRepository } from '../infrastructure/waitlist-repository.js';
import type { Admission } from './admission.js';
import type { SeatKnowledge } from './seat-knowledge.js';
import type { WaitlistDesk } from './waitlist-desk.js';

/** Collection of the registrations, whose changes go through the outbox. */
export const REGISTRATIONS = 'registrations';
/** How often (ms) the sweep looks at lectures with a line. */
export const SWEEP_MS = 1_000;
/** How long (ms) payment being busy holds an offer before its charge is tried again. */
export const RETRY_MS = 1_000;

export interface PromotionOptions {
  /** Age (ms) after which the claim of a process that died mid-charge may be taken over; an offer that old is charged again by the sweep. */
  pendingTimeoutMs: number;
}

/** How one offer ended. */
type Enrolment = 'enrolled' | 'dropped' | 'retry' | 'gone';

export class Promotions {
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly retries = new Set<NodeJS.Timeout>();
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly desk: WaitlistDesk,
    private readonly waitlists: WaitlistRepository,
    private readonly registrations: RegistrationRepository,
    private readonly seats: SeatRepository,
    private readonly catalog: CatalogRepository,
    private readonly payment: PaymentClient,
    private readonly admission: Admission,
    private readonly outbox: Outbox,
    private readonly knowledge: SeatKnowledge,
    private readonly logger: Logger,
    private readonly opts: PromotionOptions,
  ) {
    desk.onOffers((offers) => this.enroll(offers));
  }

  /**
   * This process just freed a seat of `lecture`: it reads the line, and when anyone waits for
   * a seat, has the free seats offered to the first in line. Otherwise the seat is free for
   * whoever asks.
   */
  async seatFreed(lecture: Pick<CatalogLecture, 'id' | 'instructorId' | 'capacity'>): Promise<void> {
    this.knowledge.seatFreed(lecture.id);
    const line = await this.waitlists.findById(lecture.id);
    if (!line) return;
    this.knowledge.line(line);
    if (waitingForSeat(line) > 0) await this.desk.offerFreeSeats(lecture);
  }

  /** Charges and enrolls each offered place, in the background (see the module doc). */
  enroll(offers: readonly SeatOffer[]): void {
    for (const o of offers) this.track(this.enrollOne(o));
  }

  /** Starts the sweep. */
  start(): void {
    this.timer ??= setInterval(() => void this.sweep(), SWEEP_MS);
    this.timer.unref();
  }

  /** Stops the sweep and retries, and waits for the charges in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    for (const t of this.retries) clearTimeout(t);
    await this.sweeping;
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }

  /** One offer: charge under the registration's claim, then enroll, drop, or keep it for a retry. */
  private async enrollOne(o: SeatOffer): Promise<void> {
    const lecture = await this.catalog.findById(o.lectureId);
    if (!lecture) return;
    let ended: Enrolment;
    try {
      ended = await this.admission.run(() =>
        this.outbox.change<Enrolment>(
          REGISTRATIONS,
          o.registrationId,
          async (ctx) => {
            const reg = await this.registrations.findById(o.registrationId);
            // A place just taken whose registration is not stored yet: its turn comes again (past
            // the pending timeout its attempt died, and the sweep takes it out of line).
            if (!reg) return { value: Date.now() - o.at.getTime() > this.opts.pendingTimeoutMs ? 'gone' : 'retry' };
            // Left the line, or enrolled by another process, meanwhile; a canceled lecture's
            // places are closed by its policy.
            if (reg.status !== 'WAITLISTED' || lecture.status !== 'OPEN') return { value: 'gone' };
            const charge = await this.payment.charge({
              registrationId: reg.id,
              studentId: reg.studentId,
              lectureId: reg.lectureId,
              amount: reg.amount,
            });
            this.admission.sample(charge);
            const step = promotionStep(charge);
            if (step === 'retry' || charge.kind === 'unavailable') return { value: 'retry' };
            const t =
              charge.kind === 'completed' ? enrollFromWaitlist(reg, charge.paymentId, o.seat, o.at) : cancel(reg, 'PAYMENT_DECLINED');
            if (!t || !(await this.registrations.apply(t, ctx))) return { value: 'gone' };
            if (step === 'drop') await this.seats.release(o.seat, reg.id, reg.studentId, reg.lectureId);
            return { value: step === 'enroll' ? 'enrolled' : 'dropped', events: [t.event] };
          },
          { staleAfterMs: this.opts.pendingTimeoutMs, data: { promotion: true, lectureId: o.lectureId } },
        ),
      );
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, registrationId: o.registrationId }, 'could not enroll a waitlist place; will retry');
      ended = 'retry';
    }
    if (ended === 'retry') return this.retryLater(o);
    await this.desk.settle(lecture, o.registrationId);
    if (ended === 'dropped') await this.seatFreed(lecture);
  }

  private retryLater(o: SeatOffer): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.retries.delete(t);
      this.track(this.enrollOne(o));
    }, RETRY_MS);
    t.unref();
    this.retries.add(t);
  }

  /**
   * One sweep over the lectures whose line is not empty: a place whose registration is no
   * longer WAITLISTED leaves the line (and gives back an offered seat it does not hold as
   * CONFIRMED); an offer older than the pending timeout whose registration nobody is changing is
   * charged again; free seats go to the first in line.
   */
  sweep(): Promise<void> {
    this.sweeping ??= this.sweepOnce()
      .catch((err) => this.logger.warn({ err: (err as Error).message }, 'waitlist sweep failed; will retry'))
      .finally(() => {
        this.sweeping = undefined;
      });
    return this.sweeping;
  }

  private async sweepOnce(): Promise<void> {
    for (const lectureId of await this.waitlists.lecturesWaiting()) {
      if (this.stopped) return;
      const [line, lecture] = await Promise.all([this.waitlists.findById(lectureId), this.catalog.findById(lectureId)]);
      if (!line || !lecture) continue;
      const regs = new Map((await this.registrations.findByIds(line.entries.map((e) => e.registrationId))).map((r) => [r.id, r]));
      const now = Date.now();
      for (const e of line.entries) {
        const reg = regs.get(e.registrationId);
        if (reg?.status === 'WAITLISTED') {
          const stale = e.offer && now - e.offer.at.getTime() > this.opts.pendingTimeoutMs;
          if (stale && !(await this.outbox.claimed(REGISTRATIONS, [reg.id])).length)
            this.enroll([{ lectureId, registrationId: reg.id, studentId: reg.studentId, seat: e.offer!.seat, at: e.offer!.at }]);
          continue;
        }
        // A place whose registration is not stored yet (its attempt is storing it, or died doing
        // so, and then only long ago), or one enrolled or ended without leaving the line.
        if (!reg && now - e.joinedAt.getTime() <= this.opts.pendingTimeoutMs) continue;
        await this.desk.settle(lecture, e.registrationId);
        if (reg?.status !== 'CONFIRMED') {
          await this.seats.release(e.offer?.seat ?? null, e.registrationId, e.studentId, lectureId);
          if (e.offer) this.knowledge.seatFreed(lectureId);
        }
      }
      if (waitingForSeat(line) > 0) await this.desk.offerFreeSeats(lecture);
    }
  }

  private track(p: Promise<unknown>): void {
    const tracked = p.catch((err) => this.logger.error({ err }, 'waitlist enrolment failed'));
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
  }
}
