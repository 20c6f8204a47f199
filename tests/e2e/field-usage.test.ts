/**
 * Field usage (gateway/src/field-usage.ts and `npm run schema:usage`): a known sequence of
 * operations, over HTTP and the subscription transports, gives exactly the counts it should on the
 * gateway's /metrics, and the report names a deprecated field's users.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, gqlOk, subscribeOver } from '@courses/devkit/graphql-client';
import { startSystem, type TestSystem } from '@courses/test-kit/system';
import { selectedCoordinates } from '../../gateway/src/field-usage.js';
import { graphqlCjs } from '../../gateway/src/subscriptions/documents.js';
import { apiSchemaSdl, deprecatedCoordinates } from '../../schema/scripts/schema-check.mjs';
import { parseUsage, report } from '../../schema/scripts/schema-usage.mjs';

let sys: TestSystem;
beforeAll(async () => {
  sys = await startSystem();
}, 60_000);
afterAll(async () => sys?.stop());

const CATALOG = 'query UsageCatalog { lectures(first: 5) { totalCount edges { node { id title } } } }';
const MINE = 'query UsageMine { myRegistrations { ...R } } fragment R on Registration { id status lecture { title } }';
const LIVE = 'subscription UsageLive { registrationStatusChanged { id status } }';

/** The gateway's usage counters now: `operation coordinate` → count. */
async function counts(): Promise<Map<string, number>> {
  const text = await (await fetch(`${sys.url}/metrics`)).text();
  return new Map(parseUsage(text).map((u) => [`${u.operation} ${u.coordinate}`, u.count]));
}

describe('field usage', () => {
  it('counts each coordinate once per operation run, on every transport, with fragments and arguments', async () => {
    const student = await sys.token('STUDENT', 's-usage');
    for (let i = 0; i < 3; i++) await gqlOk(sys.url, CATALOG);
    await gqlOk(sys.url, MINE, {}, student);
    const feeds = (['ws', 'sse', 'multipart'] as const).map((t) => subscribeOver(t, sys.url, LIVE, { token: student }));
    let c = new Map<string, number>();
    await eventually(
      async () => (c = await counts()).get('UsageLive Subscription.registrationStatusChanged') === 3,
      10_000,
      'three subscriptions counted',
    );
    feeds.forEach((f) => f.stop());
    expect(c.get('UsageCatalog Query.lectures')).toBe(3);
    expect(c.get('UsageCatalog Query.lectures(first:)')).toBe(3);
    expect(c.get('UsageCatalog Lecture.title')).toBe(3);
    expect(c.get('UsageCatalog LectureConnection.totalCount')).toBe(3);
    expect(c.get('UsageMine Query.myRegistrations')).toBe(1);
    expect(c.get('UsageMine Registration.status')).toBe(1);
    expect(c.get('UsageMine Lecture.title')).toBe(1);
    expect(c.get('UsageLive Registration.status')).toBe(3);
    // Only what the operations select: nothing of another's, no __typename, no per-event queries.
    expect([...c.keys()].filter((k) => k.startsWith('UsageMine ')).sort()).toEqual(
      ['Lecture.title', 'Query.myRegistrations', 'Registration.id', 'Registration.lecture', 'Registration.status'].map(
        (x) => `UsageMine ${x}`,
      ),
    );
  });

  it('npm run schema:usage names the operations that still use a deprecated field, and the unused ones', async () => {
    const text = await (await fetch(`${sys.url}/metrics`)).text();
    const deprecated = new Map([
      ['Query.lectures', 'use lecturesV2'],
      ['Lecture.instructorId', 'use instructor'],
    ]);
    const lines = report(parseUsage(text), deprecated).join('\n');
    expect(lines).toMatch(/Deprecated and still in use \(1 of 2 deprecated\)/);
    expect(lines).toMatch(/Query\.lectures {2}— use lecturesV2\n {4}by .*UsageCatalog \(\d+\)/);
    expect(lines).toMatch(/safe to remove: Lecture\.instructorId/);
    // The supergraph's own deprecations are read from its API schema.
    expect([...deprecatedCoordinates(apiSchemaSdl()).keys()].sort()).toEqual(['Query.myDashboard', 'Query.myRegistrations']);
    const sdl = 'type Query { a: Int @deprecated(reason: "no"), b(x: Int @deprecated(reason: "gone")): Int } enum E { X Y @deprecated }';
    expect([...deprecatedCoordinates(sdl).keys()].sort()).toEqual(['E.Y', 'Query.a', 'Query.b(x:)']);
  });

  it('names only the schema’s own coordinates, whatever a document not validated yet holds', () => {
    const schema = graphqlCjs.buildSchema(apiSchemaSdl());
    const doc = graphqlCjs.parse('{ lectures(first: 1, bogus: 2) { nope totalCount } nothing }');
    expect(selectedCoordinates(schema, doc)).toEqual(['LectureConnection.totalCount', 'Query.lectures', 'Query.lectures(first:)']);
  });
});
