/**
 * Loads the demo catalog (scripts/data/catalog.ts) through the gateway, as each instructor.
 * Idempotent: a lecture whose title the instructor already has is not opened again.
 * GATEWAY_URL defaults to http://127.0.0.1:4000.
 */
import { gqlOk } from '@courses/devkit/graphql-client';
import { devSecrets } from '@courses/devkit/provision';
import { issueToken } from '@courses/gateway';
import { CATALOG } from './data/catalog.js';

const url = process.env.GATEWAY_URL ?? 'http://127.0.0.1:4000';
const secret = devSecrets().JWT_SECRET;

/** Every lecture in the catalog, paging through `lectures`. */
async function allLectures(): Promise<Array<{ title: string; instructorId: string }>> {
  const out: Array<{ title: string; instructorId: string }> = [];
  let after: string | null = null;
  for (;;) {
    const d: any = await gqlOk(
      url,
      `query($after: String) { lectures(first: 100, after: $after) { edges { node { title instructorId } } pageInfo { hasNextPage endCursor } } }`,
      { after },
    );
    out.push(...d.lectures.edges.map((e: any) => e.node));
    if (!d.lectures.pageInfo.hasNextPage) return out;
    after = d.lectures.pageInfo.endCursor;
  }
}

const existing = new Set((await allLectures()).map((l) => `${l.instructorId}\u0000${l.title}`));
let opened = 0;
for (const [instructorId, lectures] of Object.entries(CATALOG)) {
  const token = await issueToken({ sub: instructorId, role: 'INSTRUCTOR' }, secret);
  for (const l of lectures) {
    if (existing.has(`${instructorId}\u0000${l.title}`)) continue;
    await gqlOk(url, `mutation($input: OpenLectureInput!) { openLecture(input: $input) { id } }`, { input: l }, token);
    opened++;
  }
}
const total = Object.values(CATALOG).flat().length;
process.stdout.write(
  `» demo catalog: ${opened} lecture(s) opened, ${total - opened} already there (${Object.keys(CATALOG).length} instructors)\n`,
);
