/**
 * Signing in through an OpenID issuer, black-box through the gateway: the embedded identity
 * provider's tokens work on HTTP, graphql-ws and SSE; a person without a known role is refused
 * with FORBIDDEN; the provider going down does not take sign-in or readiness with it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql, gqlOk, subscribeOver } from '@courses/devkit/graphql-client';
import { startIdentityProvider, type RunningIdentityProvider } from '@courses/identity-provider';
import { startSystem, type TestSystem } from '@courses/test-kit/system';

let idp: RunningIdentityProvider;
let sys: TestSystem;

describe('signing in through an OpenID issuer', () => {
  beforeAll(async () => {
    idp = await startIdentityProvider({
      users: [
        { sub: 's-idp', name: 'Student', roles: ['student'] },
        { sub: 's-idp-late', name: 'Student', roles: ['student'] },
        { sub: 'i-idp', name: 'Instructor', roles: ['faculty'] },
        { sub: 'g-idp', name: 'Visitor', roles: ['visitor'] },
      ],
    });
    sys = await startSystem({
      gateway: {
        OIDC_ISSUER: idp.issuer,
        OIDC_AUDIENCE: idp.audience,
        ROLE_MAP: 'student=STUDENT,faculty=INSTRUCTOR',
        // Only the issuer's tokens: the test kit's shared-secret ones are refused.
        AUTH_MODE: 'oidc',
      },
    });
  });
  afterAll(async () => {
    await sys?.stop();
    await idp?.stop();
  });

  it("an instructor's and a student's tokens from the issuer work on HTTP, graphql-ws and SSE", async () => {
    const instructor = await idp.tokenFor('i-idp');
    const student = await idp.tokenFor('s-idp');
    const lecture = await gqlOk(
      sys.url,
      `mutation($i: OpenLectureInput!) { openLecture(input: $i) { id instructorId } }`,
      { i: { title: 'Signed In 101', capacity: 5, price: 10_000 } },
      instructor,
    );
    expect(lecture.openLecture.instructorId).toBe('i-idp');
    const id = lecture.openLecture.id as string;
    await sys.waitForCatalog(id);
    // `current: true` first delivers the lecture as it is, once the subscription listens: the
    // change below comes after both are listening.
    const watch = `subscription($id: ID!) { lectureUpdated(lectureId: $id, current: true) { id enrolledCount } }`;
    const ws = subscribeOver('ws', sys.url, watch, { token: student, variables: { id } });
    const sse = subscribeOver('sse', sys.url, watch, { token: student, variables: { id } });
    try {
      for (const feed of [ws, sse]) expect((await feed.waitFor(1, 15_000))[0]!.data).toEqual({ lectureUpdated: { id, enrolledCount: 0 } });
      const r = await sys.register(id, student, 'id status studentId');
      expect(r).toMatchObject({ status: 'CONFIRMED', studentId: 's-idp' });
      const fromWs = (await ws.waitFor(2, 15_000))[1]!;
      const fromSse = (await sse.waitFor(2, 15_000))[1]!;
      expect(fromWs.data).toEqual({ lectureUpdated: { id, enrolledCount: 1 } });
      expect(fromSse.data).toEqual({ lectureUpdated: { id, enrolledCount: 1 } });
    } finally {
      ws.stop();
      sse.stop();
    }
    const mine = await gqlOk(sys.url, `{ myRegistrations { lecture { id } status } }`, {}, student);
    expect(JSON.stringify(mine)).toContain(id);
  });

  it('refuses a person whose roles map to none with FORBIDDEN, and a shared-secret token with UNAUTHENTICATED', async () => {
    const visitor = await gql(sys.url, `{ myRegistrations { id } }`, {}, await idp.tokenFor('g-idp'));
    expect(visitor.status).toBe(403);
    expect(visitor.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const shared = await gql(sys.url, `{ myRegistrations { id } }`, {}, await sys.token('STUDENT', 's-idp'));
    expect(shared.status).toBe(401);
    expect(shared.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    expect(shared.errors?.[0].message).toMatch(/shared-secret \(HS256\) tokens are not accepted/);
    // The same refusal for a subscription's token over SSE.
    const sse = subscribeOver('sse', sys.url, `subscription { notificationReceived { id } }`, { token: await idp.tokenFor('g-idp') });
    const [refused] = await sse.waitFor(1, 10_000);
    sse.stop();
    expect(refused.errors?.[0].extensions?.code).toBe('FORBIDDEN');
  });

  it('keeps signing people in with the keys it has while the issuer is down; readiness does not depend on it', async () => {
    const late = await idp.tokenFor('s-idp-late'); // never used before the issuer goes away
    await idp.stop();
    const r = await gql(sys.url, `{ myRegistrations { id } }`, {}, late);
    expect(r.errors).toBeUndefined();
    expect(r.status).toBe(200);
    expect((await fetch(`${sys.url}/health/ready`)).status).toBe(200);
  });
});
