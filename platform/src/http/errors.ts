/**
 * GraphQL errors with a stable `extensions.code`, and the one place where a {@link DomainError}
 * becomes one (formatSubgraphError, used by every subgraph's Apollo Server).
 */
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { DomainError, ErrorCode } from '../domain/index.js';
import type { Logger } from '../observability/index.js';

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

/** What a client is told of an error nobody meant it to see (the original stays in the service's log). */
export const INTERNAL_MESSAGE = 'internal error';

/**
 * Apollo Server's `formatError` for subgraphs: an error whose cause is a {@link DomainError}
 * leaves with its code and details in `extensions` (instead of INTERNAL_SERVER_ERROR); an
 * INTERNAL_SERVER_ERROR whose cause is not a GraphQLError (a driver's, a bug's: their messages
 * name hosts, collections, stack frames) leaves as {@link INTERNAL_MESSAGE}, its code and path
 * kept; every other error (GraphQL's own, and those thrown with a code on purpose) is left as
 * Apollo formatted it.
 */
export function formatSubgraphError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  // A resolver's error reaches formatError wrapped in a GraphQLError, its cause in `originalError`.
  const cause = error instanceof DomainError ? error : (error as { originalError?: unknown } | null)?.originalError;
  if (cause instanceof DomainError)
    return { ...formatted, message: cause.message, extensions: { ...formatted.extensions, code: cause.code, ...cause.details } };
  if (formatted.extensions?.code === ErrorCode.INTERNAL_SERVER_ERROR && cause && !(cause instanceof GraphQLError))
    return {
      message: INTERNAL_MESSAGE,
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
    };
  return formatted;
}

/**
 * An Apollo Server plugin that logs, with its stack, every error a resolver raised that is neither
 * a domain refusal nor a GraphQL error thrown on purpose: what {@link formatSubgraphError} hides
 * from the client is kept here.
 */
export function logUnexpectedErrors<Ctx extends BaseContext>(logger: Logger): ApolloServerPlugin<Ctx> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors, operationName }) {
          for (const e of errors) {
            const cause = e.originalError;
            if (cause && !(cause instanceof GraphQLError) && !(cause instanceof DomainError))
              logger.error({ err: cause, operationName, path: e.path }, 'resolver failed');
          }
        },
      };
    },
  };
}
