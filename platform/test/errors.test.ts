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

  it('leaves every other error as Apollo formatted it', () => {
    const wrapped = new GraphQLError('boom', { originalError: new Error('boom') });
    expect(formatSubgraphError(formatted, wrapped)).toBe(formatted);
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
