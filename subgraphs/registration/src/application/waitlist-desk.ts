/**
 * The one writer of each lecture's waitlist. Every change of a lecture's line (a place joins or
 * leaves, freed seats are offered, an offer is settled, the lecture closes) is queued here and
 * applied under the lecture's lease: its outbox claim `waitlists:<lectureId>`, exclusive across
 * processes and replicas, and, within this process, a queue per lecture. Changes that queue
 * while one batch is being written are applied together, in arrival order, with one write
 * (group commit), so a rush of students joining costs a few writes, not one each.
 *
 * After each write that could leave a seat free while someone waits for one (a place joined, a
 * seat was given back, an offer asked for), the desk reads the seat ledger and offers the free
 * seats to the first in line: it takes each seat for its place in the ledger, then records the
 * offer. Writing the line before reading the ledger is what makes a seat freed at the same moment
 * by another process reach the line: that process frees the seat before it reads the line, so at
 * least one of the two sees the other (see ./promotions.ts).
 *
 * The line is first come, first served across every registration process: its order is the
 * order of this writer, which is one per lecture at a time.
 */
import type { EventEnvelope } from '@courses/contracts';
import type { Logger, Outbox } from '@courses/platform';
import type { CatalogLecture } from '../domain/registration.js';
import {
  changedEvent,
  close,
  emptyWaitlist,
  join,
  leave,
  nextInLine,
  offer,
  waitingForSeat,
  type JoinRefusal,
  type SeatOffer,
  type Waitlist,
  type WaitlistEntry,
} from '../domain/waitlist.js';
import type { SeatRepository } from '../infrastructure/seat-repository.js';
import { WAITLISTS, type WaitlistRepository } from '../infrastructure/waitlist-repository.js';
import type { SeatKnowledge } from './seat-knowledge.js';

type Lecture = Pick<CatalogLecture, 'id' | 'instructorId' | 'capacity'>;

/** One queued change of a lecture's line and the caller waiting for its result. */
type Op =
  | { kind: 'join'; registrationId: string; studentId: string; done: (r: JoinResult) => void }
  | { kind: 'leave' | 'settle'; registrationId: string; done: (r: WaitlistEntry | undefined) => void }
  | { kind: 'offer'; done: (r: void) => void }
  | { kind: 'close'; done: (r: WaitlistEntry[]) => void };

/** What joining came to: a position (1 = next), stamped when the line was stored; or why not. */
export type JoinResult = { position: number; at: Date } | { refused: JoinRefusal };

interface Queue {
  lecture: Lecture;
  ops: Op[];
  fail: Array<(err: unknown) => void>;
  draining: boolean;
}

export class WaitlistDesk {
  private readonly queues = new Map<string, Queue>();
  /** The line as this process last wrote it, while it holds the lease without a break. */
  private readonly cached = new Map<string, Waitlist>();

  private readonly listeners: Array<(offers: SeatOffer[]) => void> = [];

  /** @param limitOf the most places a lecture's line holds */
  constructor(
    private readonly outbox: Outbox,
    private readonly waitlists: WaitlistRepository,
    private readonly seats: SeatRepository,
    private readonly knowledge: SeatKnowledge,
    private readonly limitOf: (lecture: Pick<CatalogLecture, 'capacity'>) => number,
    private readonly logger: Logger,
  ) {}

  /** Calls `listener` with the seats each batch offers (the promotions charge them). */
  onOffers(listener: (offers: SeatOffer[]) => void): void {
    this.listeners.push(listener);
  }

  /** Appends a place for `registrationId` of `studentId` to `lecture`'s line (see {@link JoinResult}). */
  join(lecture: Lecture, registrationId: string, studentId: string): Promise<JoinResult> {
    return this.enqueue<JoinResult>(lecture, (done) => ({ kind: 'join', registrationId, studentId, done }));
  }

  /** Takes `registrationId` out of `lecture`'s line; resolves with its place (undefined when it was not in line). */
  leave(lecture: Lecture, registrationId: string): Promise<WaitlistEntry | undefined> {
    return this.enqueue(lecture, (done) => ({ kind: 'leave', registrationId, done }));
  }

  /** An offered place was enrolled or dropped: it leaves the line (its seat, if dropped, was freed by the caller). */
  settle(lecture: Lecture, registrationId: string): Promise<WaitlistEntry | undefined> {
    return this.enqueue(lecture, (done) => ({ kind: 'settle', registrationId, done }));
  }

  /** Offers `lecture`'s free seats to the first in line (the offers go to `onOffers`). */
  offerFreeSeats(lecture: Lecture): Promise<void> {
    return this.enqueue(lecture, (done) => ({ kind: 'offer', done }));
  }

  /** Closes `lecture`'s line (the lecture was canceled); resolves with the places it held. */
  close(lecture: Lecture): Promise<WaitlistEntry[]> {
    return this.enqueue(lecture, (done) => ({ kind: 'close', done }));
  }

  private enqueue<R>(lecture: Lecture, make: (done: (r: R) => void) => Op): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      let q = this.queues.get(lecture.id);
      if (!q) {
        q = { lecture, ops: [], fail: [], draining: false };
        this.queues.set(lecture.id, q);
      }
      q.ops.push(make(resolve));
      q.fail.push(reject);
      if (!q.draining) void this.drain(q);
    });
  }

  /** Applies the queued changes of one lecture, a batch at a time, until none is left. */
  private async drain(q: Queue): Promise<void> {
    q.draining = true;
    try {
      while (q.ops.length) {
        const ops = q.ops.splice(0);
        const fail = q.fail.splice(0);
        try {
          const offers = await this.apply(q.lecture, ops);
          if (offers.length) for (const l of this.listeners) l(offers);
        } catch (err) {
          this.cached.delete(q.lecture.id);
          this.logger.warn({ err: (err as Error).message, lectureId: q.lecture.id }, 'could not change a waitlist');
          for (const f of fail) f(err);
        }
      }
    } finally {
      q.draining = false;
      this.queues.delete(q.lecture.id);
    }
  }

  /** One batch under the lecture's lease: apply, store, then offer free seats if anyone waits for one. */
  private apply(lecture: Lecture, ops: Op[]): Promise<SeatOffer[]> {
    return this.outbox.change<SeatOffer[]>(
      WAITLISTS,
      lecture.id,
      async (ctx) => {
        const cached = ctx.continued ? this.cached.get(lecture.id) : undefined;
        const stored = cached ?? (await this.waitlists.findById(lecture.id));
        const before = stored;
        let w = stored ?? emptyWaitlist(lecture, this.limitOf(lecture));
        const now = new Date();
        const results: Array<() => void> = [];
        let lookForSeats = false;
        for (const op of ops) {
          switch (op.kind) {
            case 'join': {
              const r = join(w, op.registrationId, op.studentId, now);
              if ('refused' in r) results.push(() => op.done(r));
              else {
                w = r.next;
                lookForSeats = true;
                // Stamped once the line is stored (below): the place exists from then on.
                results.push(() => op.done({ position: r.position, at: new Date() }));
              }
              break;
            }
            case 'leave':
            case 'settle': {
              const r = leave(w, op.registrationId);
              w = r.next;
              results.push(() => op.done(r.removed));
              break;
            }
            case 'offer':
              lookForSeats = true;
              results.push(() => op.done());
              break;
            case 'close': {
              const r = close(w);
              w = r.next;
              results.push(() => op.done(r.removed));
              break;
            }
          }
        }
        const events: EventEnvelope[] = [];
        const changed = changedEvent(before, w);
        if (changed) events.push(changed);
        if (w !== before) await this.waitlists.store(w, events, ctx);
        let offers: SeatOffer[] = [];
        if (lookForSeats && waitingForSeat(w) > 0 && !w.closed) {
          // Seats this process's attempts reserved before the line formed are theirs: they came first.
          const taken = await this.seats.takeFree(
            lecture,
            nextInLine(w, waitingForSeat(w)).map((e) => e.registrationId),
            this.knowledge.reservedFor(lecture.id),
          );
          if (taken.length) {
            ({ next: w, offers } = offer(w, taken, new Date()));
            await this.waitlists.store(w, events, ctx);
            this.knowledge.seatsOffered(lecture.id, offers.length);
          }
        }
        this.cached.set(lecture.id, w);
        this.knowledge.line(w);
        for (const r of results) r();
        return { value: offers, events };
        // Released at once: another replica waiting for the lecture's lease gets it within its next
        // poll (a few ms), so places are taken in arrival order across replicas, not in turns.
      },
      { holdMs: 0 },
    );
  }
}
