/**
 * Limits that hold across gateway replicas: two gateways counting in one Redis allow a caller the
 * mutation rate limit (gateway/src/limits.ts) and a client address its connections
 * (gateway/src/subscriptions/client-caps.ts) once, not twice; and Redis going down takes no
 * gateway down: `RATE_LIMITS_WITHOUT_REDIS=open` counts in each process's memory, `closed` refuses
 * SERVICE_UNAVAILABLE. Runs a redis-server of its own (npm test finds or installs one; skipped
 * without, except under CI).
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { eventually, gql } from '@courses/devkit/graphql-client';
import { portOpen, startRedis } from '@courses/devkit/provision';
import { toolAvailable } from '@courses/test-kit/env';
import { startSystem, type TestSystem } from '@courses/test-kit/system';
import { startGateway, type RunningGateway } from '../../gateway/src/app.js';

const REDIS = toolAvailable(
  'redis-server',
  !!process.env.REDIS_SERVER_BIN && process.env.REDIS_SERVER_BIN !== 'none',
  'npm test installs Debian’s as root; or set REDIS_SERVER_BIN',
)
  ? process.env.REDIS_SERVER_BIN
  : undefined;

const MARK = 'mutation { markNotificationsRead(ids: []) }';
const codes = (r: { errors?: Array<{ extensions?: Record<string, any> }> }) => (r.errors ?? []).map((e) => e.extensions?.code);

describe.skipIf(!REDIS)('rate limits shared through Redis', () => {
  let sys: TestSystem;
  let redis: ChildProcess;
  let port: number;
  const gateways: RunningGateway[] = [];
  const gateway = async (env: Record<string, string>) => {
    const g = await startGateway({
      ...sys.envOf('gateway'),
      PORT: '0',
      REDIS_URL: `redis://127.0.0.1:${port}`,
      MUTATION_RATE_LIMIT: '4',
      MUTATION_RATE_WINDOW_SECONDS: '60',
      QUERY_RATE_LIMIT: '4',
      QUERY_RATE_WINDOW_SECONDS: '60',
      ...env,
    });
    gateways.push(g);
    return g;
  };

  beforeAll(async () => {
    sys = await startSystem();
    const started = (await startRedis())!;
    [redis, port] = [started.child, started.port];
  }, 60_000);

  afterAll(async () => {
    for (const g of gateways) await g.stop();
    redis?.kill();
    await sys?.stop();
  });

  /** Opens a graphql-ws socket: the socket, or the HTTP status its upgrade was refused with. */
  const socket = (g: RunningGateway) =>
    new Promise<WebSocket | number>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${g.port}/graphql`, 'graphql-transport-ws');
      ws.on('open', () => resolve(ws));
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => undefined);
    });
  const sse = (g: RunningGateway, lectureId: string) =>
    fetch(`${g.url}/graphql/stream`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: 'subscription($id: ID!) { lectureUpdated(lectureId: $id) { id } }', variables: { id: lectureId } }),
    });

  it('allows a client address its connections once across two gateways, on every transport, and again as they close', async () => {
    const lecture = await sys.openLecture(await sys.token('INSTRUCTOR', 'i-shared-limits'), 'Shared caps');
    const caps = { WS_MAX_SOCKETS_PER_CLIENT: '3' };
    const [a, b] = [await gateway(caps), await gateway(caps)];
    const first = await socket(a);
    const second = await socket(b);
    expect([first, second].map((s) => (typeof s === 'number' ? s : 101))).toEqual([101, 101]);
    const stream = await sse(a, lecture);
    expect(stream.status).toBe(200);
    // Three held across the two gateways: the fourth is refused on either, on either transport.
    expect(await socket(a)).toBe(429);
    expect(await socket(b)).toBe(429);
    const refused = await sse(b, lecture);
    expect(refused.status).toBe(429);
    expect(codes((await refused.json()) as never)).toEqual(['TOO_MANY_CONNECTIONS']);
    // One closes on a: b admits one more (and then none).
    (first as WebSocket).close();
    await eventually(
      async () => {
        const s = await socket(b);
        if (typeof s === 'number') return false;
        s.close();
        return true;
      },
      10_000,
      'a connection freed on one gateway admits one on the other',
    );
    await stream.body?.cancel();
    (second as WebSocket).close();
  }, 60_000);

  it('takes queries from the shared limit a block at a time, and never allows a caller more than the limit', async () => {
    // 120 per window: each gateway takes blocks of 2 (a 60th), so a caller gets 119 or 120 across two.
    const lease = { QUERY_RATE_LIMIT: '120', QUERY_RATE_WINDOW_SECONDS: '60' };
    const [a, b] = [await gateway(lease), await gateway(lease)];
    const reader = await sys.token('STUDENT', 's-leased-reads');
    let ok = 0;
    const refused = new Set<string>();
    for (let i = 0; i < 130; i++) {
      const r = await gql(i % 3 ? a.url : b.url, '{ lectures(first: 1) { totalCount } }', {}, reader);
      if (r.errors) refused.add(String(codes(r)[0]));
      else ok++;
    }
    expect(ok).toBeGreaterThanOrEqual(119);
    expect(ok).toBeLessThanOrEqual(120);
    expect([...refused]).toEqual(['RATE_LIMITED']);
  }, 60_000);

  it('allows a caller the mutation limit once across two gateways, and keeps every gateway serving when Redis goes, open or closed as configured', async () => {
    const [a, b] = [await gateway({}), await gateway({})];
    const closed = await gateway({ RATE_LIMITS_WITHOUT_REDIS: 'closed' });
    const student = await sys.token('STUDENT', 's-shared-limits');
    const answers: string[] = [];
    for (const g of [a, a, a, b, b, b]) answers.push(codes(await gql(g.url, MARK, {}, student))[0] ?? 'OK');
    // Four in the window across both, then refused on either.
    expect(answers).toEqual(['OK', 'OK', 'OK', 'OK', 'RATE_LIMITED', 'RATE_LIMITED']);
    const refused = await gql(b.url, MARK, {}, student);
    expect(refused.status).toBe(429);
    // Queries alike, counted apart from mutations.
    const reads: string[] = [];
    for (const g of [a, b, a, b, b]) reads.push(codes(await gql(g.url, '{ lectures(first: 1) { totalCount } }', {}, student))[0] ?? 'OK');
    expect(reads).toEqual(['OK', 'OK', 'OK', 'OK', 'RATE_LIMITED']);

    redis.kill('SIGKILL');
    await eventually(async () => !(await portOpen(port)), 10_000, 'redis gone');
    // open: each process counts alone meanwhile (a fresh caller gets 4 per process).
    const other = await sys.token('STUDENT', 's-shared-limits-2');
    const meanwhile: string[] = [];
    for (let i = 0; i < 5; i++) meanwhile.push(codes(await gql(a.url, MARK, {}, other))[0] ?? 'OK');
    expect(meanwhile).toEqual(['OK', 'OK', 'OK', 'OK', 'RATE_LIMITED']);
    // closed: refused, and said so, with a retry hint; queries still answer, and the gateway stays ready.
    const c = await gql(closed.url, MARK, {}, other);
    expect(c.status).toBe(503);
    expect(codes(c)).toEqual(['SERVICE_UNAVAILABLE']);
    expect(c.errors?.[0]?.extensions?.retryAfterSeconds).toBe(1);
    // Queries are rate-limited too: refused alike on the closed gateway, served on the open one.
    const query = '{ lectures(first: 1) { totalCount } }';
    expect(codes(await gql(closed.url, query, {}, other))).toEqual(['SERVICE_UNAVAILABLE']);
    expect((await gql(a.url, query, {}, other)).errors).toBeUndefined();
    for (const g of [a, b, closed]) expect((await fetch(`${g.url}/health/ready`)).status).toBe(200);
    // Connection caps alike: open, each process counts its own; closed, refused 503.
    const ws = await socket(a);
    expect(typeof ws).not.toBe('number');
    (ws as WebSocket).close();
    expect(await socket(closed)).toBe(503);
  }, 60_000);
});
