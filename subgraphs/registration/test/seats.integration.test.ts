/**
 * The seat ledger on real MongoDB-wire servers, on both of FerretDB's backends (the suite's
 * server, and FerretDB on SQLite of this file's own): a seat is freed only by the attempt
 * holding it, a student holds one live place per lecture, and ALREADY_REGISTERED is said only to
 * a student who holds one, however much the seats churn.
 */
import mongoose, { type Connection } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mongoUri, uniqueTag } from '@courses/test-kit/env';
import { ferretDbAvailable, startFerretDbOnSqlite, type OwnFerretDb } from '@courses/test-kit/ferretdb';
import { holderId, SeatRepository, type TakeResult } from '../src/infrastructure/seat-repository.js';

const backends = [
  { name: "the suite's server", uri: async () => mongoUri(`${uniqueTag()}_seats`) },
  ...(ferretDbAvailable() || process.env.CI === 'true'
    ? [
        {
          name: 'FerretDB on SQLite',
          uri: async () => {
            own = await startFerretDbOnSqlite();
            const u = new URL(own.uri);
            u.pathname = `/${uniqueTag()}_seats`;
            return u.toString();
          },
        },
      ]
    : []),
];
let own: OwnFerretDb | undefined;
afterAll(async () => own?.stop());

const seatOf = (r: TakeResult) => (typeof r === 'object' ? r.seat : r);

describe.each(backends)('the seat ledger on $name', ({ uri }) => {
  let conn: Connection;
  let seats: SeatRepository;
  beforeAll(async () => {
    conn = await mongoose.createConnection(await uri()).asPromise();
    seats = new SeatRepository(conn);
    await seats.model.init();
  });
  afterAll(async () => {
    await conn?.dropDatabase();
    await conn?.close();
  });

  it("frees a seat only for the attempt that holds it: a late release by an attempt given up on leaves the next holder's seat", async () => {
    const lecture = { id: 'b'.repeat(24), capacity: 1 };
    const first = seatOf(await seats.take(lecture, 'reg-slow', 's-1'));
    expect(first).toMatch(/#/);
    // Another process gave up on reg-slow and freed its seat and holder; reg-next took the seat.
    expect(await seats.releaseAllOf('reg-slow')).toBe(2);
    const second = seatOf(await seats.take(lecture, 'reg-next', 's-2'));
    expect(second).toBe(first);
    // reg-slow's own process, late, gives "its" seat back: nothing happens.
    expect(await seats.release(first, 'reg-slow', 's-1', lecture.id)).toBe(false);
    expect(await seats.model.countDocuments({ registrationId: 'reg-next' })).toBe(2);
    expect(await seats.take(lecture, 'reg-third', 's-3')).toBe('full');
    // The full lecture kept no holder for the student it refused.
    expect(await seats.model.countDocuments({ _id: holderId('s-3', lecture.id) })).toBe(0);
    // Its holder frees it.
    expect(await seats.release(second, 'reg-next', 's-2', lecture.id)).toBe(true);
    expect(seatOf(await seats.take(lecture, 'reg-third', 's-3'))).toBe(first);
  });

  it('lets a student hold one live place per lecture: a second seat or waitlist place is ALREADY_REGISTERED until the first is freed', async () => {
    const lecture = { id: 'c'.repeat(24), capacity: 5 };
    const seat = seatOf(await seats.take(lecture, 'reg-1', 's-1'));
    expect(await seats.take(lecture, 'reg-2', 's-1')).toBe('already-registered');
    expect(await seats.hold(lecture.id, 'reg-3', 's-1')).toBe(false);
    // Another lecture is another place.
    expect(seatOf(await seats.take({ id: 'd'.repeat(24), capacity: 5 }, 'reg-4', 's-1'))).toMatch(/#/);
    await seats.release(seat, 'reg-1', 's-1', lecture.id);
    expect(await seats.hold(lecture.id, 'reg-3', 's-1')).toBe(true);
    expect(await seats.take(lecture, 'reg-5', 's-1')).toBe('already-registered');
    // A waitlist place offered a seat takes it under the holder it has.
    expect(await seats.takeFree(lecture, ['reg-3'])).toEqual([{ seat: expect.stringMatching(/#/), registrationId: 'reg-3' }]);
    // Taken for it already (its offer was not recorded): the same seat again, not a second one.
    const [again] = await seats.takeFree(lecture, ['reg-3']);
    expect(await seats.model.countDocuments({ registrationId: 'reg-3', kind: 'seat' })).toBe(1);
    expect(again.registrationId).toBe('reg-3');
  });

  it('answers ALREADY_REGISTERED to nobody when each student asks once, while paid-for seats are freed and taken again (churn)', async () => {
    // The case: 100 students, one request each, a 10-seat lecture whose seats free up
    // again as payments fail. Two refused inserts used to end in "already registered".
    const lecture = { id: 'e'.repeat(24), capacity: 10 };
    const results = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const r = await seats.take(lecture, `reg-${i}`, `s-${i}`);
        // A third of the seats are "not paid": freed again a moment later, for others to take.
        if (typeof r === 'object' && i % 3 === 0) {
          await new Promise((res) => setTimeout(res, Math.random() * 20));
          await seats.release(r.seat, `reg-${i}`, `s-${i}`, lecture.id);
        }
        return r;
      }),
    );
    expect(results.filter((r) => r === 'already-registered')).toEqual([]);
    const seated = results.filter((r) => typeof r === 'object').length;
    expect(seated).toBeGreaterThanOrEqual(10);
    const held = await seats.model.find({ lectureId: lecture.id, kind: 'seat' }).lean();
    expect(held.length).toBeLessThanOrEqual(10);
    // Every seat has its student's holder, and no holder is left without a seat.
    const holders = await seats.model.find({ lectureId: lecture.id, kind: 'holder' }).lean();
    expect(new Set(holders.map((h) => h.registrationId))).toEqual(new Set(held.map((s) => s.registrationId)));
  });

  it('migrates a ledger of the earlier shape (a unique holder field on each seat) to holder documents', async () => {
    const lecture = { id: 'f'.repeat(24), capacity: 3 };
    await conn.collection('seats').insertOne({
      _id: `${lecture.id}#1` as never,
      lectureId: lecture.id,
      registrationId: 'reg-old',
      holder: `s-old:${lecture.id}`,
      takenAt: new Date(),
    });
    await seats.migrate();
    expect(await seats.take(lecture, 'reg-new', 's-old')).toBe('already-registered');
    expect(await conn.collection('seats').countDocuments({ holder: { $exists: true } })).toBe(0);
    await seats.migrate(); // safe to repeat
  });
});
