/**
 * The seat ledger on a real MongoDB-wire server: a seat is freed only by the attempt holding it.
 */
import mongoose, { type Connection } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mongoUri, uniqueTag } from '@courses/test-kit/env';
import { SeatRepository } from '../src/infrastructure/seat-repository.js';

let conn: Connection;
beforeAll(async () => {
  conn = await mongoose.createConnection(mongoUri(`${uniqueTag()}_seats`)).asPromise();
});
afterAll(async () => {
  await conn?.dropDatabase();
  await conn?.close();
});

describe('SeatRepository.release', () => {
  it("frees a seat only for the attempt that holds it: a late release by an attempt given up on leaves the next holder's seat", async () => {
    const seats = new SeatRepository(conn);
    await seats.model.init();
    const lecture = { id: 'b'.repeat(24), capacity: 1 };
    const first = await seats.take(lecture, 'reg-slow', 'live:s-1');
    expect(first).toMatch(/#/);
    // Another process gave up on reg-slow and freed its seat; reg-next took it.
    expect(await seats.releaseAllOf('reg-slow')).toBe(1);
    const second = await seats.take(lecture, 'reg-next', 'live:s-2');
    expect(second).toBe(first);
    // reg-slow's own process, late, gives "its" seat back: nothing happens.
    expect(await seats.release(first as string, 'reg-slow')).toBe(false);
    expect(await seats.model.countDocuments({ registrationId: 'reg-next' })).toBe(1);
    expect(await seats.take(lecture, 'reg-third', 'live:s-3')).toBeNull();
    // Its holder frees it.
    expect(await seats.release(second as string, 'reg-next')).toBe(true);
    expect(await seats.take(lecture, 'reg-third', 'live:s-3')).toBe(first);
  });
});
