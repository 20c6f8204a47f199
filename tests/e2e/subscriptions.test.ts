/**
 * Federated subscriptions at the gateway: audience, shared NATS subscriptions, token
 * expiry, replicas, and the per-subscription buffer bound.
 */
import { jetstream } from '@nats-io/jetstream';
import { createClient } from 'graphql-ws';
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createEvent } from '@courses/contracts';
import { collect, eventually, gqlOk, wsClient } from '@courses/devkit/graphql-client';
import { DEV_JWT_SECRET, publishEvent } from '@courses/platform';
import { mongoUri } from '@courses/test-kit/env';
import { startSystem, type TestSystem } from '@courses/test-kit/system';
import { startGateway, type RunningGateway } from '../../gateway/src/app.js';
import { issueToken } from '../../gateway/src/auth.js';
import { ROUTES } from '../../gateway/src/subscriptions/routes.js';

let sys: TestSystem;
let kim: string;
let lee: string;
const extraGateways: RunningGateway[] = [];
beforeAll(async () => {
  sys = await startSystem();
  [kim, lee] = await Promise.all([sys.token('INSTRUCTOR', 'i-sub-kim'), sys.token('INSTRUCTOR', 'i-sub-lee')]);
});
afterAll(async () => {
  for (const g of extraGateways) await g.stop();
  await sys?.stop();
});

const REG_SUB = `subscription { registrationStatusChanged { id studentId status } }`;
const LECTURE_SUB = `subscription($id: ID!) { lectureUpdated(lectureId: $id) { id status enrolledCount } }`;

const openLecture = (token: string, title: string) => sys.openLecture(token, title);
const register = async (lectureId: string, token: string) => (await sys.register(lectureId, token)).id as string;
/**
 * Waits until `gateway` hears events for `count` more subscriptions of `field` than it did
 * (`before` = its hub's listeners then): each listens to every context of its route.
 */
const listening = (gateway: RunningGateway, before: number, count: number, field: keyof typeof ROUTES) =>
  eventually(
    async () => gateway.hub.listeners >= before + count * ROUTES[field].contexts.length,
    5_000,
    `${count} ${field} subscription(s) listening`,
  );

describe('who receives what', () => {
  it("an instructor receives registrations of their own lectures, not of other instructors' lectures", async () => {
    const mine = await openLecture(kim, 'Kim Lecture');
    const theirs = await openLecture(lee, 'Lee Lecture');
    const kimWs = wsClient(sys.url, kim);
    const before = sys.gateway.hub.listeners;
    const feed = collect(kimWs, REG_SUB);
    await listening(sys.gateway, before, 1, 'registrationStatusChanged');
    const student = await sys.token('STUDENT', 's-sub-1');
    await register(theirs, student);
    const regId = await register(mine, student);
    // One subscription's events come in stream order: had the other lecture's registration been
    // sent, it would have come before this one (the positive marker).
    const [first] = await feed.waitFor(1);
    expect(first.data).toMatchObject({ registrationStatusChanged: { id: regId, status: 'CONFIRMED' } });
    expect(feed.results.every((r: any) => r.data.registrationStatusChanged.id === regId)).toBe(true);
    feed.stop();
    await kimWs.dispose();
  });
});

describe('notificationReceived', () => {
  const NOTIFY_SUB = `subscription { notificationReceived { id kind message read lecture { title } } }`;

  it('tells a student of their own new notifications as they are stored, and no one else', async () => {
    const lecture = await openLecture(kim, 'Live Inbox');
    const [ana, ben] = await Promise.all([sys.token('STUDENT', 's-live-ana'), sys.token('STUDENT', 's-live-ben')]);
    const [anaWs, benWs] = [wsClient(sys.url, ana), wsClient(sys.url, ben)];
    const before = sys.gateway.hub.listeners;
    const [anaFeed, benFeed] = [collect(anaWs, NOTIFY_SUB), collect(benWs, NOTIFY_SUB)];
    await listening(sys.gateway, before, 2, 'notificationReceived');
    await register(lecture, ben); // someone else's news first
    const regId = await register(lecture, ana);
    const [first] = await anaFeed.waitFor(1);
    expect(first.data?.notificationReceived).toMatchObject({
      kind: 'REGISTRATION_CONFIRMED',
      read: false,
      lecture: { title: 'Live Inbox' },
      message: expect.stringContaining('Live Inbox'),
    });
    // Ben's own confirmation is his marker: Ana's came after his in the stream, and he got only his.
    const [bens] = await benFeed.waitFor(1);
    expect((bens.data as any)?.notificationReceived.kind).toBe('REGISTRATION_CONFIRMED');
    expect(benFeed.results).toHaveLength(1);
    const stored = (await gqlOk(sys.url, `{ myNotifications { edges { node { id } } } }`, {}, ana)).myNotifications.edges[0]?.node.id;
    expect((first.data as any)?.notificationReceived.id).toBe(stored);
    expect(regId).toMatch(/^[0-9a-f]{24}$/);
    anaFeed.stop();
    benFeed.stop();
    await Promise.all([anaWs.dispose(), benWs.dispose()]);
  });
});

describe('shared executions', () => {
  it('runs one supergraph query per event for subscribers that differ only in aliases, operation name or identity when they select public fields, and answers each in its own words', async () => {
    const lecture = await openLecture(kim, 'Shared Words');
    const student = await sys.token('STUDENT', 's-shared');
    const [a, b, c, d] = [wsClient(sys.url), wsClient(sys.url), wsClient(sys.url, student), wsClient(sys.url, kim)];
    const before = sys.gateway.hub.listeners;
    const feedA = collect(a, 'subscription A($id: ID!) { lectureUpdated(lectureId: $id) { id title } }', { id: lecture });
    const feedB = collect(b, 'subscription B($lid: ID!) { watched: lectureUpdated(lectureId: $lid) { name: title key: id } }', {
      lid: lecture,
    });
    // Public fields only, another identity: shared too (a lecture's title reads the same for all).
    const feedC = collect(c, 'subscription A($id: ID!) { lectureUpdated(lectureId: $id) { id title } }', { id: lecture });
    // What only the lecture's instructor may read: resolved as that instructor, apart.
    const feedD = collect(d, 'subscription($id: ID!) { lectureUpdated(lectureId: $id) { id registrations { totalCount } } }', {
      id: lecture,
    });
    await eventually(
      async () => sys.gateway.hub.listeners === before + 4 * ROUTES.lectureUpdated.contexts.length,
      5_000,
      'four subscriptions listening',
    );
    const executions = sys.gateway.subscriptions.executions;
    const asLecture = await sys.nats.connect('lecture');
    await publishEvent(
      jetstream(asLecture),
      createEvent('lecture.enrolledCountChanged', { lectureId: lecture, instructorId: 'i-sub-kim', enrolledCount: 0 }),
      sys.tag,
    );
    await asLecture.close();
    const [[ra], [rb], [rc], [rd]] = await Promise.all([feedA.waitFor(1), feedB.waitFor(1), feedC.waitFor(1), feedD.waitFor(1)]);
    expect(ra.data).toEqual({ lectureUpdated: { id: lecture, title: 'Shared Words' } });
    expect(rb.data).toEqual({ watched: { name: 'Shared Words', key: lecture } });
    expect(JSON.stringify(Object.keys(rb.data!.watched))).toBe('["name","key"]');
    expect(rc.data).toEqual(ra.data);
    expect(rd.data).toEqual({ lectureUpdated: { id: lecture, registrations: { totalCount: 0 } } });
    expect(sys.gateway.subscriptions.executions - executions).toBe(2);
    await Promise.all([a, b, c, d].map(async (x) => x.dispose()));
  });
});

describe('fresh payloads', () => {
  it('gives an anonymous subscriber every enrolled count, even when changes come faster than the public response cache expires', async () => {
    const lecture = await openLecture(kim, 'Fresh Counts');
    const c = wsClient(sys.url);
    const before = sys.gateway.hub.listeners;
    const feed = collect(c, LECTURE_SUB, { id: lecture });
    await eventually(async () => sys.gateway.hub.listeners > before, 5_000, 'listening');
    // Three counts within the cache's 2 s, each stored before its event (as the lecture subgraph does).
    const db = await mongoose.createConnection(mongoUri(`${sys.tag}_lecture`)).asPromise();
    const asLecture = await sys.nats.connect('lecture');
    for (const n of [1, 2, 3]) {
      await db.collection('lectures').updateOne({ _id: lecture as never }, { $set: { enrolledCount: n } });
      await publishEvent(
        jetstream(asLecture),
        createEvent('lecture.enrolledCountChanged', { lectureId: lecture, instructorId: 'i-sub-kim', enrolledCount: n }),
        sys.tag,
      );
      await eventually(
        async () => feed.results.some((r: any) => r.data?.lectureUpdated?.enrolledCount === n),
        5_000,
        `the count of ${n} delivered`,
      );
    }
    // Back to the truth (no registrations), for the consistency check at the end of this file.
    await db.collection('lectures').updateOne({ _id: lecture as never }, { $set: { enrolledCount: 0 } });
    await Promise.all([asLecture.close(), db.close(), c.dispose()]);
  });
});

describe('resource hygiene', () => {
  it('shares one NATS subscription per context among all clients and drops it when the last one leaves', async () => {
    const lecture = await openLecture(kim, 'Crowded');
    const student = await sys.token('STUDENT', 's-crowd');
    const before = sys.gateway.hub.listeners;
    const clients = Array.from({ length: 20 }, () => wsClient(sys.url, student));
    const subs = clients.flatMap((c) => [collect(c, REG_SUB), collect(c, LECTURE_SUB, { id: lecture })]);
    await eventually(async () => sys.gateway.hub.openSubscriptions === 3, 5_000, 'three shared subscriptions');
    // Every client's two subscriptions listening before the event (one listener per context each follows).
    const perClient = ROUTES.registrationStatusChanged.contexts.length + ROUTES.lectureUpdated.contexts.length;
    await eventually(async () => sys.gateway.hub.listeners === before + 20 * perClient, 10_000, 'every subscription listening');
    await register(lecture, student);
    for (const s of subs) await s.waitFor(1);
    for (const s of subs) s.stop();
    await Promise.all(clients.map(async (c) => c.dispose()));
    // Only the gateway's own one stays: lecture events empty its response cache.
    await eventually(async () => sys.gateway.hub.openSubscriptions === 1, 5_000, "the clients' NATS subscriptions closed");
  });

  it('ends a subscription with SUBSCRIPTION_OVERFLOW when more events wait than its buffer holds', async () => {
    const small = await startGateway({ ...sys.envOf('gateway'), PORT: '0', SUBSCRIPTION_BUFFER: '2' });
    extraGateways.push(small);
    const lecture = await openLecture(kim, 'Burst');
    const c = wsClient(small.url);
    const before = small.hub.listeners;
    const feed = collect(c, LECTURE_SUB, { id: lecture });
    await listening(small, before, 1, 'lectureUpdated');
    // A burst of enrolment events, published as the lecture service (the gateway may not publish).
    const asLecture = await sys.nats.connect('lecture');
    const js = jetstream(asLecture);
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        publishEvent(
          js,
          createEvent('lecture.enrolledCountChanged', { lectureId: lecture, instructorId: 'i-sub-kim', enrolledCount: i }),
          sys.tag,
        ),
      ),
    );
    await asLecture.close();
    await feed.done;
    const last = JSON.stringify(feed.results.at(-1));
    expect(last).toContain('SUBSCRIPTION_OVERFLOW');
    expect(feed.results.length).toBeLessThanOrEqual(3);
    await c.dispose();
  });
});

describe('authentication over the socket', () => {
  it('closes the socket with 4401 when the token expires', async () => {
    const shortLived = await issueToken({ sub: 's-brief', role: 'STUDENT' }, DEV_JWT_SECRET, 2);
    const code = await new Promise<number>((resolve) => {
      const c = wsClient(sys.url, shortLived, (closeCode) => resolve(closeCode));
      c.subscribe({ query: REG_SUB }, { next: () => undefined, error: () => undefined, complete: () => undefined });
    });
    expect(code).toBe(4401);
  });

  it('closes with 4403 when connection_init carries an authorization that is not a string', async () => {
    const code = await new Promise<number>((resolve) => {
      const c = createClient({
        url: `${sys.url.replace(/^http/, 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        connectionParams: { authorization: { bearer: 'x' } },
        retryAttempts: 0,
        lazy: false,
        onNonLazyError: () => undefined,
        on: { closed: (e) => resolve((e as { code: number }).code) },
      });
      void c;
    });
    expect(code).toBe(4403);
  });

  it('ends a subscription authenticated by its own token when that token expires, keeping the socket', async () => {
    const anon = wsClient(sys.url);
    const brief = await issueToken({ sub: 's-brief-op', role: 'STUDENT' }, DEV_JWT_SECRET, 2);
    const results: any[] = [];
    await new Promise<void>((resolve) => {
      anon.subscribe(
        { query: REG_SUB, extensions: { headers: { Authorization: `Bearer ${brief}` } } },
        { next: (v) => results.push(v), error: (e) => (results.push({ errors: [e] }), resolve()), complete: () => resolve() },
      );
    });
    expect(JSON.stringify(results)).toMatch(/UNAUTHENTICATED.*expired|expired.*UNAUTHENTICATED/);
    // The socket still serves.
    const still = await new Promise<unknown>((resolve) => {
      anon.subscribe({ query: '{ __typename }' }, { next: resolve, error: resolve, complete: () => undefined });
    });
    expect(JSON.stringify(still)).toContain('Query');
    await anon.dispose();
  });
});

describe('per-operation authentication (extensions.headers, as GraphiQL sends it)', () => {
  it('authenticates one operation with its own token and refuses a bad one without closing the socket', async () => {
    const anon = wsClient(sys.url);
    const bad = collect(anon, REG_SUB);
    const student = await sys.token('STUDENT', 's-per-op');
    const results: any[] = [];
    const badOp = new Promise<void>((resolve) => {
      anon.subscribe(
        { query: REG_SUB, extensions: { headers: { Authorization: 'Bearer nope' } } },
        { next: (v) => results.push(v), error: (e) => (results.push({ errors: [e] }), resolve()), complete: () => resolve() },
      );
    });
    await badOp;
    expect(JSON.stringify(results)).toContain('UNAUTHENTICATED');
    // The same socket still serves an operation with a good token.
    const good: any[] = [];
    const before = sys.gateway.hub.listeners;
    anon.subscribe(
      { query: REG_SUB, extensions: { headers: { authorization: `Bearer ${student}` } } },
      { next: (v) => good.push(v), error: () => undefined, complete: () => undefined },
    );
    await listening(sys.gateway, before, 1, 'registrationStatusChanged');
    const lecture = await openLecture(kim, 'Per-operation auth');
    const regId = await register(lecture, student);
    await eventually(async () => good.some((r) => r.data?.registrationStatusChanged?.id === regId), 10_000, 'own registration event');
    // The anonymous connection-level subscription was refused too (it needs a signed-in caller).
    expect(JSON.stringify(bad.results)).toContain('UNAUTHENTICATED');
    await anon.dispose();
  });
});

describe('browser pages', () => {
  it('serves GraphiQL to browsers, and a plain landing page instead when GRAPHIQL=false', async () => {
    const html = (url: string, path = '/graphql') => fetch(`${url}${path}`, { headers: { accept: 'text/html' } }).then((r) => r.text());
    expect(await html(sys.url)).toContain('graphiql');
    const prod = await startGateway({ ...sys.envOf('gateway'), PORT: '0', GRAPHIQL: 'false' });
    extraGateways.push(prod);
    const landing = await html(prod.url);
    expect(landing).toContain('Course registration supergraph');
    expect(landing).not.toContain('graphiql');
    expect(await html(prod.url, '/app')).toContain('My courses');
  });

  it('in production: no GraphiQL, no introspection and no demo sign-in unless asked for', async () => {
    const prod = await startGateway({
      ...sys.envOf('gateway'),
      PORT: '0',
      NODE_ENV: 'production',
      AUTH_MODE: 'shared-secret',
      GATEWAY_SECRET: 'g'.repeat(64),
      JWT_SECRET: 'j'.repeat(64),
    });
    extraGateways.push(prod);
    const page = await fetch(`${prod.url}/graphql`, { headers: { accept: 'text/html' } }).then((r) => r.text());
    expect(page).not.toContain('graphiql');
    const introspect = await fetch(`${prod.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __schema { queryType { name } } }' }),
    });
    expect(JSON.stringify(await introspect.json())).toMatch(/introspection is not allowed/i);
    expect((await fetch(`${prod.url}/dev/token?role=ADMIN&sub=x`)).status).toBe(404);
    // Unsafe production configurations do not start, each saying what is wrong.
    const production = { ...sys.envOf('gateway'), PORT: '0', NODE_ENV: 'production' };
    await expect(startGateway(production)).rejects.toThrow(/GATEWAY_SECRET: unset or the public DEV-ONLY default/);
    const strong = { ...production, GATEWAY_SECRET: 'g'.repeat(64) };
    await expect(startGateway(strong)).rejects.toThrow(/OIDC_ISSUER: unset; set it to your identity provider/);
    await expect(startGateway({ ...strong, AUTH_MODE: 'shared-secret', JWT_SECRET: DEV_JWT_SECRET })).rejects.toThrow(
      /JWT_SECRET: unset or the public DEV-ONLY default/,
    );
  });

  it('hands out demo tokens only with DEV_TOKENS=on', async () => {
    expect((await fetch(`${sys.url}/dev/token?role=ADMIN&sub=x`)).status).toBe(404);
    const demo = await startGateway({ ...sys.envOf('gateway'), PORT: '0', DEV_TOKENS: 'on' });
    extraGateways.push(demo);
    const r = await fetch(`${demo.url}/dev/token?role=STUDENT&sub=s-demo`);
    expect(r.status).toBe(200);
    expect((await r.json()).token).toMatch(/^ey/);
  });
});

describe('replicas', () => {
  it('each gateway replica delivers every event to its own clients', async () => {
    const second = await startGateway({ ...sys.envOf('gateway'), PORT: '0' });
    extraGateways.push(second);
    const lecture = await openLecture(kim, 'Replicated');
    const a = wsClient(sys.url);
    const b = wsClient(second.url);
    const [beforeA, beforeB] = [sys.gateway.hub.listeners, second.hub.listeners];
    const fa = collect(a, LECTURE_SUB, { id: lecture });
    const fb = collect(b, LECTURE_SUB, { id: lecture });
    await Promise.all([listening(sys.gateway, beforeA, 1, 'lectureUpdated'), listening(second, beforeB, 1, 'lectureUpdated')]);
    await register(lecture, await sys.token('STUDENT', 's-rep'));
    const [ra] = await fa.waitFor(1);
    const [rb] = await fb.waitFor(1);
    expect(ra.data).toEqual({ lectureUpdated: { id: lecture, status: 'OPEN', enrolledCount: 1 } });
    expect(rb.data).toEqual(ra.data);
    await a.dispose();
    await b.dispose();
  });
});

describe('afterwards', () => {
  it('the consistency checker finds every invariant holding', async () => {
    await sys.assertConsistent();
  });
});
