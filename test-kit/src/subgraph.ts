/**
 * Harness for integration tests of one subgraph: starts it on a free port with its own
 * database and bus namespace, calls it as the gateway would (secret + identity headers),
 * and publishes events to its streams as the other contexts would. The bus is a nats-server of
 * its own (one user per service, as in production), or with `{ bus: 'memory' }` the in-memory
 * twin (platform's InMemoryBus, held to the same contract), with no NATS server at all.
 */
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import mongoose from 'mongoose';
import {
  contextOf,
  CONTEXTS,
  createEvent,
  streamOf,
  type Context,
  type EventEnvelope,
  type EventPayload,
  type EventType,
} from '@courses/contracts';
import { eventually } from '@courses/devkit/graphql-client';
import {
  createLogger,
  DEV_GATEWAY_SECRET,
  ensureStream,
  InMemoryBus,
  NatsBus,
  publishEvent,
  subgraphSecret,
  type Bus,
  type Identity,
  type RunningSubgraph,
} from '@courses/platform';
import { mongoUri, uniqueTag } from './env.js';
import { startOwnNatsServer, type OwnNatsServer } from './nats-server.js';

export interface SubgraphHarness<S extends RunningSubgraph> {
  service: S;
  tag: string;
  env: Record<string, string>;
  /** POSTs GraphQL to the subgraph with the gateway secret and, when given, an identity. */
  call(query: string, variables?: Record<string, unknown>, identity?: Identity): Promise<{ status: number; data?: any; errors?: any[] }>;
  /** Publishes a valid event (as its context would: on NATS with that service's user) and returns it. */
  publish<T extends EventType>(type: T, payload: EventPayload<T>): Promise<EventEnvelope<T>>;
  /** Publishes an already built envelope again (a duplicate). */
  republish(event: EventEnvelope): Promise<void>;
  /** The bus the subgraph runs on, as an unrestricted party sees it (NATS: the `ops` user): e.g. to listen to what it publishes. */
  bus: Bus;
  /** The harness's NATS server (one user per service, as in production); absent on the memory bus. */
  nats?: OwnNatsServer;
  /**
   * Waits until durable consumer `durable` on `context`'s stream has nothing left to deliver and
   * nothing delivered but unacked: every event published so far has been handled.
   */
  drained(context: Context, durable: string, timeoutMs?: number): Promise<void>;
  /** A raw connection to the subgraph's database. */
  db(): Promise<mongoose.Connection>;
  stop(): Promise<void>;
}

/** Which bus a harness runs its subgraph on: a nats-server of its own, or the in-memory twin. */
export type HarnessBus = 'nats' | 'memory';

/**
 * Starts subgraph `name` with `start` (its wiring's start function) on a fresh database and bus.
 * @throws what `start` throws (e.g. a ConfigError for a bad `extraEnv`).
 */
export async function startSubgraphHarness<S extends RunningSubgraph>(
  name: string,
  start: (env: Record<string, string>, opts: { bus?: Bus }) => Promise<S>,
  extraEnv: Record<string, string> = {},
  opts: { bus?: HarnessBus } = {},
): Promise<SubgraphHarness<S>> {
  const tag = uniqueTag(name.slice(0, 3));
  if (opts.bus === 'memory') return memoryHarness(name, start, extraEnv, tag);
  const nats = await startOwnNatsServer({ namespace: tag });
  const env = {
    ...baseEnv(name, tag),
    NATS_URL: nats.url,
    ...nats.credentials(name as never),
    ...extraEnv,
  };
  const nc = await nats.connect('ops');
  const jsm = await jetstreamManager(nc);
  for (const c of CONTEXTS) await ensureStream(jsm, streamOf(c, tag));
  // One connection per publishing context, as that context's service.
  const publishers = new Map<Context, Promise<{ close(): Promise<void>; js: JetStreamClient }>>();
  const publisherOf = (context: Context) => {
    if (!publishers.has(context))
      publishers.set(
        context,
        nats.connect(context).then((c) => ({ close: () => c.close(), js: jetstream(c) })),
      );
    return publishers.get(context)!;
  };
  const bus = new NatsBus(nc, tag, createLogger('harness', 'silent'));
  const service = await start(env, {});
  return harness(name, service, tag, env, bus, {
    nats,
    publish: async (event) => publishEvent((await publisherOf(contextOf(event.type))).js, event, tag),
    async close() {
      for (const p of publishers.values()) await (await p).close();
      await nc.close();
      await nats.dispose();
    },
  });
}

/** The harness on the in-memory bus: the subgraph and the harness share one InMemoryBus. */
async function memoryHarness<S extends RunningSubgraph>(
  name: string,
  start: (env: Record<string, string>, opts: { bus?: Bus }) => Promise<S>,
  extraEnv: Record<string, string>,
  tag: string,
): Promise<SubgraphHarness<S>> {
  const bus = new InMemoryBus(tag);
  for (const c of CONTEXTS) await bus.ensureStream(streamOf(c, tag));
  const env = { ...baseEnv(name, tag), NATS_URL: 'nats://unused.invalid:4222', ...extraEnv };
  const service = await start(env, { bus });
  return harness(name, service, tag, env, bus, { publish: (event) => bus.publish(event), close: () => bus.close() });
}

/** The environment every harness gives its subgraph (before the bus's and the test's own). */
function baseEnv(name: string, tag: string): Record<string, string> {
  return {
    PORT: '0',
    HOST: '127.0.0.1',
    NATS_NAMESPACE: tag,
    MONGODB_URI: mongoUri(`${tag}_${name}`),
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error',
    SHUTDOWN_GRACE_MS: '1000',
  };
}

/** The harness's face over a started `service`; `transport` publishes as the other contexts and closes the bus's side. */
function harness<S extends RunningSubgraph>(
  name: string,
  service: S,
  tag: string,
  env: Record<string, string>,
  bus: Bus,
  transport: { nats?: OwnNatsServer; publish(event: EventEnvelope): Promise<void>; close(): Promise<void> },
): SubgraphHarness<S> {
  let conn: mongoose.Connection | undefined;
  return {
    service,
    tag,
    env,
    bus,
    nats: transport.nats,
    async call(query, variables = {}, identity) {
      const res = await fetch(`${service.url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-gateway-secret': subgraphSecret(DEV_GATEWAY_SECRET, name),
          ...(identity ? { 'x-user-id': identity.sub, 'x-user-role': identity.role } : {}),
        },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await res.json()) as { data?: any; errors?: any[] };
      return { status: res.status, ...body };
    },
    async publish(type, payload) {
      const event = createEvent(type, payload);
      await transport.publish(event);
      return event;
    },
    republish: (event) => transport.publish(event),
    async drained(context, durable, timeoutMs = 10_000) {
      await eventually(
        async () => {
          const lag = await bus.lag(streamOf(context, tag).name, durable).catch(() => undefined);
          return !!lag && lag.pending === 0 && lag.unacked === 0;
        },
        timeoutMs,
        `${durable}: nothing pending or unacked`,
      );
    },
    async db() {
      conn ??= await mongoose.createConnection(env.MONGODB_URI).asPromise();
      return conn;
    },
    async stop() {
      await service.stop();
      if (conn) {
        await conn.dropDatabase().catch(() => undefined);
        await conn.close();
      }
      await transport.close();
    },
  };
}
