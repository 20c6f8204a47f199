/**
 * Use cases of the registration context: register (seat → synchronous payment → confirm),
 * cancel, the policy "when a lecture is canceled, cancel its registrations", and the recovery
 * of an attempt whose process died. Orchestrates the repositories, the payment client and the
 * outbox; the rules live in ../domain, the I/O in ../infrastructure.
 */
import {
  AdaptiveLimit,
  AdmissionRefusedError,
  DomainError,
  ErrorCode,
  newId,
  type Identity,
  type Logger,
  type Outbox,
  type Transition,
} from '@courses/platform';
import {
  abandon,
  assertOpen,
  attemptOf,
  cancel,
  cancelAtRequest,
  confirm,
  liveKey,
  type Attempt,
  type CatalogLecture,
  type Registration,
} from '../domain/registration.js';
import type { CatalogRepository } from '../infrastructure/catalog-repository.js';
import type { ChargeOutcome, PaymentClient } from '../infrastructure/payment-client.js';
import type { RegistrationRepository } from '../infrastructure/registration-repository.js';
import type { SeatRepository } from '../infrastructure/seat-repository.js';

/** The aggregate collection whose changes go through the outbox. */
const COLLECTION = 'registrations';

export interface RegistrationServiceOptions {
  /** Age (ms) after which an attempt whose process died is abandoned; must exceed the payment timeout. */
  pendingTimeoutMs: number;
  /** Most registrations in progress at once (seat taken, payment in flight); the limit adapts below it (default 64). */
  concurrency?: number;
  /** Longest (ms) a registration waits for its turn before SERVICE_UNAVAILABLE (default 4000). */
  queueMs?: number;
  /** Most registrations waiting for their turn; more are refused at once (default 2000). */
  queueLimit?: number;
}

/** How an attempt ended, as the register use case reports it. */
type Outcome =
  | { kind: 'confirmed'; registration: Registration }
  | { kind: 'not-open' }
  | { kind: 'already-registered' }
  | { kind: 'full' }
  | { kind: 'not-paid'; outcome: Exclude<ChargeOutcome, { kind: 'completed' }> }
  | { kind: 'overtaken' };

export class RegistrationService {
  /** How many registrations run at once: adapts to payment's timeouts and this process's event loop. */
  readonly admission: AdaptiveLimit;
  private readonly queueMs: number;

  constructor(
    private readonly registrations: RegistrationRepository,
    private readonly catalog: CatalogRepository,
    private readonly seats: SeatRepository,
    private readonly payment: PaymentClient,
    private readonly outbox: Outbox,
    private readonly logger: Logger,
    private readonly opts: RegistrationServiceOptions,
  ) {
    this.admission = new AdaptiveLimit({
      max: opts.concurrency ?? 64,
      queueLimit: opts.queueLimit ?? 2_000,
      maxFailureRate: 0.15,
      windowMs: 5_000,
    });
    // The breaker changing state is news too: opening means payment failed a lot; closing after a
    // probe means calls resume, a few at first rather than everyone waiting at once.
    payment.breaker.on('open', () => this.admission.overloaded());
    payment.breaker.on('close', () => this.admission.overloaded());
    this.queueMs = opts.queueMs ?? 4_000;
    outbox.recoverWith(COLLECTION, (id, data) => this.recover(id, data as Attempt | undefined));
  }

  /**
   * Registers `who` for lecture `lectureId` and charges its price.
   * Steps, under the attempt's outbox claim: a seat taken by one unique insert (which also
   * allows one live registration per student and lecture) → payment call through the breaker →
   * the registration stored CONFIRMED with `registration.confirmed`, or FAILED with
   * `registration.abandoned` (payment voids a late charge) and the seat given back.
   * At most `concurrency` registrations run at once; the rest wait up to `queueMs`.
   * @throws DomainError NOT_FOUND, LECTURE_NOT_OPEN, LECTURE_FULL, ALREADY_REGISTERED,
   *   PAYMENT_DECLINED, PAYMENT_UNAVAILABLE or SERVICE_UNAVAILABLE (both with `retryAfterSeconds`).
   */
  async register(who: Identity, lectureId: string): Promise<Registration> {
    const lecture = await this.catalog.findById(lectureId);
    if (!lecture) throw new DomainError(ErrorCode.NOT_FOUND, `no lecture ${lectureId}`);
    assertOpen(lecture);
    const refused = this.payment.refusedNow();
    const attempt: Outcome = refused ? { kind: 'not-paid', outcome: refused } : await this.admit(() => this.attempt(who, lecture));
    switch (attempt.kind) {
      case 'confirmed':
        // Should the lecture have been canceled meanwhile, the lecture-canceled policy looks
        // again once attempts like this one are done, and cancels it (see ../infrastructure/consumers.ts).
        return attempt.registration;
      case 'not-open':
        throw new DomainError(ErrorCode.LECTURE_NOT_OPEN, `lecture "${lecture.title}" is not open for registration`);
      case 'already-registered':
        throw new DomainError(ErrorCode.ALREADY_REGISTERED, `you are already registered for "${lecture.title}"`);
      case 'full': {
        const now = await this.catalog.fresh(lectureId);
        if (now) assertOpen(now);
        throw new DomainError(ErrorCode.LECTURE_FULL, `lecture "${lecture.title}" has no seat left (capacity ${lecture.capacity})`);
      }
      case 'overtaken':
        // Another process gave up on this attempt first (it took too long); payment voids the charge.
        throw new DomainError(ErrorCode.PAYMENT_UNAVAILABLE, 'payment took too long; please try again', { retryAfterSeconds: 1 });
      case 'not-paid': {
        const { outcome } = attempt;
        if (outcome.kind === 'declined') throw new DomainError(ErrorCode.PAYMENT_DECLINED, `payment declined: ${outcome.reason}`);
        this.logger.debug({ reason: outcome.reason }, 'payment unavailable; registration not made');
        throw new DomainError(ErrorCode.PAYMENT_UNAVAILABLE, 'payment is busy or unavailable right now; please try again shortly', {
          retryAfterSeconds: outcome.retryAfterSeconds,
        });
      }
    }
  }

  /**
   * One attempt, under its outbox claim (stale after `pendingTimeoutMs`, then recovered by
   * {@link recover} from the attempt kept in the claim).
   */
  private attempt(who: Identity, lecture: CatalogLecture): Promise<Outcome> {
    const attempt = attemptOf(newId(), who.sub, lecture);
    return this.outbox.change<Outcome>(
      COLLECTION,
      attempt.id,
      async () => {
        // Payment refusing calls outright (breaker open): say so before holding anything.
        const refused = this.payment.refusedNow();
        if (refused) return { value: { kind: 'not-paid', outcome: refused } };
        // The lecture again, after the wait for a turn, under this attempt's claim (which the
        // lecture-canceled policy sees as an attempt in flight).
        if ((await this.catalog.findById(lecture.id))?.status !== 'OPEN') return { value: { kind: 'not-open' } };
        const seat = await this.seats.take(lecture, attempt.id, liveKey(who.sub, lecture.id));
        if (seat === 'already-registered') return { value: { kind: 'already-registered' } };
        if (!seat) return { value: { kind: 'full' } };
        let outcome: ChargeOutcome;
        try {
          outcome = await this.payment.charge({
            registrationId: attempt.id,
            studentId: who.sub,
            lectureId: lecture.id,
            amount: attempt.amount,
          });
        } catch (err) {
          this.logger.error({ err, registrationId: attempt.id }, 'payment call failed unexpectedly');
          outcome = { kind: 'unavailable', reason: 'error', retryAfterSeconds: 1, maybeCharged: true };
        }
        this.sampleCharge(outcome);
        if (outcome.kind === 'unavailable' && !outcome.maybeCharged) {
          // The call never left: nothing to void, only the seat to give back.
          await this.seats.release(seat, attempt.id);
          return { value: { kind: 'not-paid', outcome } };
        }
        if (outcome.kind === 'completed') {
          const confirmed = confirm(attempt, outcome.paymentId, seat);
          if (await this.registrations.insert(confirmed))
            return { value: { kind: 'confirmed', registration: confirmed.created }, events: [confirmed.event] };
          await this.seats.release(seat, attempt.id);
          return { value: { kind: 'overtaken' } };
        }
        const failed = abandon(attempt, outcome.kind === 'declined' ? 'PAYMENT_DECLINED' : 'PAYMENT_UNAVAILABLE', seat);
        const stored = await this.registrations.insert(failed);
        await this.seats.release(seat, attempt.id);
        return stored ? { value: { kind: 'not-paid', outcome }, events: [failed.event] } : { value: { kind: 'overtaken' } };
      },
      { staleAfterMs: this.opts.pendingTimeoutMs, data: { ...attempt } },
    );
  }

  /**
   * Feeds admission control with one charge that reached payment (or may have): a timeout is
   * the sign that payment, or this side's own queues, fall behind. Some are the provider's own:
   * the seeds' takes 400-620 ms against a 610 ms timeout, 5-9 % of charges with the machine's
   * jitter, and a shift of 50 ms makes it ~27 %. So more than 15 % of the charges of a 5 s
   * window is overload (see AdaptiveLimit.sample); a shorter window or a lower share mistook the
   * provider's tail for overload and halved admission (docs/performance.md, "Admission").
   */
  private sampleCharge(outcome: ChargeOutcome): void {
    if (outcome.kind !== 'unavailable' || outcome.maybeCharged)
      this.admission.sample(outcome.kind === 'unavailable' && outcome.reason === 'ETIMEDOUT');
  }

  /**
   * Runs `fn` once the admission limit lets it; a caller still waiting after `queueMs` (or
   * finding `queueLimit` callers ahead) gets SERVICE_UNAVAILABLE at once, before anything is
   * stored. A started attempt always runs to its end.
   */
  private async admit<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await this.admission.run(fn, this.queueMs);
    } catch (err) {
      if (err instanceof AdmissionRefusedError) {
        throw new DomainError(ErrorCode.SERVICE_UNAVAILABLE, 'registration is busy right now; please try again shortly', {
          retryAfterSeconds: 1,
        });
      }
      throw err;
    }
  }

  /**
   * Cancels registration `id` at the request of `who` (its student or an admin).
   * @throws DomainError NOT_FOUND (also for registrations `who` may not see, so that another
   *   student learns nothing of them), FORBIDDEN (for the lecture's instructor, who may see it).
   */
  async cancel(who: Identity, id: string): Promise<Registration> {
    // The cached status is a hint: the transition is guarded by the stored one.
    const reg = this.registrations.cached(id) ?? (await this.registrations.findById(id));
    if (!reg) throw new DomainError(ErrorCode.NOT_FOUND, `no registration ${id}`);
    const canceling = cancelAtRequest(reg, who);
    return canceling ? ((await this.store(canceling)) ?? reg) : reg;
  }

  /**
   * Stores a cancellation under the registration's claim and frees its seat; returns the
   * registration as stored after (read again when the stored status was not CONFIRMED).
   */
  private store(canceling: Transition<Registration>): Promise<Registration | null> {
    const reg = canceling.next;
    return this.outbox.change(COLLECTION, reg.id, async (ctx) => {
      if (!(await this.registrations.apply(canceling, ctx))) return { value: await this.registrations.findById(reg.id) };
      await this.releaseSeat(reg);
      return { value: reg, events: [canceling.event] };
    });
  }

  private async releaseSeat(reg: Pick<Registration, 'id' | 'seat'>): Promise<void> {
    if (reg.seat) await this.seats.release(reg.seat, reg.id);
    else await this.seats.releaseAllOf(reg.id);
  }

  /** True while an attempt for the lecture is in flight here or in another process (its outbox claim). */
  async attemptsInFlight(lectureId: string): Promise<boolean> {
    return this.outbox.anyClaim(COLLECTION, { 'data.lectureId': lectureId });
  }

  /**
   * Policy "lecture canceled → cancel its registrations": closes the catalog entry, then
   * cancels every CONFIRMED registration with reason LECTURE_CANCELED. Safe to repeat.
   * @returns how many registrations it canceled.
   */
  async onLectureCanceled(lectureId: string): Promise<number> {
    await this.catalog.markCanceled(lectureId);
    let n = 0;
    for (const id of await this.registrations.confirmedIdsOfLecture(lectureId)) {
      const reg = await this.registrations.findById(id);
      const canceling = reg?.status === 'CONFIRMED' ? cancel(reg, 'LECTURE_CANCELED') : null;
      if (canceling && (await this.store(canceling))?.status === 'CANCELED') n++;
    }
    return n;
  }

  /**
   * Recovery of a change whose process died (its claim went stale): an attempt that stored no
   * outcome is abandoned (payment voids a charge that completed late) and its seat freed; a
   * closed registration's seat is freed if it still is held.
   */
  private async recover(id: string, attempt: Attempt | undefined): Promise<void> {
    let reg = await this.registrations.findById(id);
    if (!reg && attempt && !(await this.registrations.insert(abandon(attempt, 'PAYMENT_UNAVAILABLE', null)))) {
      // Not inserted: the attempt's own process, slow rather than dead, stored its outcome since
      // the read above; that outcome decides (a CONFIRMED registration keeps its seat).
      reg = await this.registrations.findById(id);
    }
    if (!reg) {
      if ((await this.seats.releaseAllOf(id)) || attempt)
        this.logger.warn({ registrationId: id }, 'abandoned a registration attempt whose process died');
    } else if (reg.status === 'CANCELED' || reg.status === 'FAILED') {
      await this.releaseSeat(reg);
    }
  }
}
