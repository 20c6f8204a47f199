/** A registration attempt's decisions (../src/domain/attempt.ts), one test per step and outcome. No I/O. */
import { describe, expect, it } from 'vitest';
import { afterCharge, afterJoin, afterSeat, entryStep, promotionStep, type SeatView } from '../src/domain/attempt.js';
import { attemptOf, type CatalogLecture } from '../src/domain/registration.js';

const lecture: CatalogLecture = { id: 'l', title: 'Graphs', instructorId: 'i-1', capacity: 50, price: 50_000, status: 'OPEN' };
const free: SeatView = { freeSeats: 3, waiting: 0, waitlistFull: false };
const full: SeatView = { freeSeats: 0, waiting: 0, waitlistFull: false };
const code = (step: { kind: string; error?: { code: string } }) => (step.kind === 'refuse' ? step.error!.code : step.kind);
const at = new Date('2026-12-07T00:00:00Z');
const attempt = attemptOf('r', 's-1', lecture);

describe('entering an attempt (from what is known in memory, no I/O)', () => {
  it('takes a seat while some are free and nobody waits', () => {
    expect(code(entryStep(lecture, free, false))).toBe('take-seat');
    expect(code(entryStep(lecture, free, true))).toBe('take-seat');
  });

  it('refuses a full lecture at once with LECTURE_FULL, or queues a student who asked to', () => {
    expect(code(entryStep(lecture, full, false))).toBe('LECTURE_FULL');
    expect(code(entryStep(lecture, full, true))).toBe('join-waitlist');
  });

  it('keeps a free seat for the students already waiting: a newcomer queues behind them, or is refused', () => {
    const waiting: SeatView = { freeSeats: 1, waiting: 2, waitlistFull: false };
    expect(code(entryStep(lecture, waiting, false))).toBe('LECTURE_FULL');
    expect(code(entryStep(lecture, waiting, true))).toBe('join-waitlist');
  });

  it('refuses with LECTURE_FULL when the waitlist is full too', () => {
    expect(code(entryStep(lecture, { ...full, waitlistFull: true }, true))).toBe('LECTURE_FULL');
  });

  it('refuses a lecture that is not open with LECTURE_NOT_OPEN, whatever its seats', () => {
    expect(code(entryStep({ ...lecture, status: 'CANCELED' }, free, true))).toBe('LECTURE_NOT_OPEN');
  });
});

describe('after the seat ledger answered', () => {
  it('pays for the seat it took', () => {
    expect(afterSeat(lecture, { kind: 'seated', seat: 'l#1', someoneWaits: false }, false)).toEqual({ kind: 'pay', seat: 'l#1' });
  });

  it('gives a seat taken while someone waits to the line: queues if asked, else LECTURE_FULL', () => {
    const seated = { kind: 'seated', seat: 'l#1', someoneWaits: true } as const;
    expect(code(afterSeat(lecture, seated, true))).toBe('join-waitlist');
    expect(code(afterSeat(lecture, seated, false))).toBe('LECTURE_FULL');
  });

  it('queues or refuses when the ledger was full after all', () => {
    expect(code(afterSeat(lecture, { kind: 'full' }, true))).toBe('join-waitlist');
    expect(code(afterSeat(lecture, { kind: 'full' }, false))).toBe('LECTURE_FULL');
  });

  it('answers ALREADY_REGISTERED only when the student holds a live place', () => {
    expect(code(afterSeat(lecture, { kind: 'already' }, true))).toBe('ALREADY_REGISTERED');
  });
});

describe('after payment answered', () => {
  it('confirms a paid attempt, keeping its seat', () => {
    const end = afterCharge(attempt, 'l#1', at, { kind: 'completed', paymentId: 'p' }, at);
    expect(end.error).toBeUndefined();
    expect(end.releaseSeat).toBe(false);
    expect(end.store?.created).toMatchObject({ status: 'CONFIRMED', paymentId: 'p', seat: 'l#1', seatedAt: at });
    expect(end.store?.event.type).toBe('registration.confirmed');
  });

  it('abandons a declined attempt: FAILED with registration.abandoned (payment voids), seat back, PAYMENT_DECLINED', () => {
    const end = afterCharge(attempt, 'l#1', at, { kind: 'declined', reason: 'card refused' });
    expect(end.error?.code).toBe('PAYMENT_DECLINED');
    expect(end.releaseSeat).toBe(true);
    expect(end.store?.created.status).toBe('FAILED');
    expect(end.store?.event.payload).toMatchObject({ reason: 'PAYMENT_DECLINED' });
  });

  it('abandons an attempt whose charge may have gone through (timed out): FAILED, seat back, PAYMENT_UNAVAILABLE with a retry hint', () => {
    const end = afterCharge(attempt, 'l#1', at, { kind: 'unavailable', reason: 'ETIMEDOUT', retryAfterSeconds: 1, maybeCharged: true });
    expect(end.error?.code).toBe('PAYMENT_UNAVAILABLE');
    expect(end.error?.details.retryAfterSeconds).toBe(1);
    expect(end.store?.event.payload).toMatchObject({ reason: 'PAYMENT_UNAVAILABLE' });
    expect(end.releaseSeat).toBe(true);
  });

  it('stores nothing when the call never left (breaker open): seat back, PAYMENT_UNAVAILABLE', () => {
    const end = afterCharge(attempt, 'l#1', at, { kind: 'unavailable', reason: 'EOPENBREAKER', retryAfterSeconds: 5, maybeCharged: false });
    expect(end.store).toBeNull();
    expect(end.releaseSeat).toBe(true);
    expect(end.error?.details.retryAfterSeconds).toBe(5);
  });
});

describe('a waitlist place', () => {
  it('is refused with the code that says why', () => {
    expect(afterJoin(lecture, 'full').code).toBe('LECTURE_FULL');
    expect(afterJoin(lecture, 'closed').code).toBe('LECTURE_NOT_OPEN');
    expect(afterJoin(lecture, 'already-waiting').code).toBe('ALREADY_REGISTERED');
  });

  it('offered a seat: enrolls when paid, drops when declined, tries again when payment is busy', () => {
    expect(promotionStep({ kind: 'completed', paymentId: 'p' })).toBe('enroll');
    expect(promotionStep({ kind: 'declined', reason: 'no' })).toBe('drop');
    expect(promotionStep({ kind: 'unavailable', reason: 'ETIMEDOUT', retryAfterSeconds: 1, maybeCharged: true })).toBe('retry');
  });
});
