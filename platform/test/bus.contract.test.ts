/**
 * The Bus contract (platform/src/messaging/bus.ts), one suite run over both implementations: NATS
 * JetStream on a real nats-server, and the in-memory twin that application tests may use instead.
 * What passes here for both is what the consumer runner, the outbox and the services rely on.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEvent, parseEvent, streamOf, type EventEnvelope } from '@courses/contracts';
import { eventually } from '@courses/devkit/graphql-client';
import {
  createLogger,
  InMemoryBus,
  NatsBus,
  StreamNotFoundError,
  type Bus,
  type BusMessage,
  type DurableMessages,
  type DurableSpec,
} from '@courses/platform';
import { uniqueTag } from '@courses/test-kit/env';
import { startOwnNatsServer, type OwnNatsServer } from '@courses/test-kit/nats-server';

const logger = createLogger('bus-test', 'silent');
let nats: OwnNatsServer;
let nc: NatsConnection;
const opened: Array<DurableMessages> = [];
afterAll(async () => {
  for (const m of opened) await m.stop();
  await nc?.drain();
  await nats?.dispose();
});

const opened_ = (lectureId: string) => createEvent('lecture.opened', { lectureId, instructorId: 'i', title: 't', capacity: 1, price: 0 });

/**
 * Receives from `messages` in the background into `got`, acking each unless `settle` says
 * otherwise (it may nak, term or leave it).
 */
function receive(messages: DurableMessages, settle: (m: BusMessage) => void = (m) => m.ack()): BusMessage[] {
  opened.push(messages);
  const got: BusMessage[] = [];
  void (async () => {
    for await (const m of messages) {
      got.push(m);
      settle(m);
    }
  })();
  return got;
}

const lectureOf = (m: BusMessage) => (parseEvent(m.data) as EventEnvelope<'lecture.opened'>).payload.lectureId;

describe.each(['nats', 'memory'] as const)('Bus contract: %s', (kind) => {
  const ns = uniqueTag(`bus${kind[0]}`);
  const stream = streamOf('lecture', ns);
  let bus: Bus;
  const spec = (durable: string, extra: Partial<DurableSpec> = {}): DurableSpec => ({
    stream,
    durable,
    maxDeliver: 5,
    ackWaitMs: 30_000,
    maxMessages: 64,
    ...extra,
  });
  /**
   * Waits until durable `durable` of `streamName` has nothing left to deliver and nothing
   * delivered but unsettled: the fact after which no message of it can come again.
   */
  const settled = (durable: string, streamName = stream.name) =>
    eventually(
      async () => {
        const lag = await bus.lag(streamName, durable);
        return lag?.pending === 0 && lag.unacked === 0;
      },
      10_000,
      `${durable}: nothing pending or unsettled`,
    );

  beforeAll(async () => {
    if (kind === 'nats') {
      nats ??= await startOwnNatsServer({ namespace: ns });
      nc ??= await nats.connect('ops');
      bus = new NatsBus(nc, ns, logger);
    } else bus = new InMemoryBus(ns);
    expect(await bus.ensureStream(stream)).toBe('ok');
    expect(await bus.ensureStream(stream)).toBe('ok'); // idempotent
  });
  afterAll(async () => {
    if (kind === 'nats') await (await jetstreamManager(nc)).streams.delete(stream.name).catch(() => undefined);
    else await bus.close();
  });

  it('refuses a durable consumer of a stream that does not exist, and a subject no stream stores', async () => {
    await expect(bus.durable(spec('nobody', { stream: streamOf('payment', ns) }))).rejects.toBeInstanceOf(StreamNotFoundError);
    const refunded = createEvent('payment.refunded', { paymentId: 'p', registrationId: 'r', studentId: 's', lectureId: 'l', amount: 1 });
    await expect(bus.publish(refunded)).rejects.toThrow();
  });

  it('delivers what was published before the durable consumer started, from the first message, each once', async () => {
    const first = opened_(`${kind}-early-1`);
    await bus.publish(first);
    await bus.publish(opened_(`${kind}-early-2`));
    await bus.publish(first); // the same id again: stored once
    const got = receive(await bus.durable(spec('from-start')));
    await eventually(async () => got.length >= 2, 10_000, 'both early events');
    expect(got.map(lectureOf).slice(0, 2)).toEqual([`${kind}-early-1`, `${kind}-early-2`]);
    expect(got[0].deliveryCount).toBe(1);
    expect(got[0].subject).toBe(`${ns}.lecture.opened`);
    expect(got[1].seq).toBeGreaterThan(got[0].seq);
    await eventually(async () => (await bus.lag(stream.name, 'from-start'))?.unacked === 0, 10_000, 'acks counted');
    expect(got.filter((m) => lectureOf(m) === `${kind}-early-1`)).toHaveLength(1);
    expect(await bus.lag(stream.name, 'from-start')).toEqual({ pending: 0, unacked: 0 });
    expect(await bus.lag(stream.name, 'never-made')).toBeUndefined();
  });

  it('delivers a nak-ed message again with its delivery count, and an acked one never', async () => {
    const mark = `${kind}-nak`;
    const got = receive(await bus.durable(spec('nak')), (m) => (lectureOf(m) === mark && m.deliveryCount === 1 ? m.nak(100) : m.ack()));
    await bus.publish(opened_(mark));
    await eventually(async () => got.filter((m) => lectureOf(m) === mark).length >= 2, 10_000, 'redelivered after nak');
    await settled('nak');
    expect(got.filter((m) => lectureOf(m) === mark).map((m) => m.deliveryCount)).toEqual([1, 2]);
  });

  it('delivers a message nobody acks again after the ack wait, and at most maxDeliver times', async () => {
    const mark = `${kind}-unacked`;
    const got = receive(await bus.durable(spec('ack-wait', { ackWaitMs: 300, maxDeliver: 3 })), (m) => {
      if (lectureOf(m) !== mark) m.ack();
    });
    await bus.publish(opened_(mark));
    await eventually(async () => got.filter((m) => lectureOf(m) === mark).length >= 3, 10_000, 'three deliveries');
    await settled('ack-wait'); // past its last delivery's ack wait, the message is given up
    expect(got.filter((m) => lectureOf(m) === mark).map((m) => m.deliveryCount)).toEqual([1, 2, 3]);
  });

  it('never delivers a termed message again', async () => {
    const mark = `${kind}-term`;
    const got = receive(await bus.durable(spec('term', { ackWaitMs: 300 })), (m) => (lectureOf(m) === mark ? m.term('given up') : m.ack()));
    await bus.publish(opened_(mark));
    await eventually(async () => got.some((m) => lectureOf(m) === mark), 10_000, 'delivered');
    await settled('term');
    expect(got.filter((m) => lectureOf(m) === mark)).toHaveLength(1);
  });

  it('shares a durable consumer between its subscribers: each message to one of them', async () => {
    const a = receive(await bus.durable(spec('shared')));
    const b = receive(await bus.durable(spec('shared')));
    const marks = Array.from({ length: 20 }, (_, i) => `${kind}-shared-${i}`);
    for (const m of marks) await bus.publish(opened_(m));
    const mine = (got: BusMessage[]) => got.map(lectureOf).filter((id) => id.startsWith(`${kind}-shared-`));
    await eventually(async () => mine(a).length + mine(b).length >= 20, 10_000, 'all shared');
    await settled('shared');
    expect([...mine(a), ...mine(b)].sort()).toEqual([...marks].sort());
  });

  it('resumes a durable consumer where it stopped: what was acked does not come again', async () => {
    const first = await bus.durable(spec('resume'));
    const before = receive(first);
    await bus.publish(opened_(`${kind}-resume-1`));
    await eventually(async () => before.some((m) => lectureOf(m) === `${kind}-resume-1`), 10_000, 'first');
    await eventually(async () => (await bus.lag(stream.name, 'resume'))?.unacked === 0, 10_000, 'acked');
    await first.stop();
    await bus.publish(opened_(`${kind}-resume-2`));
    const after = receive(await bus.durable(spec('resume')));
    await eventually(async () => after.some((m) => lectureOf(m) === `${kind}-resume-2`), 10_000, 'second');
    expect(after.map(lectureOf)).not.toContain(`${kind}-resume-1`);
  });

  it('lets a live listener hear what is published from now on, until it stops listening', async () => {
    await bus.publish(opened_(`${kind}-before-listening`));
    const heard: string[] = [];
    const stop = await bus.listen('lecture', (e) => heard.push((e as EventEnvelope<'lecture.opened'>).payload.lectureId));
    await bus.publish(opened_(`${kind}-live-1`));
    await eventually(async () => heard.includes(`${kind}-live-1`), 10_000, 'heard live');
    stop();
    // A second listener, still listening, hears the event the first must not: the marker that it went out.
    const marker: string[] = [];
    const stopMarker = await bus.listen('lecture', (e) => marker.push((e as EventEnvelope<'lecture.opened'>).payload.lectureId));
    await bus.publish(opened_(`${kind}-after-stop`));
    await eventually(async () => marker.includes(`${kind}-after-stop`), 10_000, 'the marker heard');
    stopMarker();
    expect(heard).toEqual([`${kind}-live-1`]);
  });

  it("follows a stream in order from a sequence, or from what comes next, until stopped, and says the stream's bounds", async () => {
    await expect(bus.bounds('payment')).rejects.toBeInstanceOf(StreamNotFoundError);
    await expect(bus.follow('payment', 'next', () => undefined)).rejects.toBeInstanceOf(StreamNotFoundError);
    const before = await bus.bounds('lecture');
    await bus.publish(opened_(`${kind}-follow-1`));
    await bus.publish(opened_(`${kind}-follow-2`));
    const after = await bus.bounds('lecture');
    expect(after).toEqual({ first: before.first, last: before.last + 2 });
    // From a sequence: what the stream holds from there, in order, then what comes.
    const back: number[] = [];
    const reading = await bus.follow('lecture', before.last + 1, (r) => back.push(r.seq));
    expect(reading.from).toBe(before.last + 1);
    await eventually(async () => back.length >= 2, 10_000, 'read back');
    expect(back).toEqual([before.last + 1, before.last + 2]);
    // From what comes next: nothing older.
    const live: string[] = [];
    const next = await bus.follow('lecture', 'next', (r) =>
      live.push((parseEvent(r.data) as EventEnvelope<'lecture.opened'>).payload.lectureId),
    );
    expect(next.from).toBe(after.last + 1);
    await bus.publish(opened_(`${kind}-follow-3`));
    await eventually(async () => live.length >= 1, 10_000, 'the next one');
    next.stop();
    // The reading still going hears what the stopped one must not.
    await bus.publish(opened_(`${kind}-follow-4`));
    await eventually(async () => back.includes(after.last + 2), 10_000, 'the marker read');
    reading.stop();
    expect(back).toEqual([before.last + 1, before.last + 2, after.last + 1, after.last + 2]);
    expect(live).toEqual([`${kind}-follow-3`]);
  });

  it('appends raw records once per message id, and says whether it can publish', async () => {
    const dlq = { name: `${ns}_DLQ_TEST`, subjects: [`${ns}.dlq.test.*`] };
    await bus.ensureStream(dlq);
    await bus.append(`${ns}.dlq.test.x`, '{"a":1}', 'letter-1');
    await bus.append(`${ns}.dlq.test.x`, '{"a":1}', 'letter-1');
    const got = receive(await bus.durable({ ...spec('letters'), stream: dlq }));
    await eventually(async () => got.length >= 1, 10_000, 'the letter');
    await settled('letters', dlq.name);
    expect(got.map((m) => new TextDecoder().decode(m.data))).toEqual(['{"a":1}']);
    expect(bus.ready()).toBe(true);
  });
});
