/**
 * What this process knows, in memory, of each lecture's seats and waitlist: the count of seats
 * believed free, and who waits. It lets a lecture that is full be refused with no write, no
 * outbox claim and no admission slot, and it funnels a rush: while the count says a seat is
 * free, an attempt reserves one before it goes to the seat ledger, so a process never sends more
 * attempts to the ledger than there are seats to take.
 *
 * The count is corrected by the seat ledger and by this process's own changes:
 * - first use, and a "full" (or "someone waits") older than {@link KNOWLEDGE_TTL_MS}: one read of
 *   the ledger's free seats and of the waitlist, shared by every request that asks meanwhile
 *   (the others keep answering from what is known);
 * - this process's attempts reserve seats, give back the ones they did not use, and count the
 *   seats they free; a take that finds the ledger full says so; the waitlist's writer reports
 *   the line after each change.
 * Another process's changes are seen at the next read, so a seat another replica freed may be
 * refused here for up to {@link KNOWLEDGE_TTL_MS}. That refusal costs no student a seat: a seat
 * freed while students wait goes to the first in line (see ./promotions.ts), never to whoever
 * asks next; only a seat freed with nobody waiting stays free that long.
 *
 * The seat ledger and the waitlist stay the authority: an attempt that passes here may still
 * find the ledger full, and then the count is set to 0.
 */
import type { SeatView } from '../domain/attempt.js';
import type { CatalogLecture } from '../domain/registration.js';
import { waitingForSeat, type Waitlist } from '../domain/waitlist.js';

/** How long (ms) a lecture known to be full, or to have students waiting, is believed without reading again. */
export const KNOWLEDGE_TTL_MS = 1_000;

/** One read of a lecture's seats and line: the free seat count and the waitlist (null when it never had one). */
export type SeatReader = (lecture: Pick<CatalogLecture, 'id' | 'capacity'>) => Promise<{ freeSeats: number; waitlist: Waitlist | null }>;

interface Known {
  freeSeats: number;
  /** Reservations of attempts that have not reached the seat ledger yet. */
  reserved: number;
  waiting: number;
  waitlistFull: boolean;
  /** When the ledger was last read (epoch ms). */
  readAt: number;
  reading?: Promise<void>;
}

export class SeatKnowledge {
  private readonly lectures = new Map<string, Known>();

  /**
   * @param read reads a lecture's seats and line from the database
   * @param waitlistLimit the most places a lecture's line holds (0: no waitlist)
   */
  constructor(
    private readonly read: SeatReader,
    private readonly waitlistLimit: (lecture: Pick<CatalogLecture, 'capacity'>) => number,
  ) {}

  /**
   * What is known of `lecture`'s seats and line: read once when unknown (every caller waits for
   * that one read), and read again in the background once a "full" or "someone waits" is older
   * than {@link KNOWLEDGE_TTL_MS}.
   */
  async view(lecture: Pick<CatalogLecture, 'id' | 'capacity'>): Promise<SeatView> {
    let k = this.lectures.get(lecture.id);
    if (!k) {
      k = { freeSeats: 0, reserved: 0, waiting: 0, waitlistFull: false, readAt: 0 };
      this.lectures.set(lecture.id, k);
      await this.refresh(lecture, k);
    } else if (k.reading && k.readAt === 0) {
      await k.reading;
    } else if ((k.freeSeats <= 0 || k.waiting > 0) && Date.now() - k.readAt > KNOWLEDGE_TTL_MS) {
      void this.refresh(lecture, k);
    }
    return { freeSeats: k.freeSeats, waiting: k.waiting, waitlistFull: k.waitlistFull };
  }

  /**
   * Reserves a seat for an attempt about to take one: false when none is believed free. The
   * attempt calls {@link reached} once the seat ledger answered it (or it stopped before).
   */
  reserve(lectureId: string): boolean {
    const k = this.lectures.get(lectureId);
    if (!k || k.freeSeats <= 0) return false;
    k.freeSeats--;
    k.reserved++;
    return true;
  }

  /** A reserved attempt reached the seat ledger, or stopped before: it holds no reservation any more. */
  reached(lectureId: string): void {
    const k = this.lectures.get(lectureId);
    if (k) k.reserved = Math.max(0, k.reserved - 1);
  }

  /**
   * Seats the attempts of this process have reserved and not taken yet: free in the ledger, but
   * promised. The line's writer leaves them to those attempts, who came first.
   */
  reservedFor(lectureId: string): number {
    return this.lectures.get(lectureId)?.reserved ?? 0;
  }

  /** A reserved seat was not taken (the attempt stopped before the ledger, or the ledger gave none): back to the count. */
  unreserve(lectureId: string): void {
    const k = this.lectures.get(lectureId);
    if (k) k.freeSeats++;
  }

  /** The seat ledger had no seat left for this lecture. */
  full(lectureId: string): void {
    const k = this.lectures.get(lectureId);
    if (k) {
      k.freeSeats = 0;
      k.readAt = Date.now();
    }
  }

  /** This process freed a seat of the lecture (it goes to the line first, if anyone waits). */
  seatFreed(lectureId: string): void {
    const k = this.lectures.get(lectureId);
    if (k) k.freeSeats++;
  }

  /** `n` free seats were given to students waiting. */
  seatsOffered(lectureId: string, n: number): void {
    const k = this.lectures.get(lectureId);
    if (k) k.freeSeats = Math.max(0, k.freeSeats - n);
  }

  /** The lecture's line as it was just stored or read. */
  line(w: Waitlist): void {
    const k = this.lectures.get(w.lectureId);
    if (!k) return;
    k.waiting = waitingForSeat(w);
    k.waitlistFull = w.closed || w.entries.length >= w.limit;
  }

  private refresh(lecture: Pick<CatalogLecture, 'id' | 'capacity'>, k: Known): Promise<void> {
    k.reading ??= this.read(lecture)
      .then(({ freeSeats, waitlist }) => {
        k.freeSeats = freeSeats;
        if (waitlist) this.line(waitlist);
        else {
          k.waiting = 0;
          k.waitlistFull = this.waitlistLimit(lecture) <= 0;
        }
        k.readAt = Date.now();
      })
      .catch(() => {
        // Unknown after a failed read: let attempts through to the ledger, which decides.
        k.freeSeats = Math.max(k.freeSeats, 1);
        k.readAt = Date.now();
      })
      .finally(() => {
        k.reading = undefined;
      });
    return k.reading;
  }
}
