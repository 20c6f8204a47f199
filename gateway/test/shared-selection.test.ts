/** Subscriptions that differ only in aliases and operation name share one canonical query, and each gets its own result back. */
import { buildSchema, executeSync, parse, print, type DocumentNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { canonicalQuery, declaredVariables, fragmentsOf, projectResult, selectsOnly } from '../src/subscriptions/shared-selection.js';

const schema = buildSchema(`
  type Query { registration(id: ID!): Registration }
  type Registration { id: ID! status: String! lecture: Lecture! payment: Payment }
  type Lecture { id: ID! title: String! registrations(first: Int): [Registration!]! }
  type Payment { amount: Int! status: String! }
`);
const lecture = {
  id: 'l1',
  title: 'Graphs',
  registrations: ({ first }: { first?: number }) =>
    [
      { id: 'r1', status: 'CONFIRMED' },
      { id: 'r2', status: 'CANCELED' },
    ].slice(0, first ?? 2),
};
const rootValue = { registration: () => ({ id: 'r1', status: 'CONFIRMED', lecture, payment: { amount: 100, status: 'COMPLETED' } }) };

/** What graphql-js answers for `doc` (the reference the projection must equal). */
const run = (doc: DocumentNode, variables: Record<string, unknown> = {}) =>
  executeSync({ schema, document: doc, rootValue, variableValues: { ...variables, e: 'r1' } }).data as Record<string, unknown>;

describe('canonical subscription queries', () => {
  const a = parse('query Mine($e: ID!) { changed: registration(id: $e) { state: status lecture { name: title } } }');
  const b = parse('query Other($e: ID!) { registrationStatusChanged: registration(id: $e) { lecture { title } status } }');

  it('are equal for queries that differ only in aliases, field order and operation name', () => {
    expect(print(canonicalQuery(a))).toBe(print(canonicalQuery(b)));
    expect(print(canonicalQuery(a))).not.toContain('Mine');
  });

  it('differ when the selection does', () => {
    const c = parse('query($e: ID!) { registration(id: $e) { status payment { status } } }');
    expect(print(canonicalQuery(c))).not.toBe(print(canonicalQuery(b)));
  });

  it('give each subscriber exactly what its own query would have returned', () => {
    const cases: Array<[string, Record<string, unknown>]> = [
      ['query Mine($e: ID!) { changed: registration(id: $e) { state: status lecture { name: title } } }', {}],
      ['query($e: ID!) { r: registration(id: $e) { ...F lecture { id } } } fragment F on Registration { status lecture { t: title } }', {}],
      [
        'query($e: ID!, $v: Boolean!) { registration(id: $e) { id payment @include(if: $v) { amount } status @skip(if: $v) } }',
        { v: true },
      ],
      [
        'query($e: ID!, $v: Boolean!) { registration(id: $e) { id payment @include(if: $v) { amount } status @skip(if: $v) } }',
        { v: false },
      ],
      [
        'query($e: ID!) { x: registration(id: $e) { lecture { one: registrations(first: 1) { id } all: registrations { s: status } } } }',
        {},
      ],
      ['query($e: ID!) { x: registration(id: $e) { ... on Registration { id } id lecture { title } lecture { id } } }', {}],
    ];
    for (const [text, variables] of cases) {
      const own = parse(text);
      const canonical = canonicalQuery(own);
      const used = Object.fromEntries(
        declaredVariables(canonical)
          .filter((v) => v in variables)
          .map((v) => [v, variables[v]]),
      );
      const projected = projectResult(own, run(canonical, used), variables);
      expect(JSON.stringify(projected), text).toBe(JSON.stringify(run(own, variables)));
    }
  });
});

describe('public selections', () => {
  const allowed = new Set(['id', 'title', 'status']);
  const rootSet = (text: string) => {
    const doc = parse(text);
    const op = doc.definitions.find((d) => d.kind === 'OperationDefinition') as any;
    return { set: op.selectionSet.selections[0].selectionSet, fragments: fragmentsOf(doc) };
  };

  it('holds when every leaf, also in fragments, is an allowed field', () => {
    const { set, fragments } = rootSet('subscription { x { id ... on L { title } ...F } } fragment F on L { status }');
    expect(selectsOnly(set, allowed, fragments)).toBe(true);
  });

  it('fails on any other field, a nested selection, or one inside a fragment', () => {
    for (const text of [
      'subscription { x { id registrations { id } } }',
      'subscription { x { id secret } }',
      'subscription { x { ...F } } fragment F on L { id registrations { totalCount } }',
    ]) {
      const { set, fragments } = rootSet(text);
      expect(selectsOnly(set, allowed, fragments), text).toBe(false);
    }
  });
});
