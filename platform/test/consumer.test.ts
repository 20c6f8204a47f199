/**
 * The durable consumer runner (platform/src/messaging/consumer.ts) over both buses, NATS
 * JetStream (a real server) and the in-memory twin: nak and redelivery, the ack wait, poison
 * messages and exhausted deliveries set aside in the dead-letter stream, the stream flowing on
 * after them, and batches.
 */
import { randomUUID } from 'node:crypto';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEvent, streamOf, subjectOf, type EventEnvelope } from '@courses/contracts';
import { eventually } from '@courses/devkit/graphql-client';
import {
  createLogger,
  deadLetterStream,
  ensureStream,
  InMemoryBus,
  NatsBus,
  startConsumer,
  type Bus,
  type DeadLetter,
  type RunningConsumer,
} from '@courses/platform';
import { uniqueTag } from '@courses/test-kit/env';
import { startOwnNatsServer, type OwnNatsServer } from '@courses/test-kit/nats-server';

let nats: OwnNatsServer;
let nc: NatsConnection;
let jsm: JetStreamManager;
const ns = uniqueTag('cons');
const logger = createLogger('consumer-test', 'silent');
const consumers: RunningConsumer[] = [];
const memory = new InMemoryBus(ns);
let natsBus: Bus;
/** The bus the running describe block tests, and how it reads dead letters and publishes raw bytes. */
let bus: Bus;
let deadLetters: (durable: string) => Promise<DeadLetter[]>;
const raw = (subject: string, body: string) => bus.append(subject, body, randomUUID());

beforeAll(async () => {
  nats = await startOwnNatsServer({ namespace: ns });
  nc = await nats.connect('ops');
  jsm = await jetstreamManager(nc);
  await ensureStream(jsm, streamOf('registration', ns));
  natsBus = new NatsBus(nc, ns, logger);
  await memory.ensureStream(streamOf('registration', ns));
});
afterAll(async () => {
  for (const c of consumers) await c.stop();
  for (const s of [streamOf('registration', ns), deadLetterStream('tester', ns)]) await jsm.streams.delete(s.name).catch(() => undefined);
  await nc.drain();
  await nats.dispose();
  await memory.close();
});

/** Points the tests at `kind`'s bus. */
function use(kind: 'nats' | 'memory'): void {
  if (kind === 'memory') {
    bus = memory;
    deadLetters = async (durable) =>
      memory
        .stored(deadLetterStream('tester', ns).name)
        .map((m) => JSON.parse(new TextDecoder().decode(m.data)) as DeadLetter)
        .filter((l) => l.durable === durable);
    return;
  }
  bus = natsBus;
  deadLetters = async (durable) => {
    const name = deadLetterStream('tester', ns).name;
    const info = await jsm.streams.info(name);
    const out: DeadLetter[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const m = await jsm.streams.getMessage(name, { seq }).catch(() => null);
      if (m) {
        const letter = m.json<DeadLetter>();
        if (letter.durable === durable) out.push(letter);
      }
    }
    return out;
  };
}

const canceled = (registrationId: string) =>
  createEvent('registration.canceled', {
    registrationId,
    studentId: 's',
    lectureId: 'l',
    instructorId: 'i',
    reason: 'STUDENT_REQUEST',
    paymentId: null,
  });

describe.each(['nats', 'memory'] as const)('durable consumer on the %s bus', (kind) => {
  beforeAll(() => use(kind));

  it('redelivers a nak-ed event and applies it once it succeeds', async () => {
    const seen: Array<{ id: string; delivery: number }> = [];
    const applied = new Set<string>();
    consumers.push(
      await startConsumer({
        service: 'tester',
        bus,
        stream: streamOf('registration', ns),
        durable: 'retry-test',
        namespace: ns,
        logger,
        handlers: {
          'registration.canceled': async (e, d) => {
            seen.push({ id: e.id, delivery: d.deliveryCount });
            if (d.deliveryCount === 1) throw new Error('transient');
            applied.add(e.payload.registrationId);
          },
        },
      }),
    );
    const e = canceled('r-retry');
    await bus.publish(e);
    await eventually(async () => applied.has('r-retry'), 10_000, 'applied after redelivery');
    expect(seen.filter((s) => s.id === e.id).map((s) => s.delivery)).toEqual([1, 2]);
  });

  it('redelivers the same event after the ack wait passes (handlers must be idempotent)', async () => {
    const deliveries: Array<{ id: string; n: number }> = [];
    consumers.push(
      await startConsumer({
        service: 'tester',
        bus,
        stream: streamOf('registration', ns),
        durable: 'ackwait-test',
        namespace: ns,
        logger,
        ackWaitMs: 500,
        handlers: {
          'registration.canceled': async (e, d) => {
            if (e.payload.registrationId !== 'r-slow') return;
            deliveries.push({ id: e.id, n: d.deliveryCount });
            if (d.deliveryCount === 1) await new Promise((r) => setTimeout(r, 1_200)); // past the ack wait
          },
        },
      }),
    );
    const e = canceled('r-slow');
    await bus.publish(e);
    await eventually(async () => deliveries.length >= 2, 10_000, 'redelivery after the ack wait');
    expect(deliveries.slice(0, 2)).toEqual([
      { id: e.id, n: 1 },
      { id: e.id, n: 2 },
    ]);
  });

  it('sets a poison message aside in the dead-letter stream and keeps flowing', async () => {
    const applied: string[] = [];
    consumers.push(
      await startConsumer({
        service: 'tester',
        bus,
        stream: streamOf('registration', ns),
        durable: 'poison-test',
        namespace: ns,
        logger,
        handlers: { 'registration.canceled': async (e) => void applied.push(e.payload.registrationId) },
      }),
    );
    await raw(subjectOf('registration.canceled', ns), '{"this is": "not an envelope"');
    const bad: EventEnvelope = { ...canceled('r-x'), payload: { registrationId: 42 } as never };
    await raw(subjectOf('registration.canceled', ns), JSON.stringify(bad));
    await bus.publish(canceled('r-after-poison'));
    await eventually(async () => applied.includes('r-after-poison'), 10_000, 'the event after the poison');
    const letters = await eventually(
      async () => {
        const l = await deadLetters('poison-test');
        return l.length >= 2 ? l : undefined;
      },
      10_000,
      'two dead letters',
    );
    expect(letters.map((l) => l.reason)).toEqual([
      expect.stringMatching(/^poison: not JSON/),
      expect.stringMatching(/^poison: registration.canceled/),
    ]);
    expect(letters[0].data).toBe('{"this is": "not an envelope"');
    expect(applied).not.toContain('r-x');
  });

  it('sets aside an event that fails at every delivery, after maxDeliver', async () => {
    let attempts = 0;
    const applied: string[] = [];
    consumers.push(
      await startConsumer({
        service: 'tester',
        bus,
        stream: streamOf('registration', ns),
        durable: 'exhaust-test',
        namespace: ns,
        logger,
        maxDeliver: 3,
        handlers: {
          'registration.canceled': async (e) => {
            if (e.payload.registrationId === 'r-doomed') {
              attempts++;
              throw new Error('always broken');
            }
            applied.push(e.payload.registrationId);
          },
        },
      }),
    );
    await bus.publish(canceled('r-doomed'));
    await bus.publish(canceled('r-fine'));
    const letters = await eventually(
      async () => {
        const l = (await deadLetters('exhaust-test')).filter((x) => x.data.includes('r-doomed'));
        return l.length ? l : undefined;
      },
      20_000,
      'dead letter after 3 deliveries',
    );
    expect(letters[0]).toMatchObject({ deliveries: 3, reason: 'failed 3 times: always broken' });
    expect(attempts).toBe(3);
    await eventually(async () => applied.includes('r-fine'), 10_000, 'the next event');
  });

  it('hands a batch handler what has arrived, in stream order, and redelivers only the event that fails', async () => {
    // Published before the consumer starts: they arrive in one pull.
    const ids = ['b-1', 'b-2', 'b-bad', 'b-3'];
    for (const id of ids) await bus.publish(canceled(id));
    const calls: string[][] = [];
    const applied: string[] = [];
    let badTries = 0;
    consumers.push(
      await startConsumer({
        service: 'tester',
        bus,
        stream: streamOf('registration', ns),
        durable: 'batch-test',
        namespace: ns,
        logger,
        handlers: {
          types: ['registration.canceled'],
          // What arrives within 200 ms joins the first batch: the stream's earlier events (other
          // tests') and these four may come in more than one chunk of the pull.
          lingerMs: 200,
          async handle(events) {
            const mine = events.map((e) => (e.payload as { registrationId: string }).registrationId).filter((id) => id.startsWith('b-'));
            if (mine.length) calls.push(mine);
            if (mine.includes('b-bad') && ++badTries <= 2) throw new Error('transient');
            applied.push(...mine);
          },
        },
      }),
    );
    await eventually(async () => ids.every((id) => applied.includes(id)), 10_000, 'every event applied');
    expect(calls[0]).toEqual(ids); // the whole pull, in order
    // After the failure, one by one: the good ones are acked once, the bad one fails again, is
    // redelivered, and then applied.
    for (const id of ids) expect(applied.filter((x) => x === id)).toHaveLength(1);
    expect(badTries).toBe(3);
  });
});
