/**
 * Harness for integration tests of one subgraph: starts it on a free port with its own
 * database and NATS namespace, calls it as the gateway would (secret + identity headers),
 * and publishes events to its streams as the other contexts would.
 */
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
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
import { DEV_GATEWAY_SECRET, ensureStream, publishEvent, subgraphSecret, type Identity, type RunningSubgraph } from '@courses/platform';
import { eventually } from '../../scripts/lib/graphql-client.js';
import { mongoUri, uniqueTag } from './env.js';
import { startOwnNatsServer, type OwnNatsServer } from './nats-server.js';

export interface SubgraphHarness<S extends RunningSubgraph> {
  service: S;
  tag: string;
  env: Record<string, string>;
  /** POSTs GraphQL to the subgraph with the gateway secret and, when given, an identity. */
  call(query: string, variables?: Record<string, unknown>, identity?: Identity): Promise<{ status: number; data?: any; errors?: any[] }>;
  /** Publishes a valid event (as its context would: with that service's NATS user) and returns it. */
  publish<T extends EventType>(type: T, payload: EventPayload<T>): Promise<EventEnvelope<T>>;
  /** Publishes an already built envelope again (a duplicate). */
  republish(event: EventEnvelope): Promise<void>;
  /** An unrestricted (`ops`) connection to the harness's NATS server. */
  nc: NatsConnection;
  /** The harness's NATS server (one user per service, as in production). */
  nats: OwnNatsServer;
  /**
   * Waits until durable consumer `durable` on `context`'s stream has nothing left to deliver and
   * nothing delivered but unacked: every event published so far has been handled.
   */
  drained(context: Context, durable: string, timeoutMs?: number): Promise<void>;
  /** A raw connection to the subgraph's database. */
  db(): Promise<mongoose.Connection>;
  stop(): Promise<void>;
}

export async function startSubgraphHarness<S extends RunningSubgraph>(
  name: string,
  start: (env: Record<string, string>) => Promise<S>,
  extraEnv: Record<string, string> = {},
): Promise<SubgraphHarness<S>> {
  const tag = uniqueTag(name.slice(0, 3));
  const nats = await startOwnNatsServer({ namespace: tag });
  const env = {
    PORT: '0',
    HOST: '127.0.0.1',
    NATS_URL: nats.url,
    ...nats.credentials(name as never),
    NATS_NAMESPACE: tag,
    MONGODB_URI: mongoUri(`${tag}_${name}`),
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error',
    SHUTDOWN_GRACE_MS: '1000',
    ...extraEnv,
  };
  const nc = await nats.connect('ops');
  const jsm = await jetstreamManager(nc);
  for (const c of CONTEXTS) await ensureStream(jsm, streamOf(c, tag));
  // One connection per publishing context, as that context's service.
  const publishers = new Map<Context, Promise<{ nc: NatsConnection; js: JetStreamClient }>>();
  const publisherOf = (context: Context) => {
    if (!publishers.has(context))
      publishers.set(
        context,
        nats.connect(context).then((c) => ({ nc: c, js: jetstream(c) })),
      );
    return publishers.get(context)!;
  };
  const service = await start(env);
  let conn: mongoose.Connection | undefined;
  return {
    service,
    tag,
    env,
    nc,
    nats,
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
      await publishEvent((await publisherOf(contextOf(type))).js, event, tag);
      return event;
    },
    republish: async (event) => publishEvent((await publisherOf(contextOf(event.type))).js, event, tag),
    async drained(context, durable, timeoutMs = 10_000) {
      await eventually(
        async () => {
          const info = await jsm.consumers.info(streamOf(context, tag).name, durable).catch(() => undefined);
          return !!info && info.num_pending === 0 && info.num_ack_pending === 0;
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
      for (const p of publishers.values()) await (await p).nc.close();
      await nc.close();
      await nats.dispose();
    },
  };
}
