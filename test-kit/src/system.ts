/**
 * Starts the whole supergraph in this process: the four subgraphs and the gateway on free
 * ports, with databases and NATS subjects unique to the caller (so test files can run
 * side by side on one MongoDB-wire server and one NATS server).
 */
import mongoose from 'mongoose';
import { checkConsistency, formatViolations, type Violation } from '@courses/devkit/consistency';
import { eventually, gql, gqlOk } from '@courses/devkit/graphql-client';
import { DEV_JWT_SECRET, type Role, type RunningSubgraph } from '@courses/platform';
import { crashSubgraph } from '@courses/platform/testing';
import { startGateway, type RunningGateway } from '../../gateway/src/app.js';
import { issueToken } from '../../gateway/src/auth.js';
import { startDashboardService } from '../../subgraphs/dashboard/src/wiring.js';
import { startLectureService } from '../../subgraphs/lecture/src/wiring.js';
import { startPaymentService } from '../../subgraphs/payment/src/wiring.js';
import { startRegistrationService, type RunningRegistration } from '../../subgraphs/registration/src/wiring.js';
import { mongoUri, uniqueTag } from './env.js';
import { startOwnNatsServer, type OwnNatsServer } from './nats-server.js';

export interface SystemOptions {
  /** Extra env for payment (e.g. PAYMENT_LATENCY_MS, PAYMENT_DECLINE_STUDENTS). */
  payment?: Record<string, string>;
  /** Extra env for registration (e.g. PAYMENT_TIMEOUT_MS). */
  registration?: Record<string, string>;
  /** Extra env for the gateway (e.g. DEV_TOKENS). */
  gateway?: Record<string, string>;
  logLevel?: string;
  /**
   * NATS server for this system, made for the system's namespace (default: one of its own,
   * disposed of by stop()).
   */
  nats?: OwnNatsServer;
  /** Extra replicas of every subgraph: same databases, streams and durable consumers, own ports (default 0). */
  extraReplicas?: number;
}

export type Name = 'registration' | 'payment' | 'lecture' | 'dashboard';

export interface TestSystem {
  tag: string;
  /** The system's NATS server: one user per service with its bus permissions, plus `ops`. */
  nats: OwnNatsServer;
  gateway: RunningGateway;
  url: string;
  services: { registration: RunningRegistration; payment: RunningSubgraph; lecture: RunningSubgraph; dashboard: RunningSubgraph };
  /** The extra replicas of each subgraph (see SystemOptions.extraReplicas). */
  replicas: Record<Name, RunningSubgraph[]>;
  envOf(name: Name | 'gateway'): Record<string, string>;
  /** Stops one subgraph (graceful). */
  stopService(name: Name): Promise<void>;
  /** Kills one subgraph abruptly (see crashSubgraph in @courses/platform/testing). */
  crashService(name: Name): Promise<void>;
  /** Starts a stopped subgraph again on the same port, databases and durable consumers. */
  restartService(name: Name): Promise<void>;
  token(role: Role, sub: string): Promise<string>;
  /** Opens a lecture as `instructorToken` through the gateway; returns its id. */
  openLecture(instructorToken: string, title: string, capacity?: number, price?: number): Promise<string>;
  /** Waits until registration's catalog replica knows the lecture (it learns it from lecture.opened). */
  waitForCatalog(lectureId: string): Promise<void>;
  /**
   * Registers `studentToken` for the lecture through the gateway once the replica knows it;
   * returns the registration with `selection` (default `id status`).
   * @throws on any GraphQL error other than the replica not knowing the lecture yet.
   */
  register(lectureId: string, studentToken: string, selection?: string): Promise<any>;
  /** Runs the consistency checker on this system's databases. */
  check(): Promise<Violation[]>;
  /**
   * Waits (up to `timeoutMs`, default 20 s) until the checker finds no violation; throws with
   * the report otherwise.
   */
  assertConsistent(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Ports for subgraphs that a test may stop and restart "on the same port". An OS-chosen port
 * (PORT=0) could be handed to another test's server while ours is down, so these come from a
 * range below Linux's ephemeral ports (32768+), one block of 1000 per vitest worker, starting at
 * the run's own offset in it (TEST_PORT_OFFSET, 0-900, drawn by `npm test`), so that two test
 * runs on one machine do not race for the same ports.
 */
let nextPort =
  20_000 +
  ((Number(process.env.VITEST_POOL_ID ?? process.env.VITEST_WORKER_ID) || Math.floor(Math.random() * 10)) % 12) * 1_000 +
  (Number(process.env.TEST_PORT_OFFSET) || 0);
export async function reservedPort(): Promise<number> {
  const { createServer } = await import('node:net');
  for (;;) {
    const port = nextPort++;
    const free = await new Promise<boolean>((resolve) => {
      const s = createServer()
        .once('error', () => resolve(false))
        .listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

/** How each subgraph is started in process (its wiring's start function). */
export const starters = {
  registration: startRegistrationService,
  payment: startPaymentService,
  lecture: startLectureService,
  dashboard: startDashboardService,
} as const;

/** The environment every in-process service of a system tagged `tag` shares. */
export function commonEnv(nats: OwnNatsServer, tag: string, logLevel = 'error', graceMs = 2_000): Record<string, string> {
  return { NATS_URL: nats.url, NATS_NAMESPACE: tag, LOG_LEVEL: logLevel, HOST: '127.0.0.1', SHUTDOWN_GRACE_MS: String(graceMs) };
}

/**
 * The consistency checker on the databases of the system tagged `tag`, and an assertion that
 * waits (up to `timeoutMs`) for it to find nothing, throwing with its report otherwise.
 */
export function consistencyOf(tag: string, timeoutMs = 20_000): Pick<TestSystem, 'check' | 'assertConsistent'> {
  const check = () =>
    checkConsistency({
      registration: mongoUri(`${tag}_registration`),
      payment: mongoUri(`${tag}_payment`),
      lecture: mongoUri(`${tag}_lecture`),
      dashboard: mongoUri(`${tag}_dashboard`),
    });
  return {
    check,
    async assertConsistent(waitMs = timeoutMs) {
      let last: Violation[] = [];
      try {
        await eventually(async () => (last = await check()).length === 0, waitMs, 'consistency');
      } catch {
        throw new Error(`consistency checker found ${last.length} violation(s):\n${formatViolations(last)}`);
      }
    },
  };
}

/** The gateway's environment in front of `services`; test-only limits raised (see below). */
function gatewayEnv(
  common: Record<string, string>,
  nats: OwnNatsServer,
  services: TestSystem['services'],
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    ...common,
    ...nats.credentials('gateway'),
    PORT: '0',
    REGISTRATION_URL: services.registration.url,
    PAYMENT_URL: services.payment.url,
    LECTURE_URL: services.lecture.url,
    DASHBOARD_URL: services.dashboard.url,
    // Test clients retry at once and in bulk, all from one address; the rate limit and the socket
    // cap have their own tests (e2e/limits.test.ts).
    MUTATION_RATE_LIMIT: '1000000',
    QUERY_RATE_LIMIT: '1000000',
    WS_MAX_SOCKETS_PER_CLIENT: '10000',
    ...extra,
  };
}

/** The tests' common steps through the gateway at `url`: tokens, opening a lecture, registering. */
function stepsOf(tag: string, url: string): Pick<TestSystem, 'token' | 'openLecture' | 'waitForCatalog' | 'register'> {
  return {
    token: (role, sub) => issueToken({ role, sub }, DEV_JWT_SECRET),
    async openLecture(instructorToken, title, capacity = 10, price = 10_000) {
      const d = await gqlOk(
        url,
        `mutation($i: OpenLectureInput!) { openLecture(input: $i) { id } }`,
        { i: { title, capacity, price } },
        instructorToken,
      );
      return d.openLecture.id as string;
    },
    async waitForCatalog(lectureId) {
      const db = await mongoose.createConnection(mongoUri(`${tag}_registration`)).asPromise();
      try {
        await eventually(
          async () => (await db.collection('catalog').findOne({ _id: lectureId as never })) !== null,
          15_000,
          'lecture in the catalog replica',
        );
      } finally {
        await db.close();
      }
    },
    async register(lectureId, studentToken, selection = 'id status') {
      return eventually(
        async () => {
          const r = await gql(
            url,
            `mutation($id: ID!) { registerForLecture(lectureId: $id) { ${selection} } }`,
            { id: lectureId },
            studentToken,
          );
          if (r.errors?.[0]?.extensions?.code === 'NOT_FOUND') return undefined;
          if (r.errors) throw new Error(JSON.stringify(r.errors));
          return r.data!.registerForLecture;
        },
        15_000,
        'registered',
      );
    },
  };
}

/** Drops the databases of the system tagged `tag`, so that repeated runs do not pile up data. */
async function dropDatabases(tag: string): Promise<void> {
  for (const name of Object.keys(starters)) {
    const conn = await mongoose.createConnection(mongoUri(`${tag}_${name}`)).asPromise();
    await conn.dropDatabase().catch(() => undefined);
    await conn.close();
  }
}

/**
 * Starts the whole system in process: a nats-server of its own (unless `opts.nats`), the four
 * subgraphs (payment, lecture, dashboard, registration) on reserved ports, `opts.extraReplicas`
 * more of each, and a gateway. `stop()` stops them all and drops the system's databases.
 */
export async function startSystem(opts: SystemOptions = {}): Promise<TestSystem> {
  const tag = opts.nats?.namespace ?? uniqueTag();
  const nats = opts.nats ?? (await startOwnNatsServer({ namespace: tag }));
  const common = commonEnv(nats, tag, opts.logLevel);
  const envs: Record<string, Record<string, string>> = {};
  const services = {} as TestSystem['services'];
  const start = async (name: Name, extra: Record<string, string> = {}) => {
    envs[name] = {
      ...common,
      ...nats.credentials(name),
      PORT: envs[name]?.PORT ?? String(await reservedPort()),
      MONGODB_URI: mongoUri(`${tag}_${name}`),
      ...extra,
      ...envs[name],
    };
    const s = await starters[name](envs[name]);
    envs[name].PORT = String(s.port);
    (services as Record<string, RunningSubgraph>)[name] = s;
  };
  await start('payment', opts.payment);
  await start('lecture');
  await start('dashboard');
  await start('registration', { PAYMENT_URL: services.payment.url, ...opts.registration });
  envs.gateway = gatewayEnv(common, nats, services, opts.gateway);
  const replicas: Record<Name, RunningSubgraph[]> = { registration: [], payment: [], lecture: [], dashboard: [] };
  for (let i = 0; i < (opts.extraReplicas ?? 0); i++) {
    for (const name of ['payment', 'lecture', 'dashboard', 'registration'] as Name[]) {
      replicas[name].push(await starters[name]({ ...envs[name], PORT: '0' }));
    }
  }
  const gateway = await startGateway(envs.gateway);
  const stopped = new Set<Name>();
  return {
    tag,
    nats,
    gateway,
    url: gateway.url,
    services,
    replicas,
    envOf: (name) => envs[name],
    async stopService(name) {
      await services[name].stop();
      stopped.add(name);
    },
    async crashService(name) {
      await crashSubgraph(services[name]);
      stopped.add(name);
    },
    async restartService(name) {
      await start(name);
      stopped.delete(name);
    },
    ...stepsOf(tag, gateway.url),
    ...consistencyOf(tag),
    async stop() {
      await gateway.stop();
      for (const list of Object.values(replicas)) for (const r of list) await r.stop();
      for (const name of ['registration', 'dashboard', 'lecture', 'payment'] as Name[]) {
        if (!stopped.has(name)) await services[name].stop();
      }
      // Drop this run's NATS server (with its streams) and databases so repeated runs do not pile up data.
      if (!opts.nats) await nats.dispose();
      await dropDatabases(tag);
    },
  };
}
