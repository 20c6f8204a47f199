import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { DomainError, ErrorCode, formatSubgraphError, transition } from '../src/index.js';

describe('DomainError → GraphQL error (the one place)', () => {
  const formatted = { message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' }, path: ['x'] };

  it('gives a domain refusal its code, message and details', () => {
    const cause = new DomainError(ErrorCode.BAD_USER_INPUT, 'title must not be empty', { field: 'title' });
    const wrapped = new GraphQLError(cause.message, { originalError: cause, path: ['x'] });
    expect(formatSubgraphError(formatted, wrapped)).toEqual({
      message: 'title must not be empty',
      path: ['x'],
      extensions: { code: 'BAD_USER_INPUT', field: 'title' },
    });
  });

  it("tells the client nothing of an unexpected error's words (a driver's message names hosts), keeping its code and path", () => {
    const driver = new Error('connect ECONNREFUSED 10.2.3.4:27017 (registration_db.registrations)');
    const wrapped = new GraphQLError(driver.message, { originalError: driver, path: ['x'] });
    const out = formatSubgraphError({ ...formatted, message: driver.message }, wrapped);
    expect(out).toMatchObject({ message: 'internal error', path: ['x'], extensions: { code: 'INTERNAL_SERVER_ERROR' } });
    expect(JSON.stringify(out)).not.toContain('10.2.3.4');
  });

  it('leaves GraphQL errors, and those thrown with a code on purpose, as Apollo formatted them', () => {
    const validation = { message: 'Cannot query field "nope" on type "Query".', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } };
    expect(formatSubgraphError(validation, new GraphQLError(validation.message))).toBe(validation);
    const deliberate = new GraphQLError('slow down', { extensions: { code: 'RATE_LIMITED' } });
    const f = { message: 'slow down', extensions: { code: 'RATE_LIMITED' } };
    expect(formatSubgraphError(f, new GraphQLError('slow down', { originalError: deliberate }))).toBe(f);
  });
});

describe('transition', () => {
  it('stamps the change, builds the next state and the event from it', () => {
    const now = new Date('2026-11-22T00:00:00Z');
    const current = { id: 'a', status: 'OPEN' as 'OPEN' | 'SHUT', note: 'x', updatedAt: new Date(0) };
    const t = transition(current, 'OPEN', { status: 'SHUT' }, now, (next) => ({ seen: next.status }) as never);
    expect(t.from).toBe('OPEN');
    expect(t.set).toEqual({ status: 'SHUT', updatedAt: now });
    expect(t.next).toEqual({ id: 'a', status: 'SHUT', note: 'x', updatedAt: now });
    expect(t.event).toEqual({ seen: 'SHUT' });
    expect(current.status).toBe('OPEN');
  });
});
