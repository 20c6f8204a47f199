/**
 * GraphQL errors with a stable `extensions.code`, and the one place where a {@link DomainError}
 * becomes one (formatSubgraphError, used by every subgraph's Apollo Server).
 */
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { DomainError, ErrorCode } from './domain-error.js';

export { DomainError, ErrorCode, type DomainErrorDetails } from './domain-error.js';

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

/**
 * Apollo Server's `formatError` for subgraphs: an error whose cause is a {@link DomainError}
 * leaves with its code and details in `extensions` (instead of INTERNAL_SERVER_ERROR); every
 * other error is left as Apollo formatted it.
 */
export function formatSubgraphError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  // A resolver's error reaches formatError wrapped in a GraphQLError, its cause in `originalError`.
  const cause = error instanceof DomainError ? error : (error as { originalError?: unknown } | null)?.originalError;
  if (!(cause instanceof DomainError)) return formatted;
  return { ...formatted, message: cause.message, extensions: { ...formatted.extensions, code: cause.code, ...cause.details } };
}
