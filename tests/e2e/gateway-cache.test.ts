/**
 * The gateway's response cache and in-flight sharing, through the real gateway: the public
 * catalog is served from the cache for as long as the lecture subgraph allows; nothing that
 * depends on who asks is cached or shared across identities.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gqlOk } from '@courses/devkit/graphql-client';
import { startSystem, type TestSystem } from '@courses/test-kit/system';

let sys: TestSystem;
beforeAll(async () => {
  sys = await startSystem();
});
afterAll(async () => sys?.stop());

async function post(query: string, token?: string) {
  const res = await fetch(`${sys.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query }),
  });
  return { headers: res.headers, body: (await res.json()) as { data?: any; errors?: unknown[] } };
}

describe('gateway response cache', () => {
  it('serves the public catalog from its cache for at most 2 s', async () => {
    const instructor = await sys.token('INSTRUCTOR', 'i-cache');
    await sys.openLecture(instructor, 'Cached catalog');
    const Q = '{ lectures(first: 100) { totalCount edges { node { id title enrolledCount } } } }';
    const first = await post(Q);
    expect(first.headers.get('cache-control')).toMatch(/max-age=2, public/);
    expect(first.headers.get('age')).toBeNull();
    const again = await post(Q); // anonymous again: from the cache
    expect(again.headers.get('age')).not.toBeNull();
    expect(again.body).toEqual(first.body);
    // Signed-in callers share their own public entry (Apollo keeps it apart from the anonymous one).
    const [s1, s2] = await Promise.all([sys.token('STUDENT', 's-cache-1'), sys.token('STUDENT', 's-cache-2')]);
    expect((await post(Q, s1)).headers.get('age')).toBeNull();
    const shared = await post(Q, s2);
    expect(shared.headers.get('age')).not.toBeNull();
    expect(shared.body).toEqual(first.body);
    // A client may ask past the cache.
    const res = await fetch(`${sys.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'cache-control': 'no-cache' },
      body: JSON.stringify({ query: Q }),
    });
    expect(res.headers.get('age')).toBeNull();
  });

  it("never caches what depends on the caller, and never serves one caller another's answer", async () => {
    const instructor = await sys.token('INSTRUCTOR', 'i-cache2');
    const lectureId = await sys.openLecture(instructor, 'Private answers', 10, 1_000);
    const [a, b] = await Promise.all([sys.token('STUDENT', 's-cache-a'), sys.token('STUDENT', 's-cache-b')]);
    const MINE = '{ myRegistrations { id lecture { id } } }';
    expect((await post(MINE, a)).body.data.myRegistrations).toEqual([]);
    const reg = await sys.register(lectureId, a);
    const after = await post(MINE, a); // at once: not a cached empty list
    expect(after.headers.get('age')).toBeNull();
    expect(after.body.data.myRegistrations).toEqual([{ id: reg.id, lecture: { id: lectureId } }]);
    // Many identical requests at once from two students: each sees only their own.
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => gqlOk(sys.url, MINE, {}, i % 2 ? a : b)));
    for (const [i, d] of answers.entries()) expect(d.myRegistrations).toHaveLength(i % 2 ? 1 : 0);
  });
});
