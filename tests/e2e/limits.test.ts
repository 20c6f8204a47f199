/**
 * Bounded operations at the gateway: each abusive request gets a clear error code, and the
 * system keeps serving and stays consistent afterwards.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { collect, eventually, gql, gqlOk, subscribeOver, wsClient } from '@courses/devkit/graphql-client';
import { DEV_GATEWAY_SECRET, HEADERS, subgraphSecret } from '@courses/platform';
import { mongoUri } from '@courses/test-kit/env';
import { startSystem, type TestSystem } from '@courses/test-kit/system';
import { startGateway, type RunningGateway } from '../../gateway/src/app.js';
import { ROUTES } from '../../gateway/src/subscriptions/routes.js';

let sys: TestSystem;
let instructor: string;
const extra: RunningGateway[] = [];

beforeAll(async () => {
  sys = await startSystem({ gateway: { MUTATION_RATE_LIMIT: '5', MUTATION_RATE_WINDOW_SECONDS: '60' } });
  instructor = await sys.token('INSTRUCTOR', 'i-limits');
}, 60_000);

afterAll(async () => {
  for (const g of extra) await g.stop();
  await sys?.stop();
});

const codes = (r: { errors?: Array<{ extensions?: { code?: string } }> }) => (r.errors ?? []).map((e) => e.extensions?.code);

/** A gateway of this system without the file's low mutation rate limit, for cases made of many mutations. */
async function unlimitedGateway(): Promise<RunningGateway> {
  const g = await startGateway({ ...sys.envOf('gateway'), PORT: '0', MUTATION_RATE_LIMIT: '1000000' });
  extra.push(g);
  return g;
}

describe('bounded operations', () => {
  it('refuses the cyclic instructor query past the depth limit', async () => {
    const lecture = await sys.openLecture(instructor, 'Depth');
    let sel = 'id';
    for (let i = 0; i < 6; i++) sel = `registrations { edges { node { lecture { ${sel} } } } }`;
    const r = await gql(sys.url, `query($id: ID!) { lecture(id: $id) { ${sel} } }`, { id: lecture }, instructor);
    expect(codes(r)).toContain('GRAPHQL_VALIDATION_FAILED');
    expect(JSON.stringify(r.errors)).toMatch(/depth/i);
    expect(r.data).toBeUndefined();
  });

  it('refuses an alias bomb while parsing, before any subgraph is asked', async () => {
    const aliases = Array.from({ length: 20_000 }, (_, i) => `a${i}: lectures(first: 100) { totalCount }`).join(' ');
    const r = await gql(sys.url, `{ ${aliases} }`);
    expect(r.status).toBe(400);
    expect(codes(r)).toContain('GRAPHQL_PARSE_FAILED');
    expect(JSON.stringify(r.errors)).toMatch(/tokens/i);
  });

  it('refuses more aliases than allowed, and a query over the cost limit', async () => {
    const aliases = Array.from({ length: 16 }, (_, i) => `a${i}: lectures(first: 1) { totalCount }`).join(' ');
    const many = await gql(sys.url, `{ ${aliases} }`);
    expect(codes(many)).toContain('GRAPHQL_VALIDATION_FAILED');
    expect(JSON.stringify(many.errors)).toMatch(/alias/i);
    const fields = 'id title price capacity enrolledCount status instructorId';
    const costly = Array.from(
      { length: 15 },
      (_, i) =>
        `c${i}: lectures(first: 100) { edges { node { ${fields} registrations(first: 100) { edges { node { id status lecture { ${fields} } } } } } } }`,
    ).join(' ');
    const r = await gql(sys.url, `{ ${costly} }`, {}, instructor);
    expect(codes(r)).toContain('GRAPHQL_VALIDATION_FAILED');
    expect(JSON.stringify(r.errors)).toMatch(/cost/i);
    // The same with the page sizes in variables (which Armor's rule counts as 1): refused alike,
    // before anything runs; the same document with small pages is served.
    const byVariables = `query($n: Int, $m: Int) { ${costly.replace(/first: 100/g, (_m, i: number) => (i % 2 ? 'first: $m' : 'first: $n'))} }`;
    expect(byVariables).toContain('first: $n');
    const big = await gql(sys.url, byVariables, { n: 100, m: 100 }, instructor);
    expect(big.status).toBe(400);
    expect(codes(big)).toContain('GRAPHQL_VALIDATION_FAILED');
    expect(JSON.stringify(big.errors)).toMatch(/cost/i);
    const small = await gql(sys.url, byVariables, { n: 1, m: 1 }, instructor);
    expect(small.errors).toBeUndefined();
    // A subscription's page sizes in variables are held to the same limit, on every transport.
    const lectureId = await sys.openLecture(instructor, 'Costly Subscriptions');
    const pages = Array.from(
      { length: 10 },
      (_, i) => `p${i}: registrations(first: $n) { totalCount edges { node { id status studentId } } }`,
    ).join(' ');
    const nested = `subscription($id: ID!, $n: Int) { lectureUpdated(lectureId: $id, current: true) { id ${pages} } }`;
    for (const transport of ['ws', 'sse'] as const) {
      const refused = subscribeOver(transport, sys.url, nested, { token: instructor, variables: { id: lectureId, n: 100 } });
      const [answer] = await refused.waitFor(1, 10_000);
      refused.stop();
      expect(answer.errors?.[0]?.extensions?.code, `${transport}: ${JSON.stringify(answer)}`).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(answer.errors?.[0]?.message, transport).toMatch(/cost/i);
    }
    const served = subscribeOver('sse', sys.url, nested, { token: instructor, variables: { id: lectureId, n: 1 } });
    const [current] = await served.waitFor(1, 10_000);
    served.stop();
    expect(current.errors).toBeUndefined();
    expect(current.data?.lectureUpdated?.id).toBe(lectureId);
  });

  it('refuses a JSON batch', async () => {
    const res = await fetch(`${sys.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ query: '{ __typename }' }, { query: '{ __typename }' }]),
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/batch/i);
  });

  it('answers RATE_LIMITED with retryAfterSeconds (HTTP 429) past the mutation rate limit, per caller', async () => {
    const mutate = (token: string) =>
      gql(
        sys.url,
        'mutation($i: OpenLectureInput!) { openLecture(input: $i) { id } }',
        { i: { title: 'Rate', capacity: 5, price: 1_000 } },
        token,
      );
    const busy = await sys.token('INSTRUCTOR', 'i-busy');
    const answers = [];
    for (let i = 0; i < 7; i++) answers.push(await mutate(busy));
    expect(answers.slice(0, 5).every((a) => a.data?.openLecture?.id)).toBe(true);
    const limited = answers[6];
    expect(limited.status).toBe(429);
    expect(codes(limited)).toEqual(['RATE_LIMITED']);
    expect((limited.errors![0].extensions as { retryAfterSeconds: number }).retryAfterSeconds).toBeGreaterThan(0);
    // Another caller is not held back, and queries are not counted.
    expect((await mutate(await sys.token('INSTRUCTOR', 'i-calm'))).data?.openLecture?.id).toBeTruthy();
    expect((await gql(sys.url, '{ lectures(first: 1) { totalCount } }', {}, busy)).data).toBeTruthy();
  });

  it('answers RATE_LIMITED past the query rate limit, on HTTP and over graphql-ws alike; the queries an event runs for a subscriber count against nobody', async () => {
    const g = await startGateway({ ...sys.envOf('gateway'), PORT: '0', QUERY_RATE_LIMIT: '4', QUERY_RATE_WINDOW_SECONDS: '60' });
    extra.push(g);
    // An instructor of its own: this file's gateway allows each caller 5 mutations.
    const lecture = await sys.openLecture(await sys.token('INSTRUCTOR', 'i-query-rate'), 'Query rate');
    const reader = await sys.token('STUDENT', 's-reader');
    const QUERY = '{ lectures(first: 1) { totalCount } }';
    // A subscription first: its event queries run as the reader, and must not count.
    const client = wsClient(g.url, reader);
    const live = collect(client, 'subscription($id: ID!) { lectureUpdated(lectureId: $id) { id enrolledCount } }', { id: lecture });
    await eventually(async () => g.hub.listeners > 0, 10_000, 'the subscription listening');
    const overWs = () =>
      new Promise<{ errors?: Array<{ extensions?: { code?: string } }> }>((resolve) => {
        let answer: { errors?: Array<{ extensions?: { code?: string } }> } = {};
        client.subscribe(
          { query: QUERY },
          { next: (r) => (answer = r as never), error: (e) => resolve({ errors: e as never }), complete: () => resolve(answer) },
        );
      });
    const answers: Array<string | undefined> = [];
    for (let i = 0; i < 3; i++) answers.push(codes(await gql(g.url, QUERY, {}, reader))[0]);
    answers.push(codes(await overWs())[0]);
    expect(answers).toEqual([undefined, undefined, undefined, undefined]);
    const limited = await gql(g.url, QUERY, {}, reader);
    expect(limited.status).toBe(429);
    expect(codes(limited)).toEqual(['RATE_LIMITED']);
    expect(limited.errors?.[0]?.message).toMatch(/too many queries: at most 4 per 60 s/);
    expect(codes(await overWs())).toEqual(['RATE_LIMITED']);
    // Another caller is not held back; the reader's subscription still gets its events.
    expect(codes(await gql(g.url, QUERY, {}, await sys.token('STUDENT', 's-other-reader')))).toEqual([]);
    await sys.register(lecture, await sys.token('STUDENT', 's-rate-register'));
    await live.waitFor(1);
    expect(live.results.at(-1)?.data?.lectureUpdated?.enrolledCount).toBe(1);
    live.stop();
    await client.dispose();
  });

  it('hides field suggestions in production, and shows them in development', async () => {
    const dev = await gql(sys.url, '{ lecturez(first: 1) { totalCount } }');
    expect(JSON.stringify(dev.errors)).toMatch(/Did you mean/);
    const prod = await startGateway({
      ...sys.envOf('gateway'),
      PORT: '0',
      NODE_ENV: 'production',
      AUTH_MODE: 'shared-secret',
      GATEWAY_SECRET: 'g'.repeat(64),
      JWT_SECRET: 'j'.repeat(64),
    });
    extra.push(prod);
    const r = await gql(prod.url, '{ lecturez(first: 1) { totalCount } }');
    expect(codes(r)).toContain('GRAPHQL_VALIDATION_FAILED');
    expect(JSON.stringify(r.errors)).not.toMatch(/Did you mean/);
  });

  it('serves its HTML pages with headers that keep them out of frames and sniffing', async () => {
    for (const path of ['/app', '/graphql']) {
      const res = await fetch(`${sys.url}${path}`, { headers: { accept: 'text/html' } });
      expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      await res.text();
    }
  });

  it('keeps /metrics off the public gateway in production, or behind METRICS_TOKEN', async () => {
    expect((await fetch(`${sys.url}/metrics`)).status).toBe(200);
    const secrets = { NODE_ENV: 'production', AUTH_MODE: 'shared-secret', GATEWAY_SECRET: 'g'.repeat(64), JWT_SECRET: 'j'.repeat(64) };
    const off = await startGateway({ ...sys.envOf('gateway'), PORT: '0', ...secrets });
    extra.push(off);
    expect((await fetch(`${off.url}/metrics`)).status).toBe(404);
    const token = 'm'.repeat(32);
    const guarded = await startGateway({ ...sys.envOf('gateway'), PORT: '0', ...secrets, METRICS_TOKEN: token });
    extra.push(guarded);
    expect((await fetch(`${guarded.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${guarded.url}/metrics`, { headers: { authorization: `Bearer ${'x'.repeat(32)}` } })).status).toBe(401);
    const ok = await fetch(`${guarded.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('http_requests_total');
  });

  it('labels its metrics by the routes it serves: requests for made-up paths do not grow them', async () => {
    for (let i = 0; i < 30; i++) await fetch(`${sys.url}/made-up-${i}-${Math.random().toString(36).slice(2)}`);
    const text = await (await fetch(`${sys.url}/metrics`)).text();
    expect(text).not.toMatch(/route="\/made-up/);
    expect(text).toMatch(/http_requests_total\{[^}]*route="other"[^}]*status="404"/);
    expect(text).toMatch(/route="\/graphql"/);
  });

  it('answers SERVICE_UNAVAILABLE when a subgraph does not answer within SUBGRAPH_TIMEOUT_MS, and keeps serving the rest', async () => {
    // A lecture subgraph that takes connections and never answers.
    const stalled = http.createServer(() => undefined);
    await new Promise<void>((resolve) => stalled.listen(0, '127.0.0.1', resolve));
    const port = (stalled.address() as AddressInfo).port;
    const g = await startGateway({
      ...sys.envOf('gateway'),
      PORT: '0',
      LECTURE_URL: `http://127.0.0.1:${port}`,
      // Short, within a timing budget that allows it: no admission queue and 100 ms charges.
      SUBGRAPH_TIMEOUT_MS: '1200',
      REGISTRATION_QUEUE_MS: '0',
      PAYMENT_PROVIDER_BOUND_MS: '50',
      PAYMENT_TIMEOUT_MS: '100',
    });
    extra.push(g);
    try {
      const r = await gql(g.url, '{ lectures(first: 1) { totalCount } }');
      expect(codes(r)).toEqual(['SERVICE_UNAVAILABLE']);
      expect(JSON.stringify(r.errors)).not.toContain(String(port)); // no internal address
      // What does not need the lecture subgraph still answers.
      const student = await sys.token('STUDENT', 's-stalled');
      expect((await gql(g.url, '{ myRegistrations { id } }', {}, student)).errors).toBeUndefined();
    } finally {
      stalled.closeAllConnections();
      stalled.close();
    }
  });

  it('keeps serving, and consistent, afterwards', async () => {
    const r = await gql(sys.url, '{ lectures(first: 1) { totalCount } }');
    expect(r.errors).toBeUndefined();
    await sys.assertConsistent();
  });
});

describe('requests that are not what they seem', () => {
  const post = (body: string, headers: Record<string, string>) => fetch(`${sys.url}/graphql`, { method: 'POST', headers, body });

  it('refuses a text/plain POST and a GET without a preflight header (CSRF), and a mutation over GET', async () => {
    const plain = await post(JSON.stringify({ query: '{ __typename }' }), { 'content-type': 'text/plain' });
    expect(plain.status).toBe(400);
    expect(await plain.text()).toMatch(/CSRF|preflight/i);
    const get = await fetch(`${sys.url}/graphql?query=${encodeURIComponent('{ __typename }')}`);
    expect(get.status).toBe(400);
    const mutation = await fetch(`${sys.url}/graphql?query=${encodeURIComponent('mutation { cancelLecture(id: "x") { id } }')}`, {
      headers: { 'apollo-require-preflight': 'true' },
    });
    expect(mutation.status).toBe(405);
  });

  it('refuses a body over 1 MB with 413', async () => {
    const big = await post(JSON.stringify({ query: `{ __typename }`, variables: { pad: 'x'.repeat(1_100_000) } }), {
      'content-type': 'application/json',
    });
    expect(big.status).toBe(413);
  });

  it('ignores identity headers a client forges, and a subgraph refuses a call without the gateway secret', async () => {
    const forged = await gql(sys.url, '{ myRegistrations { id } }', {}, undefined);
    expect(codes(forged)).toContain('UNAUTHENTICATED');
    const withHeaders = await fetch(`${sys.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-user-id': 'admin', 'x-user-role': 'ADMIN', 'x-gateway-secret': 'guess' },
      body: JSON.stringify({ query: '{ myRegistrations { id } }' }),
    });
    expect(JSON.stringify(await withHeaders.json())).toContain('UNAUTHENTICATED');
    const direct = await fetch(`${sys.services.registration.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-user-id': 'admin', 'x-user-role': 'ADMIN' },
      body: JSON.stringify({ query: '{ myRegistrations { id } }' }),
    });
    expect(direct.status).toBe(401);
  });
});

describe("another student's ids, and a token from elsewhere", () => {
  it("answers another student's registration as if it did not exist, on every operation", async () => {
    const lecture = await sys.openLecture(instructor, 'Privacy');
    await sys.waitForCatalog(lecture);
    const owner = await sys.token('STUDENT', 's-owner');
    const other = await sys.token('STUDENT', 's-nosy');
    const reg = await sys.register(lecture, owner);
    const unknown = 'f'.repeat(24);
    for (const id of [reg.id, unknown]) {
      const read = await gql(sys.url, 'query($id: ID!) { registration(id: $id) { id studentId } }', { id }, other);
      expect(read.errors).toBeUndefined();
      expect(read.data?.registration).toBeNull();
      const cancel = await gql(sys.url, 'mutation($id: ID!) { cancelRegistration(id: $id) { id } }', { id }, other);
      expect(codes(cancel)).toEqual(['NOT_FOUND']);
    }
    expect((await gql(sys.url, '{ myRegistrations { id } }', {}, other)).data?.myRegistrations).toEqual([]);
    expect((await gql(sys.url, '{ myDashboard { registrationId } }', {}, other)).data?.myDashboard).toEqual([]);
    // A subscription to the owner's registration delivers nothing to the other student. The owner
    // watches too: once the owner has the event, the gateway has offered it to every subscriber
    // (the other's is refused as it arrives, before any query runs).
    const SUB = 'subscription($id: ID) { registrationStatusChanged(registrationId: $id) { id status } }';
    const before = sys.gateway.hub.listeners;
    const c = wsClient(sys.url, other);
    const seen: unknown[] = [];
    c.subscribe(
      { query: SUB, variables: { id: reg.id } },
      { next: (v) => seen.push(v), error: (e) => seen.push(e), complete: () => undefined },
    );
    const ownerClient = wsClient(sys.url, owner);
    const ownerFeed = collect(ownerClient, SUB, { id: reg.id });
    await eventually(
      async () => sys.gateway.hub.listeners === before + 2 * ROUTES.registrationStatusChanged.contexts.length,
      10_000,
      'both subscriptions listening',
    );
    expect(
      (await gql(sys.url, 'mutation($id: ID!) { cancelRegistration(id: $id) { status } }', { id: reg.id }, owner)).data?.cancelRegistration
        .status,
    ).toBe('CANCELED');
    await ownerFeed.waitFor(1);
    expect(JSON.stringify(ownerFeed.results)).toContain(reg.id);
    expect(JSON.stringify(seen)).not.toContain(reg.id);
    await Promise.all([c.dispose(), ownerClient.dispose()]);
  });

  it("resolves no lecture from an _entities representation whose id is no id, even for a caller holding the gateway's secret", async () => {
    const admin = {
      [HEADERS.secret]: subgraphSecret(DEV_GATEWAY_SECRET, 'registration'),
      [HEADERS.userId]: 'a-entities',
      [HEADERS.role]: 'ADMIN',
    };
    const query = 'query($r: [_Any!]!) { _entities(representations: $r) { ... on Lecture { id registrations { totalCount } } } }';
    for (const id of [{ $ne: null }, { $gt: '' }, ['x']]) {
      const res = await fetch(`${sys.services.registration.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...admin },
        body: JSON.stringify({ query, variables: { r: [{ __typename: 'Lecture', id }] } }),
      });
      const body = (await res.json()) as { data?: { _entities: unknown[] }; errors?: unknown[] };
      expect(body.data?._entities, JSON.stringify(id)).toEqual([null]);
    }
  });

  it('treats injection-shaped ids as what they are: an object is no ID (BAD_USER_INPUT), an operator-looking string matches nothing', async () => {
    const g = await unlimitedGateway();
    const student = await sys.token('STUDENT', 's-inject');
    const instructor = await sys.token('INSTRUCTOR', 'i-inject');
    const lecture = (
      await gqlOk(g.url, 'mutation { openLecture(input: { title: "Injection", capacity: 5, price: 100 }) { id } }', {}, instructor)
    ).openLecture.id;
    await sys.waitForCatalog(lecture);
    await gqlOk(g.url, 'mutation($id: ID!) { registerForLecture(lectureId: $id) { id } }', { id: lecture }, student);
    const operations: Array<[string, string, string | undefined]> = [
      ['query($id: ID!) { lecture(id: $id) { id } }', 'lecture', undefined],
      ['query($id: ID!) { registration(id: $id) { id } }', 'registration', student],
      ['mutation($id: ID!) { registerForLecture(lectureId: $id) { id } }', 'registerForLecture', student],
      ['mutation($id: ID!) { cancelRegistration(id: $id) { id } }', 'cancelRegistration', student],
      ['mutation($id: ID!) { cancelLecture(id: $id) { id } }', 'cancelLecture', instructor],
      ['query($id: String) { lectures(first: 5, after: $id) { totalCount } }', 'lectures', undefined],
    ];
    const shapes = [{ $gt: '' }, { $ne: null }, ['x'], { $where: 'sleep(1000)' }];
    for (const [query, field, token] of operations) {
      for (const id of shapes) {
        const r = await gql(g.url, query, { id }, token);
        expect(codes(r), `${field} with ${JSON.stringify(id)}`).toEqual(['BAD_USER_INPUT']);
        expect(r.data, field).toBeUndefined();
      }
      for (const id of ['{"$gt":""}', "' || '1'=='1", '.*', 'a'.repeat(5_000)]) {
        const r = await gql(g.url, query, { id }, token);
        const data = r.data?.[field];
        // Nothing found, nothing done: null, an empty page, or a clear not-found / bad-input error.
        if (r.errors)
          expect(
            codes(r).every((c) => c === 'NOT_FOUND' || c === 'BAD_USER_INPUT'),
            `${field} with ${id}: ${JSON.stringify(r.errors)}`,
          ).toBe(true);
        else if (field === 'lectures') expect(data.totalCount, field).toBeGreaterThanOrEqual(0);
        else expect(data, `${field} with ${id}`).toBeNull();
      }
    }
    // Inline in the document rather than in variables: the same (ids are 24 hex digits).
    const inline = await gql(sys.url, '{ lecture(id: "{\\"$gt\\":\\"\\"}") { id } }');
    expect(codes(inline)).toEqual(['BAD_USER_INPUT']);
    expect(inline.data?.lecture).toBeNull();
    const mine = await gql(sys.url, '{ myRegistrations { status } }', {}, student);
    expect(mine.data?.myRegistrations).toEqual([{ status: 'CONFIRMED' }]);
  });

  it('refuses out-of-range openLecture input with BAD_USER_INPUT, and opens nothing', async () => {
    const g = await unlimitedGateway();
    const instructor = await sys.token('INSTRUCTOR', 'i-out-of-range');
    // Counted at the source (the lecture subgraph's database), not through the cached catalog.
    const db = await mongoose.createConnection(mongoUri(`${sys.tag}_lecture`)).asPromise();
    const mine = () => db.collection('lectures').countDocuments({ instructorId: 'i-out-of-range' });
    const before = await mine();
    const bad: Array<Record<string, unknown>> = [
      { title: 'Zero seats', capacity: 0, price: 1 },
      { title: 'Negative seats', capacity: -1, price: 1 },
      { title: 'Too many seats', capacity: 10_001, price: 1 },
      { title: 'Negative price', capacity: 10, price: -1 },
      { title: 'Too dear', capacity: 10, price: 100_000_001 },
      { title: 'Fractional price', capacity: 10, price: 1.5 },
      { title: 'Overflow', capacity: 2 ** 31, price: 1 },
      { title: '   ', capacity: 10, price: 1 },
      { title: 'x'.repeat(201), capacity: 10, price: 1 },
      { title: 'Extra field', capacity: 10, price: 1, instructorId: 'i-someone-else' },
      { title: 'Injected', capacity: { $gt: 0 }, price: 1 },
    ];
    for (const i of bad) {
      const r = await gql(g.url, 'mutation($i: OpenLectureInput!) { openLecture(input: $i) { id } }', { i }, instructor);
      expect(codes(r), JSON.stringify(i).slice(0, 80)).toEqual(['BAD_USER_INPUT']);
    }
    expect(await mine()).toBe(before);
    // The same input in range is accepted: the refusals were about the values.
    await gqlOk(
      g.url,
      'mutation($i: OpenLectureInput!) { openLecture(input: $i) { id } }',
      { i: { title: 'In range', capacity: 10_000, price: 100_000_000 } },
      instructor,
    );
    expect(await mine()).toBe(before + 1);
    await db.close();
  });

  it('refuses, in production, a token signed with the public dev secret', async () => {
    const prod = await startGateway({
      ...sys.envOf('gateway'),
      PORT: '0',
      NODE_ENV: 'production',
      AUTH_MODE: 'shared-secret',
      GATEWAY_SECRET: 'g'.repeat(64),
      JWT_SECRET: 'j'.repeat(64),
    });
    extra.push(prod);
    const devSigned = await sys.token('ADMIN', 'a-dev');
    const res = await fetch(`${prod.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${devSigned}` },
      body: JSON.stringify({ query: '{ myRegistrations { id } }' }),
    });
    expect(res.status).toBe(401);
    expect(JSON.stringify(await res.json())).toContain('UNAUTHENTICATED');
  });
});

describe('WebSocket limits', () => {
  const upgrade = (url: string, headers: Record<string, string> = {}) =>
    new Promise<number>((resolve) => {
      const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws', { headers });
      ws.on('open', () => (ws.close(), resolve(101)));
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => undefined);
    });

  it('refuses sockets past the per-client cap (429) and subscriptions past the per-socket cap (SUBSCRIPTION_LIMIT)', async () => {
    const g = await startGateway({
      ...sys.envOf('gateway'),
      PORT: '0',
      WS_MAX_SOCKETS_PER_CLIENT: '2',
      WS_MAX_SUBSCRIPTIONS_PER_SOCKET: '2',
    });
    extra.push(g);
    const a = wsClient(g.url);
    const b = wsClient(g.url);
    await Promise.all([a, b].map((c) => new Promise<void>((r) => c.on('connected', () => r()))));
    expect(await upgrade(g.url)).toBe(429);
    const lecture = await sys.openLecture(instructor, 'Caps');
    const sub = `subscription($id: ID!) { lectureUpdated(lectureId: $id) { id } }`;
    const outcomes: string[] = [];
    for (let i = 0; i < 3; i++) {
      a.subscribe(
        { query: sub, variables: { id: lecture } },
        { next: () => undefined, error: (e) => outcomes.push(JSON.stringify(e)), complete: () => undefined },
      );
    }
    await eventually(async () => outcomes.length === 1, 5_000, 'third subscription refused');
    expect(outcomes[0]).toContain('SUBSCRIPTION_LIMIT');
    await a.dispose();
    await b.dispose();
  });

  it('behind a trusted proxy, counts each forwarded client apart; untrusted, X-Forwarded-For changes nothing', async () => {
    const limits = { WS_MAX_SOCKETS_PER_CLIENT: '1', MUTATION_RATE_LIMIT: '1', MUTATION_RATE_WINDOW_SECONDS: '60' };
    // This test's client is the proxy (127.0.0.1), forwarding for two clients.
    const behind = await startGateway({ ...sys.envOf('gateway'), PORT: '0', ...limits, TRUSTED_PROXIES: 'loopback' });
    const direct = await startGateway({ ...sys.envOf('gateway'), PORT: '0', ...limits });
    extra.push(behind, direct);
    const from = (ip: string) => ({ 'x-forwarded-for': ip });
    const held: WebSocket[] = [];
    const hold = (url: string, headers: Record<string, string>) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws', { headers });
        held.push(ws);
        ws.on('open', () => resolve(101));
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('error', () => undefined);
      });
    const anonymousMutation = async (url: string, ip: string) => {
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...from(ip) },
        body: JSON.stringify({ query: 'mutation { cancelRegistration(id: "000000000000000000000000") { id } }' }),
      });
      return ((await res.json()) as { errors?: Array<{ extensions?: { code?: string } }> }).errors?.[0]?.extensions?.code;
    };
    try {
      // Sockets: one per client; a second client behind the same proxy gets its own.
      expect(await hold(behind.url, from('203.0.113.1'))).toBe(101);
      expect(await hold(behind.url, from('203.0.113.1'))).toBe(429);
      expect(await hold(behind.url, from('203.0.113.2'))).toBe(101);
      expect(await hold(direct.url, from('203.0.113.1'))).toBe(101);
      expect(await hold(direct.url, from('203.0.113.2'))).toBe(429); // the header is not believed
      // The anonymous mutation rate limit: one bucket per forwarded client.
      expect(await anonymousMutation(behind.url, '198.51.100.1')).not.toBe('RATE_LIMITED');
      expect(await anonymousMutation(behind.url, '198.51.100.1')).toBe('RATE_LIMITED');
      expect(await anonymousMutation(behind.url, '198.51.100.2')).not.toBe('RATE_LIMITED');
      expect(await anonymousMutation(direct.url, '198.51.100.1')).not.toBe('RATE_LIMITED');
      expect(await anonymousMutation(direct.url, '198.51.100.2')).toBe('RATE_LIMITED');
    } finally {
      for (const ws of held) ws.terminate();
    }
  });

  it('holds 1,000 subscribes on one socket to the default cap: the rest get SUBSCRIPTION_LIMIT, and the socket still serves', async () => {
    const c = wsClient(sys.url);
    const lecture = await sys.openLecture(instructor, 'Thousand');
    const sub = `subscription($id: ID!) { lectureUpdated(lectureId: $id) { id } }`;
    const refused: string[] = [];
    const stops = Array.from({ length: 1_000 }, () =>
      c.subscribe(
        { query: sub, variables: { id: lecture } },
        { next: () => undefined, error: (e) => refused.push(JSON.stringify(e)), complete: () => undefined },
      ),
    );
    await eventually(async () => refused.length === 950, 15_000, '950 subscriptions refused');
    expect(refused.every((e) => e.includes('SUBSCRIPTION_LIMIT'))).toBe(true);
    // The 50 it holds are live on the same socket, and a query over it is still answered.
    const answer = await new Promise<string>((resolve) => {
      c.subscribe(
        { query: '{ lecture(id: "' + lecture + '") { title } }' },
        { next: (v) => resolve(JSON.stringify(v)), error: (e) => resolve(JSON.stringify(e)), complete: () => undefined },
      );
    });
    expect(answer).toContain('SUBSCRIPTION_LIMIT');
    // Ten of them end: room for ten more operations (the socket frees a slot once each has ended).
    stops.slice(0, 10).forEach((stop) => stop());
    const query = () =>
      new Promise<string>((resolve) => {
        c.subscribe(
          { query: '{ lecture(id: "' + lecture + '") { title } }' },
          { next: (v) => resolve(JSON.stringify(v)), error: (e) => resolve(JSON.stringify(e)), complete: () => undefined },
        );
      });
    const after = await eventually(
      async () => {
        const a = await query();
        return a.includes('SUBSCRIPTION_LIMIT') ? undefined : a;
      },
      5_000,
      'a query answered once ten subscriptions ended',
    );
    expect(after).toContain('Thousand');
    await c.dispose();
  });

  it("in production, refuses a browser origin that is neither the gateway's own nor allowed (403)", async () => {
    const prod = await startGateway({
      ...sys.envOf('gateway'),
      PORT: '0',
      NODE_ENV: 'production',
      AUTH_MODE: 'shared-secret',
      GATEWAY_SECRET: 'g'.repeat(64),
      JWT_SECRET: 'j'.repeat(64),
      WS_ALLOWED_ORIGINS: 'https://app.example.com',
    });
    extra.push(prod);
    const host = new URL(prod.url).host;
    expect(await upgrade(prod.url, { origin: 'https://evil.example.net' })).toBe(403);
    expect(await upgrade(prod.url, { origin: 'https://app.example.com' })).toBe(101);
    expect(await upgrade(prod.url, { origin: `http://${host}` })).toBe(101);
    expect(await upgrade(prod.url)).toBe(101);
  });

  it('closes a socket that never sends connection_init (4408), and one that sends a message over 1 MB (1009)', async () => {
    const closeOf = (send?: string) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(`${sys.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
        ws.on('open', () => send && ws.send(send));
        ws.on('close', (code) => resolve(code));
        ws.on('error', () => undefined);
      });
    expect(await closeOf()).toBe(4408);
    expect(await closeOf(JSON.stringify({ type: 'connection_init', payload: { pad: 'x'.repeat(1_100_000) } }))).toBe(1009);
  });

  it('drops a socket that stops answering pings, and keeps one that answers', async () => {
    const g = await startGateway({ ...sys.envOf('gateway'), PORT: '0', WS_KEEPALIVE_MS: '200' });
    extra.push(g);
    const open = () =>
      new Promise<WebSocket>((resolve) => {
        const ws = new WebSocket(`${g.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
        ws.on('open', () => (ws.send(JSON.stringify({ type: 'connection_init' })), resolve(ws)));
        ws.on('error', () => undefined);
      });
    const [deaf, live] = await Promise.all([open(), open()]);
    // A peer gone silent: nothing it is sent is read, so no pong goes back.
    (deaf as unknown as { _socket: { pause(): void } })._socket.pause();
    await eventually(async () => g.subscriptions.connections === 1, 5_000, 'the silent socket dropped');
    expect(live.readyState).toBe(WebSocket.OPEN);
    live.close();
  });

  it('holds subscription documents to the same depth limit as HTTP', async () => {
    const c = wsClient(sys.url);
    let sel = 'id';
    for (let i = 0; i < 5; i++) sel = `lecture { registrations { edges { node { ${sel} } } } }`;
    const error = await new Promise<string>((resolve) => {
      c.subscribe(
        { query: `subscription { registrationStatusChanged { ${sel} } }` },
        { next: (v) => resolve(JSON.stringify(v)), error: (e) => resolve(JSON.stringify(e)), complete: () => undefined },
      );
    });
    expect(error).toMatch(/depth/i);
    await c.dispose();
  });
});
