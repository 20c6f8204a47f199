/**
 * The seat ledger, collection `seats`, of two kinds of documents, each decided by its unique
 * `_id` alone (no read-then-write, so the database decides, whatever the concurrency or the
 * number of replicas, on MongoDB and FerretDB alike):
 * - a **seat**, `_id` = `<lectureId>#<n>` with n in 1..capacity, held by one registration: a
 *   lecture can never have more than `capacity` of them;
 * - a **holder**, `_id` = `holder:<studentId>:<lectureId>`: the student's one live place in the
 *   lecture (a seat being paid for, a confirmed seat, or a waitlist place), so a student holds at
 *   most one of them per lecture.
 * Taking a seat inserts the holder and the seat in one ordered `insertMany`, whose error says
 * which document was refused (FerretDB's duplicate-key error does not say which index refused a
 * document with two unique keys, so each document here has one). Releasing deletes both in one
 * `deleteMany`, guarded by the registration that holds them.
 *
 * Allocation is O(1) while seats are free: each process walks the seat numbers from a random
 * start of its own (so replicas rarely meet) and reuses the numbers it released first. After a
 * collision it reads the lecture's taken seats (one query, shared by the attempts that collide
 * meanwhile) and tries the free numbers that remain; when none remain, the lecture is full.
 */
import { Schema, type Connection, type Model, type mongo } from 'mongoose';
import { collectionOf, insertNew, isDuplicateKey, SingleFlight } from '@courses/platform';
import { seatId, type CatalogLecture } from '../domain/registration.js';

interface LedgerDoc {
  _id: string;
  /** `seat`, or `holder` for a student's live place. */
  kind: 'seat' | 'holder';
  lectureId: string;
  registrationId: string;
  takenAt: Date;
}

const schema = new Schema<LedgerDoc>(
  {
    _id: { type: String, required: true },
    kind: { type: String, required: true, enum: ['seat', 'holder'] },
    lectureId: { type: String, required: true, index: true },
    registrationId: { type: String, required: true, index: true },
    takenAt: { type: Date, required: true },
  },
  { versionKey: false, collection: 'seats' },
);

/** The `_id` of the holder document of `studentId` in `lectureId`. */
export function holderId(studentId: string, lectureId: string): string {
  return `holder:${studentId}:${lectureId}`;
}

/** This process's view of one lecture's seat numbers. */
interface Cursor {
  capacity: number;
  next: number;
  /** Numbers this process released, tried first. */
  freed: number[];
}

/** What taking a seat came to. */
export type TakeResult = { seat: string } | 'already-registered' | 'full';

export class SeatRepository {
  readonly model: Model<LedgerDoc>;
  private readonly cursors = new Map<string, Cursor>();
  /** Ledger scans in flight, by lecture (see {@link seatsOf}). */
  private readonly scans = new SingleFlight<Map<string, string>>();

  constructor(conn: Connection) {
    this.model = conn.model<LedgerDoc>('Seat', schema);
  }

  private get ledger(): mongo.Collection<LedgerDoc> {
    return collectionOf(this.model);
  }

  /**
   * Takes the student's holder and a free seat of `lecture` for attempt `registrationId`.
   * @param opts.keepHolder keep the holder when the lecture is full (the attempt joins the waitlist next)
   * @returns the seat; `already-registered` when the student holds a live place of the lecture
   *   (nothing taken); `full` when no seat is free (the holder is kept only with `keepHolder`).
   */
  async take(
    lecture: Pick<CatalogLecture, 'id' | 'capacity'>,
    registrationId: string,
    studentId: string,
    opts: { keepHolder?: boolean } = {},
  ): Promise<TakeResult> {
    const cursor = this.cursorOf(lecture);
    const holder = this.doc(holderId(studentId, lecture.id), 'holder', lecture.id, registrationId);
    const first = cursor.freed.pop() ?? this.advance(cursor);
    const refused = await this.insertBoth(holder, this.doc(seatId(lecture.id, first), 'seat', lecture.id, registrationId));
    if (refused === 'holder') return 'already-registered';
    if (refused === undefined) return { seat: seatId(lecture.id, first) };
    // The holder is in; the seat was taken: try others.
    const seat = await this.seatFor(lecture, registrationId);
    if (seat) return { seat };
    if (!opts.keepHolder) await this.ledger.deleteOne({ _id: holder._id, registrationId });
    return 'full';
  }

  /**
   * Takes only the holder of the student's live place (a waitlist place, no seat).
   * @returns false when the student holds a live place of the lecture already.
   */
  async hold(lectureId: string, registrationId: string, studentId: string): Promise<boolean> {
    try {
      await this.ledger.insertOne(this.doc(holderId(studentId, lectureId), 'holder', lectureId, registrationId));
      return true;
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }

  /**
   * Takes a free seat of `lecture` for `registrationId`, whose holder is in already (an attempt
   * whose first seat number was taken): the ledger is read once (a read shared by every attempt
   * that collides meanwhile, so a rush of them costs a read, not a round of inserts each) and the
   * free numbers are tried in random order.
   * @returns the seat, or null when none is free.
   */
  async seatFor(lecture: Pick<CatalogLecture, 'id' | 'capacity'>, registrationId: string): Promise<string | null> {
    for (const n of shuffled(await this.freeNumbers(lecture))) {
      const seat = await this.tryTake(lecture.id, n, registrationId);
      if (seat) return seat;
    }
    return null;
  }

  /**
   * Takes free seats of a nearly full `lecture` for `registrationIds` (whose holders are in), in
   * order, as far as they go, leaving `keep` of them free (promised to attempts on their way): the
   * ledger is read once, then the free numbers are tried. A
   * registration that holds a seat already (taken for it by a process that died before it
   * recorded the offer) keeps that one.
   * @returns the seats taken, in the order of `registrationIds` (a prefix of it).
   */
  async takeFree(
    lecture: Pick<CatalogLecture, 'id' | 'capacity'>,
    registrationIds: readonly string[],
    keep = 0,
  ): Promise<{ seat: string; registrationId: string }[]> {
    if (!registrationIds.length) return [];
    const ledger = await this.seatsOf(lecture);
    const holding = new Map([...ledger].map(([seat, registrationId]) => [registrationId, seat]));
    const free = shuffled(this.numbersFree(lecture, ledger)).slice(keep);
    const taken: { seat: string; registrationId: string }[] = [];
    for (const registrationId of registrationIds) {
      let seat = holding.get(registrationId) ?? null;
      while (!seat && free.length) seat = await this.tryTake(lecture.id, free.pop()!, registrationId);
      if (!seat) break;
      taken.push({ seat, registrationId });
    }
    return taken;
  }

  /**
   * The seats of `lecture` held now: seat id → registration. One query, in one batch, shared by
   * the callers that ask while it runs: on FerretDB v1's PostgreSQL backend an open cursor waiting
   * for its next batch holds a database connection, and a rush of such scans once took every one
   * of them while each waited for another (a stall for good; docs/performance.md).
   */
  private seatsOf(lecture: Pick<CatalogLecture, 'id' | 'capacity'>): Promise<Map<string, string>> {
    return this.scans.run(lecture.id, async () => {
      const docs = await this.ledger
        .find({ lectureId: lecture.id, kind: 'seat' }, { projection: { _id: 1, registrationId: 1 }, batchSize: lecture.capacity + 1 })
        .toArray();
      return new Map(docs.map((d) => [d._id, d.registrationId]));
    });
  }

  private numbersFree(lecture: Pick<CatalogLecture, 'id' | 'capacity'>, held: Map<string, string>): number[] {
    const free: number[] = [];
    for (let n = 1; n <= lecture.capacity; n++) if (!held.has(seatId(lecture.id, n))) free.push(n);
    return free;
  }

  /** The seat numbers of `lecture` nobody holds now (one query; a scan on FerretDB). */
  async freeNumbers(lecture: Pick<CatalogLecture, 'id' | 'capacity'>): Promise<number[]> {
    return this.numbersFree(lecture, await this.seatsOf(lecture));
  }

  /**
   * Frees `seat` (when given) and the student's holder while `registrationId` holds them
   * (idempotent). A slow attempt that another process gave up on, and whose seat that process
   * freed, must not free what someone else has taken since.
   * @returns true when the seat was freed here.
   */
  async release(seat: string | null, registrationId: string, studentId: string, lectureId: string): Promise<boolean> {
    const ids = [holderId(studentId, lectureId), ...(seat ? [seat] : [])];
    const res = await this.ledger.deleteMany({ _id: { $in: ids }, registrationId });
    if (seat) this.remember(seat);
    return !!seat && res.deletedCount === ids.length;
  }

  /** Frees only `seat` while `registrationId` holds it; its holder stays (the attempt joins the waitlist instead). */
  async releaseSeat(seat: string, registrationId: string): Promise<void> {
    await this.ledger.deleteOne({ _id: seat, registrationId });
    this.remember(seat);
  }

  /** Frees everything `registrationId` holds, seat and holder (a scan on FerretDB; recovery needs it). @returns how many documents. */
  async releaseAllOf(registrationId: string): Promise<number> {
    return (await this.ledger.deleteMany({ registrationId })).deletedCount;
  }

  /**
   * Ledgers of earlier versions kept the holder as a unique field of the seat: drops that index,
   * gives each such seat its holder document and its kind. Safe to repeat.
   */
  async migrate(): Promise<void> {
    await this.ledger.dropIndex('holder_1').catch(() => undefined);
    const old = await this.model.collection
      .find({ holder: { $exists: true } }, { projection: { holder: 1, lectureId: 1, registrationId: 1 } })
      .toArray();
    await insertNew(
      this.model.collection,
      old.map((d) => ({
        _id: `holder:${String(d.holder)}`,
        kind: 'holder',
        lectureId: d.lectureId,
        registrationId: d.registrationId,
        takenAt: new Date(),
      })),
    );
    if (old.length)
      await this.model.collection.updateMany({ holder: { $exists: true } }, { $unset: { holder: '' }, $set: { kind: 'seat' } });
  }

  /** Inserts the holder then the seat (ordered); undefined when both went in, else which was refused. */
  private async insertBoth(holder: LedgerDoc, seat: LedgerDoc): Promise<'holder' | 'seat' | undefined> {
    try {
      await this.ledger.insertMany([holder, seat], { ordered: true });
      return undefined;
    } catch (err) {
      const writeErrors = (err as mongo.MongoBulkWriteError).writeErrors;
      const list = Array.isArray(writeErrors) ? writeErrors : writeErrors ? [writeErrors] : [];
      const first = list[0];
      if (!first || first.code !== 11000) throw err;
      return first.index === 0 ? 'holder' : 'seat';
    }
  }

  /** One insert of seat `n`; null when someone holds it. */
  private async tryTake(lectureId: string, n: number, registrationId: string): Promise<string | null> {
    const _id = seatId(lectureId, n);
    try {
      await this.ledger.insertOne(this.doc(_id, 'seat', lectureId, registrationId));
      return _id;
    } catch (err) {
      if (isDuplicateKey(err)) return null;
      throw err;
    }
  }

  private doc(_id: string, kind: 'seat' | 'holder', lectureId: string, registrationId: string): LedgerDoc {
    return { _id, kind, lectureId, registrationId, takenAt: new Date() };
  }

  /** The number of a released seat is worth trying again first (a seat that is taken after all is skipped). */
  private remember(seat: string): void {
    const hash = seat.lastIndexOf('#');
    this.cursors.get(seat.slice(0, hash))?.freed.push(Number(seat.slice(hash + 1)));
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

/** `list` in random order (Fisher–Yates). */
function shuffled(list: number[]): number[] {
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [list[i], list[j]] = [list[j], list[i]];
  }
  return list;
}
