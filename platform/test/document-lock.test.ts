/**
 * Per-document write locks against the real MongoDB-wire server of the test run. On FerretDB
 * unlocked concurrent updates of one document lose writes; under the lock none is lost, also
 * across two connections (two "processes"), which exercises the lease path there.
 */
import mongoose, { type Connection } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DocumentLocks, KeyedMutex } from '@courses/platform';
import { mongoUri, uniqueTag } from '../../tests/support/env.js';

let a: Connection;
let b: Connection;
beforeAll(async () => {
  const uri = mongoUri(uniqueTag('lock'));
  [a, b] = await Promise.all([mongoose.createConnection(uri).asPromise(), mongoose.createConnection(uri).asPromise()]);
});
afterAll(async () => {
  await a?.dropDatabase();
  await Promise.all([a?.close(), b?.close()]);
});

describe('KeyedMutex', () => {
  it('runs functions with the same key one at a time, in call order', async () => {
    const m = new KeyedMutex();
    const log: string[] = [];
    const step = (name: string, ms: number) => m.run('k', async () => {
      log.push(`${name}>`);
      await new Promise((r) => setTimeout(r, ms));
      log.push(`<${name}`);
    });
    await Promise.all([step('a', 30), step('b', 1), step('c', 10)]);
    expect(log).toEqual(['a>', '<a', 'b>', '<b', 'c>', '<c']);
    expect(m.size).toBe(0);
  });

  it('keeps going after a function throws', async () => {
    const m = new KeyedMutex();
    await expect(m.run('k', async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    expect(await m.run('k', async () => 42)).toBe(42);
  });
});

describe('DocumentLocks on the test server', () => {
  it('loses no concurrent update of one document, within and across connections', async () => {
    const col = a.collection('counters');
    await col.insertOne({ _id: 'x' as never, n: 0, items: [] });
    const locksA = new DocumentLocks(a);
    const locksB = new DocumentLocks(b);
    const N = 60;
    const writer = (locks: DocumentLocks, conn: Connection, tag: string) =>
      Promise.all(Array.from({ length: N }, (_, i) =>
        locks.run('counters:x', () => conn.collection('counters').updateOne({ _id: 'x' as never }, { $inc: { n: 1 }, $push: { items: `${tag}${i}` } } as never)),
      ));
    await Promise.all([writer(locksA, a, 'a'), writer(locksB, b, 'b')]);
    const doc = await col.findOne({ _id: 'x' as never });
    expect(doc?.n).toBe(2 * N);
    expect(doc?.items).toHaveLength(2 * N);
    expect(await a.collection('_locks').countDocuments()).toBe(0);
  });
});
