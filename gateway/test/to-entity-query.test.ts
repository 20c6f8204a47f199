import { getOperationAST, parse, print } from 'graphql';
import { describe, expect, it } from 'vitest';
import { toEntityQuery } from '../src/subscriptions/to-entity-query.js';

function rewrite(src: string, field = 'registration') {
  const doc = parse(src);
  return print(toEntityQuery(doc, getOperationAST(doc)!, field));
}

describe('subscription → entity query', () => {
  it('keeps the selection and the response key and fetches the entity by id', () => {
    const out = rewrite(`subscription S { registrationStatusChanged(registrationId: "x") { id status payment { status } } }`);
    expect(out).toContain('query S($__entityId: ID!)');
    expect(out).toContain('registrationStatusChanged: registration(id: $__entityId)');
    expect(out).toContain('payment {');
  });

  it('keeps aliases, fragments and variables the selection uses, and drops the rest', () => {
    const out = rewrite(
      `subscription($id: ID, $withLecture: Boolean!) { mine: registrationStatusChanged(registrationId: $id) { ...F lecture @include(if: $withLecture) { title } } }
       fragment F on Registration { id status }`,
    );
    expect(out).toContain('mine: registration(id: $__entityId)');
    expect(out).toContain('fragment F on Registration');
    expect(out).toContain('$withLecture: Boolean!');
    expect(out).not.toContain('$id: ID');
  });
});
