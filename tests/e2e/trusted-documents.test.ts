/**
 * Trusted documents (gateway/src/trusted-documents.ts): the manifest graphql-codegen writes for
 * the pages' operations is served by hash on every transport, and a gateway in
 * `TRUSTED_DOCUMENTS=only` runs nothing else.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MyRegistrationsDocument, request } from '@courses/client';
import { eventually, subscribeOver, type Transport } from '@courses/devkit/graphql-client';
import { startSystem, type TestSystem } from '@courses/test-kit/system';
import { startGateway, type RunningGateway } from '../../gateway/src/app.js';
import { TrustedDocuments } from '../../gateway/src/trusted-documents.js';

const MANIFEST = new URL('../../client/src/generated/persisted-documents.json', import.meta.url);
const manifest = JSON.parse(readFileSync(MANIFEST, 'utf8')) as Record<string, string>;
const hashOf = (name: string) => {
  const hash = Object.keys(manifest).find((h) =>
    new RegExp(`^(fragment [^]*)?(query|mutation|subscription) ${name}\\b`).test(manifest[h]!),
  );
  if (!hash) throw new Error(`no ${name} in the manifest`);
  return hash;
};
const persisted = (hash: string) => ({ persistedQuery: { version: 1, sha256Hash: hash } });

let sys: TestSystem;
let only: RunningGateway;
let student: string;
let instructor: string;

beforeAll(async () => {
  sys = await startSystem();
  only = await startGateway({ ...sys.envOf('gateway'), PORT: '0', TRUSTED_DOCUMENTS: 'only' });
  student = await sys.token('STUDENT', 's-trusted');
  instructor = await sys.token('INSTRUCTOR', 'i-trusted');
}, 60_000);

afterAll(async () => {
  await only?.stop();
  await sys?.stop();
});

/** POSTs `body` to `<url>/graphql` as `token`. */
async function post(url: string, body: unknown, token?: string) {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, ...((await res.json()) as { data?: any; errors?: Array<{ extensions?: { code?: string } }> }) };
}
const codes = (r: { errors?: Array<{ extensions?: { code?: string } }> }) => (r.errors ?? []).map((e) => e.extensions?.code);

describe('trusted documents', () => {
  it('serves a known document by hash, as Apollo’s persistedQuery or as documentId, in either mode', async () => {
    for (const url of [sys.url, only.url]) {
      const apq = await post(url, { extensions: persisted(hashOf('Catalog')) });
      expect(apq.errors, url).toBeUndefined();
      expect(apq.data.lectures.totalCount).toBeGreaterThanOrEqual(0);
      const byId = await post(url, { documentId: `sha256:${hashOf('MyRegistrations')}` }, student);
      expect(byId.errors, url).toBeUndefined();
      expect(byId.data.myRegistrationsPage).toMatchObject({ totalCount: 0, edges: [] });
      const get = await fetch(`${url}/graphql?documentId=${hashOf('Catalog')}`, { headers: { 'apollo-require-preflight': 'true' } });
      expect(((await get.json()) as { data?: unknown }).data, url).toBeDefined();
    }
    // @courses/client sends its generated documents by hash.
    expect(await request(`${only.url}/graphql`, MyRegistrationsDocument, {}, student)).toMatchObject({
      myRegistrationsPage: { totalCount: 0, edges: [] },
    });
  });

  it('answers an unknown hash PERSISTED_QUERY_NOT_FOUND', async () => {
    for (const url of [sys.url, only.url]) {
      expect(codes(await post(url, { extensions: persisted('0'.repeat(64)) }))).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
      expect(codes(await post(url, { documentId: `sha256:${'1'.repeat(64)}` }))).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
    }
  });

  it('in only mode, refuses an ad-hoc query and mutation with PERSISTED_QUERY_NOT_IN_LIST before anything runs, and registers nothing', async () => {
    const query = await post(only.url, { query: '{ lectures(first: 1) { totalCount } }' });
    expect(query.status).toBe(400);
    expect(codes(query)).toEqual(['PERSISTED_QUERY_NOT_IN_LIST']);
    expect(query.data).toBeUndefined();
    const before = (await post(sys.url, { query: '{ lectures(first: 100) { totalCount } }' })).data.lectures.totalCount;
    const mutation = await post(
      only.url,
      { query: 'mutation { openLecture(input: { title: "Ad hoc", capacity: 5, price: 1000 }) { id } }' },
      instructor,
    );
    expect(codes(mutation)).toEqual(['PERSISTED_QUERY_NOT_IN_LIST']);
    expect((await post(sys.url, { query: '{ lectures(first: 100) { totalCount } }' })).data.lectures.totalCount).toBe(before);
    // An APQ registration (text with its hash) is refused, and the hash stays unknown.
    const text = '{ __typename }';
    const hash = createHash('sha256').update(text).digest('hex');
    expect(codes(await post(only.url, { query: text, extensions: persisted(hash) }))).toEqual(['PERSISTED_QUERY_NOT_IN_LIST']);
    expect(codes(await post(only.url, { extensions: persisted(hash) }))).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
    // The allowing gateway still runs ad-hoc documents (GraphiQL in development).
    expect((await post(sys.url, { query: text })).data).toEqual({ __typename: 'Query' });
  });

  it.each<Transport>(['ws', 'sse', 'multipart'])(
    'in only mode over %s, refuses an ad-hoc subscription and delivers a known one sent by hash',
    async (transport) => {
      const adHoc = subscribeOver(transport, only.url, 'subscription { registrationStatusChanged { id status } }', { token: student });
      const [refused] = await adHoc.waitFor(1);
      expect(refused!.errors?.map((e) => e.extensions?.code)).toEqual(['PERSISTED_QUERY_NOT_IN_LIST']);
      adHoc.stop();

      const unknown = subscribeOver(transport, only.url, '', { token: student, extensions: persisted('2'.repeat(64)) });
      expect((await unknown.waitFor(1))[0]!.errors?.map((e) => e.extensions?.code)).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
      unknown.stop();

      const sub = `s-trusted-${transport}`;
      const token = await sys.token('STUDENT', sub);
      const listening = only.hub.listeners;
      const feed = subscribeOver(transport, only.url, '', { token, extensions: persisted(hashOf('MyRegistrationChanges')) });
      await eventually(async () => only.hub.listeners > listening, 10_000, 'subscribed');
      const lecture = await sys.openLecture(instructor, `Trusted ${transport}`);
      await eventually(
        async () => {
          const r = await post(only.url, { documentId: hashOf('Register'), variables: { id: lecture } }, token);
          return r.data?.registerForLecture?.status === 'CONFIRMED';
        },
        15_000,
        'registered by hash',
      );
      const [delivered] = await feed.waitFor(1, 15_000);
      expect(JSON.stringify(delivered!.data)).toContain('CONFIRMED');
      feed.stop();
    },
    60_000,
  );
});

describe('a manifest', () => {
  it('is refused when an entry is not the sha256 of its document', () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'manifest-')), 'm.json');
    writeFileSync(file, JSON.stringify({ ['a'.repeat(64)]: '{ __typename }' }));
    expect(() => TrustedDocuments.load('only', [file])).toThrow(/not a document whose sha256 is its key/);
    expect(TrustedDocuments.load('off', [file]).size).toBe(0);
    expect(TrustedDocuments.load('only', [fileURLToPath(MANIFEST)]).size).toBe(Object.keys(manifest).length);
  });
});
