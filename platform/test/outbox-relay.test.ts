/**
 * The outbox relay and recovery (platform/src/messaging/outbox-relay.ts, outbox-recovery.ts)
 * against the real MongoDB-wire server and the in-memory bus: events go out in order, a stored
 * outbox is published whole, the first refusal stops the rest; a recovery appends.
 */
import mongoose, { type Connection } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEvent, parseEvent, streamOf, type EventEnvelope } from '@courses/contracts';
import { InMemoryBus, OutboxRelay, Recoveries } from '@courses/platform';
import { mongoUri, uniqueTag } from '@courses/test-kit/env';

const ns = uniqueTag('relay');
let conn: Connection;
let bus: InMemoryBus;
beforeAll(async () => {
  conn = await mongoose.createConnection(mongoUri(ns)).asPromise();
  bus = new InMemoryBus(ns);
  await bus.ensureStream(streamOf('lecture', ns));
});
afterAll(async () => {
  await conn?.dropDatabase();
  await conn?.close();
  await bus?.close();
});

const changed = (lectureId: string, enrolledCount: number) =>
  createEvent('lecture.enrolledCountChanged', { lectureId, instructorId: 'i', enrolledCount });
const published = () => bus.stored(streamOf('lecture', ns).name).map((m) => parseEvent(m.data).id);

describe('outbox relay', () => {
  it("publishes a change's events in order, and everything a document's outbox holds", async () => {
    const relay = new OutboxRelay({ conn, bus });
    const [e1, e2, e3] = [changed('l1', 1), changed('l1', 2), changed('l1', 3)];
    await relay.publish([e1, e2]);
    await conn.collection('lectures').insertOne({ _id: 'l1' as never, outbox: [e1, e2, e3] });
    await relay.publishStored('lectures', 'l1');
    await relay.publishStored('lectures', 'missing'); // nothing stored: nothing sent
    expect(published()).toEqual([e1.id, e2.id, e3.id]); // the repeats were dropped by the bus
    expect(relay.publishing).toBe(true);
    expect(new OutboxRelay({ conn, bus, publish: false }).publishing).toBe(false);
  });

  it('stops at the first event the bus refuses, so none goes out of order', async () => {
    const sent: string[] = [];
    const refusing = {
      async publish(e: EventEnvelope) {
        if (sent.length === 1) throw new Error('bus down');
        sent.push(e.id);
      },
    };
    const [a, b, c] = [changed('l2', 1), changed('l2', 2), changed('l2', 3)];
    const refused = new OutboxRelay({ conn, bus: refusing }).publish([a, b, c]);
    await expect(refused).rejects.toThrow('bus down');
    // It names what it left unpublished, the refused event first: what the claim keeps.
    await expect(refused).rejects.toMatchObject({ name: 'PublishError', unpublished: [b.id, c.id] });
    expect(sent).toEqual([a.id]);
  });
});

describe('outbox recovery', () => {
  it("runs the collection's recovery with the claimant's data, appending to the stored outbox", async () => {
    const recoveries = new Recoveries();
    const seen: unknown[] = [];
    recoveries.register('lectures', async (docId, data, ctx) => {
      seen.push({ docId, data, inherited: ctx.inherited });
      await conn
        .collection('lectures')
        .updateOne({ _id: docId as never }, ctx.withEvents({ $set: { recovered: true } }, [changed(docId, 9)]));
    });
    await conn.collection('lectures').insertOne({ _id: 'l3' as never, outbox: [changed('l3', 1)] });
    await recoveries.run('lectures', 'l3', { why: 'died' });
    await recoveries.run('others', 'x', undefined); // no recovery registered: nothing to do
    expect(seen).toEqual([{ docId: 'l3', data: { why: 'died' }, inherited: true }]);
    const doc = await conn.collection('lectures').findOne({ _id: 'l3' as never });
    expect(doc?.recovered).toBe(true);
    expect(doc?.outbox).toHaveLength(2); // appended, since the first may be unpublished
  });
});
