/**
 * The gateway's event feeds (src/subscriptions/event-hub.ts) on the in-memory bus, with no NATS
 * server: positions, the replay window, reading an older position back from the stream, and
 * the refusals of positions it cannot serve. On NATS the same code runs under the e2e suites
 * (live-updates, nats-restart).
 */
import { describe, expect, it } from 'vitest';
import { createEvent, streamOf } from '@courses/contracts';
import { eventually } from '@courses/devkit/graphql-client';
import { createLogger, InMemoryBus } from '@courses/platform';
import { EventHub } from '../src/subscriptions/event-hub.js';

const logger = createLogger('event-hub-test', 'silent');
const opened = (n: number) =>
  createEvent('lecture.opened', { lectureId: `l${n}`, instructorId: 'i', title: `t${n}`, capacity: 1, price: 0 });

async function withStream(count: number): Promise<InMemoryBus> {
  const bus = new InMemoryBus('hub');
  await bus.ensureStream(streamOf('lecture', 'hub'));
  for (let n = 1; n <= count; n++) await bus.publish(opened(n));
  return bus;
}

describe('EventHub', () => {
  it('starts after the stream’s last event, and keeps what it hears since for resuming', async () => {
    const bus = await withStream(3);
    const hub = new EventHub(bus, logger, 100);
    const heard: number[] = [];
    const stop = hub.listen('lecture', (_e, seq) => heard.push(seq));
    await hub.ready('lecture');
    expect(hub.position('lecture')).toBe(3);
    await bus.publish(opened(4));
    await bus.publish(opened(5));
    await eventually(async () => heard.length === 2, 5_000, 'two live events');
    expect(heard).toEqual([4, 5]);
    expect(hub.since('lecture', 3)?.map((s) => s.seq)).toEqual([4, 5]);
    // Before the feed opened: not in its window until read back from the stream.
    expect(hub.since('lecture', 1)).toBeUndefined();
    await hub.cover('lecture', 1);
    expect(hub.since('lecture', 1)?.map((s) => s.event.correlation.lectureId)).toEqual(['l2', 'l3', 'l4', 'l5']);
    stop();
    expect(hub.openSubscriptions).toBe(0);
  });

  it('refuses a position ahead of the stream, and one further back than it replays', async () => {
    const bus = await withStream(10);
    const hub = new EventHub(bus, logger, 4);
    const stop = hub.listen('lecture', () => undefined);
    await hub.ready('lecture');
    await expect(hub.cover('lecture', 11)).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    await expect(hub.cover('lecture', 0)).rejects.toMatchObject({ code: 'RESUME_EXPIRED' });
    await hub.cover('lecture', 7);
    expect(hub.since('lecture', 7)?.map((s) => s.seq)).toEqual([8, 9, 10]);
    stop();
  });
});
