/**
 * The outbox's claims against the real MongoDB-wire server and NATS of the test run. On FerretDB,
 * unclaimed concurrent read-modify-writes of one document lose writes; under claims none is lost,
 * also across two outboxes (two "processes"). Every event is published once its change is stored,
 * and what a dead process left unfinished is taken over, recovered and published by another.
 */
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import mongoose, { type Connection } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEvent, streamOf, type EventEnvelope } from '@courses/contracts';
import { eventually } from '@courses/devkit/graphql-client';
import { CLAIMS_COLLECTION, createLogger, ensureStream, KeyedMutex, NatsBus, Outbox } from '@courses/platform';
import { mongoUri, uniqueTag } from '@courses/test-kit/env';
import { startOwnNatsServer, type OwnNatsServer } from '@courses/test-kit/nats-server';

const ns = uniqueTag('obx');
const logger = createLogger('outbox-test', 'silent');
let a: Connection;
let b: Connection;
let nats: OwnNatsServer;
let nc: NatsConnection;
let jsm: JetStreamManager;
const outboxes: Outbox[] = [];

beforeAll(async () => {
  const uri = mongoUri(ns);
  [a, b] = await Promise.all([mongoose.createConnection(uri).asPromise(), mongoose.createConnection(uri).asPromise()]);
  nats = await startOwnNatsServer({ namespace: ns });
  nc = await nats.connect('ops');
  jsm = await jetstreamManager(nc);
  await ensureStream(jsm, streamOf('lecture', ns));
});
afterAll(async () => {
  for (const o of outboxes) await o.stop();
  await jsm?.streams.delete(streamOf('lecture', ns).name).catch(() => undefined);
  await nc?.drain();
  await nats?.dispose();
  await a?.dropDatabase();
  await Promise.all([a?.close(), b?.close()]);
});

function outbox(conn: Connection, extra: Partial<ConstructorParameters<typeof Outbox>[0]> = {}): Outbox {
  const o = new Outbox({ conn, bus: new NatsBus(nc, ns, logger), logger, sweepMs: 200, ...extra });
  outboxes.push(o);
  return o;
}

const countChanged = (lectureId: string, enrolledCount: number) =>
  createEvent('lecture.enrolledCountChanged', { lectureId, instructorId: 'i', enrolledCount });

/** Event ids on the test stream for a lecture. */
async function published(lectureId: string): Promise<string[]> {
  const name = streamOf('lecture', ns).name;
  const info = await jsm.streams.info(name);
  const ids: string[] = [];
  for (let seq = info.state.first_seq; info.state.messages > 0 && seq <= info.state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(name, { seq }).catch(() => null);
    const e = m?.json<EventEnvelope>();
    if (e && e.correlation.lectureId === lectureId) ids.push(e.id);
  }
  return ids;
}

describe('KeyedMutex', () => {
  it('runs functions with the same key one at a time, in call order', async () => {
    const m = new KeyedMutex();
    const log: string[] = [];
    const step = (name: string, ms: number) =>
      m.run('k', async () => {
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
    await expect(
      m.run('k', async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await m.run('k', async () => 42)).toBe(42);
  });
});

describe('Outbox', () => {
  it('loses no concurrent change of one document, within and across processes, and publishes each event once', async () => {
    const [oa, ob] = [outbox(a), outbox(b)];
    const col = a.collection('counters');
    await col.insertOne({ _id: 'x' as never, n: 0, outbox: [] });
    const ids: string[] = [];
    // A read-modify-write FerretDB would interleave without the claim.
    const increment = (o: Outbox, conn: Connection) =>
      o.change('counters', 'x', async (ctx) => {
        const c = conn.collection('counters');
        const { n } = (await c.findOne({ _id: 'x' as never }))!;
        const event = countChanged('lx', n + 1);
        ids.push(event.id);
        await c.updateOne({ _id: 'x' as never }, ctx.withEvents({ $set: { n: n + 1 } }, [event]));
        return { value: n + 1, events: [event] };
      });
    await Promise.all(Array.from({ length: 30 }, (_, i) => increment(i % 2 ? oa : ob, i % 2 ? a : b)));
    expect((await col.findOne({ _id: 'x' as never }))?.n).toBe(30);
    await eventually(async () => (await published('lx')).length === 30, 10_000, 'every event published');
    expect(new Set(await published('lx'))).toEqual(new Set(ids));
    await eventually(async () => (await a.collection(CLAIMS_COLLECTION).countDocuments({ docId: 'x' })) === 0, 5_000, 'claims released');
  });

  it('finishes the change of a process that died before publishing: recovery, then the stored events go out', async () => {
    const dead = outbox(a, { publish: false }); // stores, never publishes: as if killed right after the write
    const col = a.collection('lectures_t');
    const event = countChanged('ly', 1);
    await dead.change(
      'lectures_t',
      'y',
      async () => {
        await col.insertOne({ _id: 'y' as never, state: 'HALF', outbox: [event] });
        return { value: undefined, events: [event] };
      },
      { staleAfterMs: 300 },
    );
    await dead.stop();
    expect(await published('ly')).toEqual([]);

    const heir = outbox(b);
    heir.recoverWith('lectures_t', async (id, _data, ctx) => {
      expect(ctx.inherited).toBe(true);
      await b.collection('lectures_t').updateOne({ _id: id as never }, { $set: { state: 'RECOVERED' } });
    });
    heir.start();
    await eventually(async () => (await published('ly')).length === 1, 10_000, "the dead process's event published");
    expect((await published('ly'))[0]).toBe(event.id);
    expect((await col.findOne({ _id: 'y' as never }))?.state).toBe('RECOVERED');
    await eventually(async () => (await a.collection(CLAIMS_COLLECTION).countDocuments({ docId: 'y' })) === 0, 5_000, 'claim released');
  });

  it('recovers a change that failed midway on its next sweep, and a later change appends to the stored events', async () => {
    const o = outbox(a);
    const recovered: string[] = [];
    o.recoverWith('docs_t', async (id) => {
      recovered.push(id);
    });
    o.start();
    await expect(
      o.change('docs_t', 'z', async () => {
        await a.collection('docs_t').insertOne({ _id: 'z' as never, outbox: [countChanged('lz', 1)] });
        throw new Error('crashed after the write');
      }),
    ).rejects.toThrow('crashed after the write');
    await eventually(async () => recovered.includes('z') && (await published('lz')).length === 1, 5_000, 'recovered and published');
    expect(o.unsettled).toBe(0);
    const next = countChanged('lz', 2);
    await o.change('docs_t', 'z', async (ctx) => {
      expect(ctx.inherited).toBe(false); // everything stored was published: the outbox may be replaced
      await a.collection('docs_t').updateOne({ _id: 'z' as never }, ctx.withEvents({}, [next]));
      return { value: undefined, events: [next] };
    });
    await eventually(async () => (await published('lz')).length === 2, 5_000, 'second event');
    expect((await a.collection('docs_t').findOne({ _id: 'z' as never }))?.outbox.map((e: EventEnvelope) => e.id)).toEqual([next.id]);
  });
});
