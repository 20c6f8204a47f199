/**
 * Client-facing error codes. Every error a client can act on carries one of these in
 * `extensions.code`; the codes are part of the public contract and never change meaning.
 */
import { GraphQLError } from 'graphql';

export const ErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  LECTURE_NOT_OPEN: 'LECTURE_NOT_OPEN',
  LECTURE_FULL: 'LECTURE_FULL',
  ALREADY_REGISTERED: 'ALREADY_REGISTERED',
  REGISTRATION_NOT_ACTIVE: 'REGISTRATION_NOT_ACTIVE',
  PAYMENT_DECLINED: 'PAYMENT_DECLINED',
  PAYMENT_UNAVAILABLE: 'PAYMENT_UNAVAILABLE',
  /** A subgraph the operation needs cannot be reached right now (see `retryAfterSeconds`). */
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  /** The caller sent more mutations than the gateway's rate limit allows (see `retryAfterSeconds`). */
  RATE_LIMITED: 'RATE_LIMITED',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * A GraphQL error with a stable `extensions.code`. `extra` adds fields to `extensions`
 * (for example `retryAfterSeconds` on PAYMENT_UNAVAILABLE).
 */
export function appError(code: ErrorCode, message: string, extra: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { code, ...extra } });
}

/** BAD_USER_INPUT naming the offending argument in `extensions.field`. */
export function badInput(field: string, message: string): GraphQLError {
  return appError(ErrorCode.BAD_USER_INPUT, message, { field });
}
