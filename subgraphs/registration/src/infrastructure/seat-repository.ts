/**
 * The seat ledger: one document per taken seat, `_id` = `<lectureId>#<n>` with seat numbers
 * 1..capacity, and `holder` = the live key of the student and lecture (see the domain's
 * `liveKey`), unique too. Taking a seat is one insert, so the database's unique indexes (not a
 * read-then-write) decide who gets the last seat and that a student holds at most one seat of a
 * lecture: a lecture can never have more than `capacity` seat documents, whatever the
 * concurrency or the number of replicas, on MongoDB and FerretDB alike. Releasing is a delete by
 * `_id`, which frees the seat and the student's live key at once.
 *
 * Allocation is O(1) while seats are free: each process walks the seat numbers from a random
 * start of its own (so replicas rarely meet) and reuses the numbers it released first. Only
 * after {@link BLIND_TRIES} collisions in a row does it read the lecture's taken seats (one
 * query) and try the free numbers that remain; when none remain, the lecture is full.
 */
import { Schema, type Connection, type Model } from 'mongoose';
import { isDuplicateKey } from '@courses/platform';
import { seatId, type CatalogLecture } from '../domain/registration.js';

interface SeatDoc {
  _id: string;
  lectureId: string;
  registrationId: string;
  /** The live key of the holder (student and lecture): unique. */
  holder: string;
  takenAt: Date;
}

const schema = new Schema<SeatDoc>(
  {
    _id: { type: String, required: true },
    lectureId: { type: String, required: true, index: true },
    registrationId: { type: String, required: true, index: true },
    holder: { type: String, required: true, unique: true },
    takenAt: { type: Date, required: true },
  },
  { versionKey: false, collection: 'seats' },
);

/** Seat numbers tried without reading the ledger before concluding the lecture may be nearly full. */
export const BLIND_TRIES = 8;

/** This process's view of one lecture's seat numbers. */
interface Cursor {
  capacity: number;
  next: number;
  /** Numbers this process released, tried first. */
  freed: number[];
}

export class SeatRepository {
  readonly model: Model<SeatDoc>;
  private readonly cursors = new Map<string, Cursor>();

  constructor(conn: Connection) {
    this.model = conn.model<SeatDoc>('Seat', schema);
  }

  /**
   * Takes a free seat of `lecture` for attempt `registrationId` of the student with live key `holder`.
   * @returns the seat's id; `already-registered` when the holder has a live seat of the lecture;
   *   null when the lecture is full.
   */
  async take(
    lecture: Pick<CatalogLecture, 'id' | 'capacity'>,
    registrationId: string,
    holder: string,
  ): Promise<string | 'already-registered' | null> {
    const cursor = this.cursorOf(lecture);
    for (let i = 0; i < Math.min(BLIND_TRIES, lecture.capacity); i++) {
      const seat = await this.tryTake(lecture.id, cursor.freed.pop() ?? this.advance(cursor), registrationId, holder);
      if (seat !== 'taken') return seat;
    }
    // Many collisions: look at the ledger once and try what is really free.
    const held = new Set((await this.model.find({ lectureId: lecture.id }, { _id: 1 }).lean<{ _id: string }[]>()).map((d) => d._id));
    const free: number[] = [];
    for (let n = 1; n <= lecture.capacity; n++) if (!held.has(seatId(lecture.id, n))) free.push(n);
    for (let i = free.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [free[i], free[j]] = [free[j], free[i]];
    }
    for (const n of free) {
      const seat = await this.tryTake(lecture.id, n, registrationId, holder);
      if (seat !== 'taken') return seat;
    }
    return null;
  }

  /**
   * Frees `seat` while `registrationId` holds it (idempotent). A slow attempt that another
   * process gave up on, and whose seat that process freed, must not free the seat someone else
   * has taken since. @returns true when it was freed here.
   */
  async release(seat: string, registrationId: string): Promise<boolean> {
    const res = await this.model.collection.deleteOne({ _id: seat as never, registrationId });
    // The number is worth trying again either way: a seat that is taken after all is skipped.
    const hash = seat.lastIndexOf('#');
    this.cursors.get(seat.slice(0, hash))?.freed.push(Number(seat.slice(hash + 1)));
    return res.deletedCount === 1;
  }

  /** Frees every seat held by `registrationId` (a scan on FerretDB; only recovery needs it). */
  async releaseAllOf(registrationId: string): Promise<number> {
    return (await this.model.deleteMany({ registrationId })).deletedCount;
  }

  /**
   * One insert of seat `n`. FerretDB's duplicate-key error does not say which unique index
   * refused it, so a refusal is told apart by reading the seat (by `_id`): held by someone else
   * means the seat is taken; free means the holder already has a seat of this lecture (unless
   * it was freed in between, which a second try settles).
   */
  private async tryTake(
    lectureId: string,
    n: number,
    registrationId: string,
    holder: string,
  ): Promise<string | 'taken' | 'already-registered'> {
    const _id = seatId(lectureId, n);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await this.model.collection.insertOne({ _id, lectureId, registrationId, holder, takenAt: new Date() } as never);
        return _id;
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
      }
      const there = await this.model.collection.findOne({ _id: _id as never }, { projection: { holder: 1 } });
      if (there) return there.holder === holder ? 'already-registered' : 'taken';
    }
    return 'already-registered';
  }

  private cursorOf(lecture: Pick<CatalogLecture, 'id' | 'capacity'>): Cursor {
    let c = this.cursors.get(lecture.id);
    if (!c) {
      c = { capacity: lecture.capacity, next: 1 + Math.floor(Math.random() * lecture.capacity), freed: [] };
      this.cursors.set(lecture.id, c);
    }
    return c;
  }

  private advance(c: Cursor): number {
    const n = c.next;
    c.next = n >= c.capacity ? 1 : n + 1;
    return n;
  }
}
