/** Stream limits on a real NATS server: what ensureStream creates, and what it fixes. */
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamOf } from '@courses/contracts';
import { ensureStream, STREAM_MAX_AGE_MS } from '@courses/platform';
import { uniqueTag } from '@courses/test-kit/env';
import { startOwnNatsServer, type OwnNatsServer } from '@courses/test-kit/nats-server';

let nats: OwnNatsServer;
let nc: NatsConnection;
let jsm: JetStreamManager;
const ns = uniqueTag('streams');
const spec = streamOf('lecture', ns);

beforeAll(async () => {
  nats = await startOwnNatsServer({ namespace: ns });
  nc = await nats.connect('ops');
  jsm = await jetstreamManager(nc);
});
afterAll(async () => {
  await jsm.streams.delete(spec.name).catch(() => undefined);
  await nc.drain();
  await nats.dispose();
});

describe('ensureStream', () => {
  it('creates a stream that keeps messages 30 days and then discards the oldest, and gives an older stream the same limits', async () => {
    await ensureStream(jsm, spec);
    let info = await jsm.streams.info(spec.name);
    expect(info.config.max_age).toBe(STREAM_MAX_AGE_MS * 1_000_000);
    expect(info.config.discard).toBe('old');
    // A stream made before the limits (unbounded) gets them on the next start.
    await jsm.streams.update(spec.name, { max_age: 0 });
    expect((await jsm.streams.info(spec.name)).config.max_age).toBe(0);
    await ensureStream(jsm, spec);
    info = await jsm.streams.info(spec.name);
    expect(info.config.max_age).toBe(STREAM_MAX_AGE_MS * 1_000_000);
    expect(info.config.subjects).toEqual(spec.subjects);
  });

  it('creates the stream with the replica count it is given: one on a single server, which refuses three (they need a cluster)', async () => {
    await ensureStream(jsm, spec, 1);
    expect((await jsm.streams.info(spec.name)).config.num_replicas).toBe(1);
    const other = streamOf('payment', ns);
    await expect(ensureStream(jsm, other, 3)).rejects.toThrow(/replicas > 1 not supported in non-clustered mode/);
  });
});
