/**
 * Harness for integration tests of one subgraph: starts it on a free port with its own
 * database and NATS namespace, calls it as the gateway would (secret + identity headers),
 * and publishes events to its streams as the other contexts would.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import mongoose from 'mongoose';
import { createEvent, streamOf, CONTEXTS, type EventPayload, type EventType, type EventEnvelope } from '@courses/contracts';
import { DEV_GATEWAY_SECRET, deadLetterStream, ensureStream, publishEvent, type Identity, type RunningSubgraph } from '@courses/platform';
import { mongoUri, natsUrl, uniqueTag } from './env.js';

export interface SubgraphHarness<S extends RunningSubgraph> {
  service: S;
  tag: string;
  env: Record<string, string>;
  /** POSTs GraphQL to the subgraph with the gateway secret and, when given, an identity. */
  call(query: string, variables?: Record<string, unknown>, identity?: Identity): Promise<{ status: number; data?: any; errors?: any[] }>;
  /** Publishes a valid event (as its context would) and returns it. */
  publish<T extends EventType>(type: T, payload: EventPayload<T>): Promise<EventEnvelope<T>>;
  /** Publishes an already built envelope again (a duplicate). */
  republish(event: EventEnvelope): Promise<void>;
  nc: NatsConnection;
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
  const env = { PORT: '0', HOST: '127.0.0.1', NATS_URL: natsUrl(), NATS_NAMESPACE: tag, MONGODB_URI: mongoUri(`${tag}_${name}`), LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error', SHUTDOWN_GRACE_MS: '1000', ...extraEnv };
  const nc = await connect({ servers: natsUrl() });
  const jsm = await jetstreamManager(nc);
  for (const c of CONTEXTS) await ensureStream(jsm, streamOf(c, tag));
  const js = jetstream(nc);
  const service = await start(env);
  let conn: mongoose.Connection | undefined;
  return {
    service,
    tag,
    env,
    nc,
    async call(query, variables = {}, identity) {
      const res = await fetch(`${service.url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-gateway-secret': DEV_GATEWAY_SECRET,
          ...(identity ? { 'x-user-id': identity.sub, 'x-user-role': identity.role } : {}),
        },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await res.json()) as { data?: any; errors?: any[] };
      return { status: res.status, ...body };
    },
    async publish(type, payload) {
      const event = createEvent(type, payload);
      await publishEvent(js, event, tag);
      return event;
    },
    republish: (event) => publishEvent(js, event, tag),
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
      for (const s of [...CONTEXTS.map((c) => streamOf(c, tag)), deadLetterStream(tag)]) await jsm.streams.delete(s.name).catch(() => undefined);
      await nc.drain();
    },
  };
}
