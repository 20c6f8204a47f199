/**
 * Use cases of the registration context: register (a seat → synchronous payment → confirmed, or
 * a place in the lecture's waitlist), cancel, the policy "when a lecture is canceled, cancel its
 * registrations and close its waitlist", and the recovery of an attempt whose process died. It
 * loads, asks the domain (../domain/attempt.ts, registration.ts, waitlist.ts) what to do, stores
 * and publishes; the I/O lives in ../infrastructure.
 */
import { DomainError, ErrorCode, newId, type Changed, type Identity, type Logger, type Outbox, type Transition } from '@courses/platform';
import {
  afterCharge,
  afterJoin,
  afterSeat,
  alreadyRegisteredError,
  entryStep,
  notOpenError,
  overtakenError,
  type ChargeResult,
  type SeatResult,
} from '../domain/attempt.js';
import {
  abandon,
  attemptOf,
  cancel,
  cancelAtRequest,
  waitlist,
  type Attempt,
  type CatalogLecture,
  type Registration,
} from '../domain/registration.js';
import { waitingForSeat } from '../domain/waitlist.js';
import type { CatalogRepository } from '../infrastructure/catalog-repository.js';
import type { PaymentClient } from '../infrastructure/payment-client.js';
import type { RegistrationRepository } from '../infrastructure/registration-repository.js';
import type { SeatRepository } from '../infrastructure/seat-repository.js';
import type { WaitlistRepository } from '../infrastructure/waitlist-repository.js';
import type { Admission } from './admission.js';
import { REGISTRATIONS, type Promotions } from './promotions.js';
import type { SeatKnowledge } from './seat-knowledge.js';
import type { WaitlistDesk } from './waitlist-desk.js';

export interface RegistrationServiceOptions {
  /** Age (ms) after which an attempt whose process died is abandoned; must exceed the payment timeout. */
  pendingTimeoutMs: number;
  /**
   * Told of every answer to a registration request: its status or error code, and where it was
   * decided (`memory`: refused from what the process knew, with no write; `ledger`: after taking
   * a seat, or finding none; `waitlist`: by the lecture's line; `payment`: after the charge).
   */
  answered?: (answer: string, decidedBy: 'memory' | 'ledger' | 'waitlist' | 'payment') => void;
}

/** How an attempt ended, inside its claim: a registration (CONFIRMED or WAITLISTED), or the refusal; and whether it freed a seat. */
type Ended = ({ registration: Registration } | { error: DomainError }) & {
  freed?: boolean;
  decidedBy?: 'ledger' | 'waitlist' | 'payment';
};

type Lecture = CatalogLecture;

export class RegistrationService {
  constructor(
    private readonly registrations: RegistrationRepository,
    private readonly catalog: CatalogRepository,
    private readonly seats: SeatRepository,
    private readonly waitlists: WaitlistRepository,
    private readonly payment: PaymentClient,
    private readonly outbox: Outbox,
    private readonly knowledge: SeatKnowledge,
    private readonly desk: WaitlistDesk,
    private readonly promotions: Promotions,
    private readonly admission: Admission,
    private readonly logger: Logger,
    private readonly opts: RegistrationServiceOptions,
  ) {
    payment.breaker.on('open', () => admission.breakerChanged());
    payment.breaker.on('close', () => admission.breakerChanged());
    outbox.recoverWith(REGISTRATIONS, (id, data) => this.recover(id, data));
  }

  /**
   * Registers `who` for lecture `lectureId` and charges its price; when the lecture is full and
   * `wantsWaitlist`, gives them a place in its waitlist instead (WAITLISTED, nothing charged).
   * A lecture known to be full or not open is refused from memory: no write, claim or admission
   * slot. An attempt that may get a seat, under its outbox claim: the student's holder and a seat
   * taken in the seat ledger (one insert) → if someone waits for a seat, the seat goes to them →
   * a turn within the admission limit, holding the seat → payment through the breaker → CONFIRMED with
   * `registration.confirmed`, or FAILED with `registration.abandoned` (payment voids a late
   * charge) and the seat given back (to the first in line, if anyone waits).
   * @throws DomainError NOT_FOUND, LECTURE_NOT_OPEN, LECTURE_FULL, ALREADY_REGISTERED,
   *   PAYMENT_DECLINED, PAYMENT_UNAVAILABLE or SERVICE_UNAVAILABLE (both with `retryAfterSeconds`).
   */
  async register(who: Identity, lectureId: string, wantsWaitlist = false): Promise<Registration> {
    const lecture = await this.catalog.findById(lectureId);
    if (!lecture) throw new DomainError(ErrorCode.NOT_FOUND, `no lecture ${lectureId}`);
    const view = await this.knowledge.view(lecture);
    let step = entryStep(lecture, view, wantsWaitlist);
    if (step.kind === 'take-seat' && !this.knowledge.reserve(lecture.id))
      step = entryStep(lecture, { ...view, freeSeats: 0 }, wantsWaitlist);
    if (step.kind === 'refuse') {
      this.opts.answered?.(step.error.code, 'memory');
      throw step.error;
    }
    const attempt = attemptOf(newId(), who.sub, lecture);
    if (step.kind === 'join-waitlist') {
      // The line first: a full line refuses with no write of this request's own (the line's
      // writer reads and writes once for every place asked for meanwhile).
      const joined = await this.desk.join(lecture, attempt.id, attempt.studentId);
      if ('refused' in joined) return this.settled(lecture, { error: afterJoin(lecture, joined.refused), decidedBy: 'waitlist' });
      return this.settled(lecture, await this.claimed(attempt, wantsWaitlist, () => this.storeWaiting(attempt, lecture, joined, false)));
    }
    // When it was promised a seat: it came before anyone who joins the line from now on.
    const arrived = new Date();
    const reached = once(() => this.knowledge.reached(lecture.id));
    try {
      return this.settled(
        lecture,
        await this.claimed(attempt, wantsWaitlist, () => this.takeSeatAndPay(attempt, lecture, wantsWaitlist, arrived, reached)),
      );
    } finally {
      reached();
    }
  }

  /** Runs `fn` under the attempt's outbox claim (stale after `pendingTimeoutMs`, then recovered by {@link recover}). */
  private claimed(attempt: Attempt, wantsWaitlist: boolean, fn: () => Promise<Changed<Ended>>): Promise<Ended> {
    return this.outbox.change<Ended>(REGISTRATIONS, attempt.id, fn, {
      staleAfterMs: this.opts.pendingTimeoutMs,
      data: { ...attempt, waitlist: wantsWaitlist },
    });
  }

  /** After the claim: a freed seat goes to the line; the registration, or the refusal. */
  private async settled(lecture: Lecture, ended: Ended): Promise<Registration> {
    if (ended.freed) await this.promotions.seatFreed(lecture);
    this.opts.answered?.('error' in ended ? ended.error.code : ended.registration.status, ended.decidedBy ?? 'ledger');
    if ('error' in ended) throw ended.error;
    return ended.registration;
  }

  /**
   * The attempt's steps from the seat ledger on (see {@link register}), inside its claim. It was
   * promised a seat at `arrived`; `reached` gives the promise back once the ledger answered.
   */
  private async takeSeatAndPay(
    attempt: Attempt,
    lecture: Lecture,
    wantsWaitlist: boolean,
    arrived: Date,
    reached: () => void,
  ): Promise<Changed<Ended>> {
    const refused = this.payment.refusedNow(); // payment refuses calls outright (breaker open): say so before holding anything
    if (refused) {
      this.knowledge.unreserve(lecture.id);
      return { value: { error: afterCharge(attempt, '', new Date(), refused).error! } };
    }
    // The lecture again, under this attempt's claim (which the lecture-canceled policy sees as
    // an attempt in flight).
    if ((await this.catalog.findById(lecture.id))?.status !== 'OPEN') {
      this.knowledge.unreserve(lecture.id);
      return { value: { error: notOpenError(lecture) } };
    }
    const taken = await this.seats.take(lecture, attempt.id, attempt.studentId, { keepHolder: wantsWaitlist });
    reached();
    let result: SeatResult;
    if (taken === 'already-registered') {
      this.knowledge.unreserve(lecture.id);
      result = { kind: 'already' };
    } else if (taken === 'full') {
      this.knowledge.full(lecture.id);
      result = { kind: 'full' };
    } else {
      // Anyone in line since before this attempt came has the seat (see Registration.seatedAt).
      const line = await this.waitlists.findById(lecture.id);
      if (line) this.knowledge.line(line);
      result = { kind: 'seated', seat: taken.seat, someoneWaits: waitingForSeat(line, arrived) > 0 };
    }
    const step = afterSeat(lecture, result, wantsWaitlist);
    if (result.kind === 'seated' && step.kind !== 'pay') {
      // Someone waits: the seat is theirs. The holder stays when this student joins the line.
      if (wantsWaitlist) await this.seats.releaseSeat(result.seat, attempt.id);
      else await this.seats.release(result.seat, attempt.id, attempt.studentId, lecture.id);
      const next = step.kind === 'join-waitlist' ? await this.joinLine(attempt, lecture) : { value: { error: step.error } };
      return { ...next, value: { ...next.value, freed: true } };
    }
    if (step.kind === 'refuse') return { value: { error: step.error } };
    if (step.kind === 'join-waitlist') return this.joinLine(attempt, lecture);
    return this.pay(attempt, lecture, step.seat, arrived);
  }

  /**
   * Charges the attempt holding `seat`, once admission gives it a turn, and stores how it ended
   * (see the domain's afterCharge). The seat is held while it waits: the students who came first
   * keep theirs, and one refused a turn gives it back.
   */
  private async pay(attempt: Attempt, lecture: Lecture, seat: string, seatedAt: Date): Promise<Changed<Ended>> {
    let charge: ChargeResult;
    try {
      charge = await this.admission.run(() => this.charge(attempt));
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      await this.seats.release(seat, attempt.id, attempt.studentId, lecture.id);
      return { value: { error: err, freed: true } };
    }
    if (charge.kind === 'unavailable') this.logger.debug({ reason: charge.reason }, 'payment unavailable; registration not made');
    const end = afterCharge(attempt, seat, seatedAt, charge);
    if (end.store && !(await this.registrations.insert(end.store))) {
      // Another process gave up on this attempt first (it took too long); payment voids the charge.
      await this.seats.release(seat, attempt.id, attempt.studentId, lecture.id);
      return { value: { error: overtakenError(), freed: true } };
    }
    if (end.releaseSeat) await this.seats.release(seat, attempt.id, attempt.studentId, lecture.id);
    const events = end.store ? [end.store.event] : [];
    if (end.error) return { value: { error: end.error, freed: end.releaseSeat, decidedBy: 'payment' }, events };
    return { value: { registration: end.store!.created, decidedBy: 'payment' }, events };
  }

  /** One charge through the breaker, sampled for admission; never throws for payment trouble. */
  private async charge(attempt: Attempt): Promise<ChargeResult> {
    let charge: ChargeResult;
    try {
      charge = await this.payment.charge({
        registrationId: attempt.id,
        studentId: attempt.studentId,
        lectureId: attempt.lectureId,
        amount: attempt.amount,
      });
    } catch (err) {
      this.logger.error({ err, registrationId: attempt.id }, 'payment call failed unexpectedly');
      charge = { kind: 'unavailable', reason: 'error', retryAfterSeconds: 1, maybeCharged: true };
    }
    this.admission.sample(charge);
    return charge;
  }

  /** Inside the attempt's claim, its holder kept: a place in the lecture's line, then the WAITLISTED registration. */
  private async joinLine(attempt: Attempt, lecture: Lecture): Promise<Changed<Ended>> {
    const joined = await this.desk.join(lecture, attempt.id, attempt.studentId);
    if ('refused' in joined) {
      await this.seats.release(null, attempt.id, attempt.studentId, lecture.id);
      return { value: { error: afterJoin(lecture, joined.refused), decidedBy: 'waitlist' } };
    }
    return this.storeWaiting(attempt, lecture, joined, true);
  }

  /**
   * Inside the attempt's claim, its place in line taken: the student's holder (taken here unless
   * `holderTaken`; a student who holds a seat or another place leaves the line again with
   * ALREADY_REGISTERED), then the WAITLISTED registration with `registration.waitlisted`. A place
   * whose process dies before its registration is stored is taken out of line by the sweep.
   */
  private async storeWaiting(
    attempt: Attempt,
    lecture: Lecture,
    joined: { position: number; at: Date },
    holderTaken: boolean,
  ): Promise<Changed<Ended>> {
    if (!holderTaken && !(await this.seats.hold(lecture.id, attempt.id, attempt.studentId))) {
      const left = await this.desk.leave(lecture, attempt.id);
      if (left?.offer) await this.seats.releaseSeat(left.offer.seat, attempt.id);
      return { value: { error: alreadyRegisteredError(lecture), decidedBy: 'waitlist', freed: !!left?.offer } };
    }
    const waiting = waitlist(attempt, joined.position, joined.at);
    // Not stored: another process recovered this attempt first; the sweep takes the place out of line.
    if (!(await this.registrations.insert(waiting))) return { value: { error: overtakenError(), decidedBy: 'waitlist' } };
    return { value: { registration: waiting.created, decidedBy: 'waitlist' }, events: [waiting.event] };
  }

  /**
   * Cancels registration `id` at the request of `who` (its student or an admin): a confirmed one
   * is refunded, a waitlist place leaves the line.
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
   * Stores a cancellation under the registration's claim and frees its seat and holder (a
   * waitlist place first leaves the line, giving back a seat it was offered, or `offeredSeat`
   * when its line was closed already); a freed seat then goes to the line. Returns the
   * registration as stored after (read again when the stored status was another).
   */
  private async store(canceling: Transition<Registration>, offeredSeat: string | null = null): Promise<Registration | null> {
    const reg = canceling.next;
    const lecture = await this.catalog.findById(reg.lectureId);
    const done = await this.outbox.change(REGISTRATIONS, reg.id, async (ctx) => {
      if (!(await this.registrations.apply(canceling, ctx)))
        return { value: { reg: await this.registrations.findById(reg.id), freed: false } };
      let seat = reg.seat;
      if (canceling.from === 'WAITLISTED') seat = (lecture && (await this.desk.leave(lecture, reg.id))?.offer?.seat) || offeredSeat;
      // Confirmed before seats were recorded on registrations: whatever it holds.
      if (!seat && canceling.from === 'CONFIRMED') await this.seats.releaseAllOf(reg.id);
      const freed = await this.seats.release(seat, reg.id, reg.studentId, reg.lectureId);
      return { value: { reg: reg as Registration | null, freed }, events: [canceling.event] };
    });
    if (done.freed && lecture) await this.promotions.seatFreed(lecture);
    return done.reg;
  }

  /** True while an attempt or an enrolment for the lecture is in flight here or in another process (its outbox claim). */
  async attemptsInFlight(lectureId: string): Promise<boolean> {
    return this.outbox.anyClaim(REGISTRATIONS, { 'data.lectureId': lectureId });
  }

  /**
   * Policy "lecture canceled → cancel its registrations": closes the catalog entry and the
   * lecture's waitlist, then cancels every CONFIRMED registration (refunded) and every
   * WAITLISTED one (never charged) with reason LECTURE_CANCELED. Safe to repeat.
   * @returns how many registrations it canceled.
   */
  async onLectureCanceled(lectureId: string): Promise<number> {
    await this.catalog.markCanceled(lectureId);
    const lecture = await this.catalog.findById(lectureId);
    const closed = lecture ? await this.desk.close(lecture) : [];
    const offered = new Map(closed.map((e) => [e.registrationId, e.offer?.seat ?? null]));
    let n = 0;
    for (const id of new Set([...offered.keys(), ...(await this.registrations.liveIdsOfLecture(lectureId))])) {
      const reg = await this.registrations.findById(id);
      const canceling = reg?.status === 'CONFIRMED' || reg?.status === 'WAITLISTED' ? cancel(reg, 'LECTURE_CANCELED') : null;
      if (canceling && (await this.store(canceling, offered.get(id) ?? null))?.status === 'CANCELED') n++;
    }
    return n;
  }

  /**
   * Recovery of a change whose process died (its claim went stale): an attempt that stored no
   * outcome is abandoned (payment voids a charge that completed late) and what it held freed; a
   * closed registration's seat is freed if it still is held. An enrolment from the waitlist is
   * left to the waitlist's sweep, which charges the offer again.
   */
  private async recover(id: string, data: Record<string, unknown> | undefined): Promise<void> {
    if (data?.promotion) return;
    const attempt = data as Attempt | undefined;
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
      if (await this.seats.releaseAllOf(reg.id)) this.knowledge.seatFreed(reg.lectureId);
    }
  }
}

/** `fn`, run on the first call only. */
function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (!done) {
      done = true;
      fn();
    }
  };
}
