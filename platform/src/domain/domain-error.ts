/**
 * Client-facing error codes and the transport-free {@link DomainError}. The domain and the
 * application services throw DomainError; the subgraph kit turns it into a GraphQL error in one
 * place ({@link ./errors.ts} formatSubgraphError). No GraphQL import here.
 *
 * Every error a client can act on carries one of these codes in `extensions.code`; the codes are
 * part of the public contract and never change meaning.
 */
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

/** What a {@link DomainError} adds to the client's `extensions`, beside its code. */
export interface DomainErrorDetails {
  /** The offending input field (BAD_USER_INPUT). */
  field?: string;
  /** When trying again makes sense, s (PAYMENT_UNAVAILABLE, SERVICE_UNAVAILABLE). */
  retryAfterSeconds?: number;
}

/**
 * A rule of the domain refused an action: `code` says which rule (one of {@link ErrorCode}),
 * `message` says it to a person, `details` adds what a client needs to act on it. Knows nothing
 * of GraphQL or HTTP.
 *
 * It is an answer, not a fault, so it records no stack trace: a rush of refusals (a thousand
 * LECTURE_FULL in a second) would otherwise spend a good share of its CPU capturing and
 * formatting stacks nobody reads (docs/performance.md, "The registration rush").
 */
export class DomainError extends Error {
  override readonly name = 'DomainError';
  readonly code: ErrorCode;
  readonly details: DomainErrorDetails;

  constructor(code: ErrorCode, message: string, details: DomainErrorDetails = {}) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super(message);
    } finally {
      Error.stackTraceLimit = limit;
    }
    this.code = code;
    this.details = details;
  }
}

/**
 * A BAD_USER_INPUT refusal naming the offending argument: the client sees `message` with
 * `extensions.code` BAD_USER_INPUT and `extensions.field` = `field` (formatSubgraphError).
 */
export function invalidInput(field: string, message: string): DomainError {
  return new DomainError(ErrorCode.BAD_USER_INPUT, message, { field });
}
