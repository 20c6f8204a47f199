/**
 * @courses/client: the student page's operations (gateway/public/operations.graphql) as typed
 * documents, compiled by graphql-codegen's client preset against the supergraph
 * (`npm run codegen`; a test fails when they are stale or an operation stops validating).
 *
 * Each `<Name>Document` is a `TypedDocumentNode<Result, Variables>`: any client that knows the
 * type (Apollo Client, urql, graphql-request, graphql-ws with `print`) infers the result and the
 * variables from it. {@link request} is the smallest such client, over fetch.
 */
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';

export * from './generated/graphql.js';

/** A GraphQL error as the gateway sends it: `extensions.code` is stable (see the README). */
export interface GraphQLErrorShape {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string; [key: string]: unknown };
}

/** The errors of a response that had any; `errors[0].extensions.code` says what went wrong. */
export class GraphQLRequestError extends Error {
  override readonly name = 'GraphQLRequestError';

  constructor(
    readonly errors: GraphQLErrorShape[],
    /** The data that came back with the errors, if any (partial results). */
    readonly data: unknown,
  ) {
    super(errors.map((e) => `${e.extensions?.code ?? 'ERROR'}: ${e.message}`).join('; '));
  }
}

/** The sha256 of a generated document, as the trusted documents' manifest holds it (`__meta__.hash`). */
export function documentHash(document: TypedDocumentNode<unknown, never> | object): string | undefined {
  const hash = (document as { __meta__?: { hash?: unknown } }).__meta__?.hash;
  return typeof hash === 'string' ? hash : undefined;
}

/**
 * Sends `document` with `variables` to the gateway at `url` (…/graphql) over HTTP POST, as the
 * bearer of `token` when given. A generated document goes by its hash alone (a trusted document,
 * Apollo's `extensions.persistedQuery`); a gateway that does not know the hash
 * (PERSISTED_QUERY_NOT_FOUND) gets the text instead.
 * @returns the data, typed by the document.
 * @throws GraphQLRequestError when the response carries errors (or no data); fetch's error when
 *   the gateway cannot be reached.
 */
export async function request<Result, Variables extends Record<string, unknown>>(
  url: string,
  document: TypedDocumentNode<Result, Variables>,
  variables: Variables,
  token?: string,
): Promise<Result> {
  const hash = documentHash(document);
  const persisted = hash ? { persistedQuery: { version: 1, sha256Hash: hash } } : undefined;
  const post = async (withText: boolean) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      // The text alone: print's layout is not the manifest's, so it would not match the hash.
      body: JSON.stringify(withText ? { query: print(document), variables } : { variables, extensions: persisted }),
    });
    return { res, body: (await res.json()) as { data?: Result | null; errors?: GraphQLErrorShape[] } };
  };
  let { res, body } = await post(!persisted);
  if (persisted && body.errors?.[0]?.extensions?.code === 'PERSISTED_QUERY_NOT_FOUND') ({ res, body } = await post(true));
  if (body.errors?.length || !body.data) throw new GraphQLRequestError(body.errors ?? [{ message: `HTTP ${res.status}` }], body.data);
  return body.data;
}

/** A result as a subscription delivers it: `extensions.eventId` is the subscription's position after it. */
export interface SubscriptionResult<Result> {
  data?: Result | null;
  errors?: readonly GraphQLErrorShape[];
  extensions?: { eventId?: string; [key: string]: unknown };
}

/**
 * What {@link subscribeResuming} needs of a transport client: `subscribe(payload, sink)`, as
 * graphql-ws's `Client` (and graphql-sse's) has it. On each reconnection such a client sends the
 * payload again, serialized anew.
 */
export interface SubscribingClient {
  subscribe(
    payload: { query: string; variables?: Record<string, unknown>; extensions?: Record<string, unknown> },
    sink: { next(value: unknown): void; error(error: unknown): void; complete(): void },
  ): () => void;
}

/** What {@link subscribeResuming} tells its caller. */
export interface ResumingSink<Result> {
  /** Each delivery, in order, with the position after it. */
  next(data: Result, position: string | undefined): void;
  /**
   * The subscription ended with an error: a GraphQLRequestError whose `errors[0].extensions.code`
   * is RESUME_EXPIRED when the gateway could not replay what was missed (read again, then
   * subscribe anew without a position), or the transport's error.
   */
  error?(error: unknown): void;
  complete?(): void;
}

/**
 * Subscribes to `document` through `client` so that a reconnection resumes where the last
 * delivery left off: every delivery's position (`extensions.eventId`) is kept, and each time the
 * client sends the subscription again (its own reconnection, e.g. graphql-ws's `retryAttempts`)
 * it carries `extensions.lastEventId`, so the gateway first sends, in order, what was missed.
 * @param from a position saved earlier (e.g. in localStorage), to resume from at once
 * @returns a function that ends the subscription, and the last position seen (to save)
 */
export function subscribeResuming<Result, Variables extends Record<string, unknown>>(
  client: SubscribingClient,
  document: TypedDocumentNode<Result, Variables>,
  variables: Variables,
  sink: ResumingSink<Result>,
  from?: string,
): { dispose(): void; readonly position: string | undefined } {
  let position = from;
  const payload = {
    query: print(document),
    variables,
    // Read each time the client serializes the payload: a resend carries the latest position.
    get extensions() {
      return position ? { lastEventId: position } : undefined;
    },
  };
  const dispose = client.subscribe(payload, {
    next(value) {
      const r = value as SubscriptionResult<Result>;
      if (r.errors?.length || !r.data) return sink.error?.(new GraphQLRequestError([...(r.errors ?? [{ message: 'no data' }])], r.data));
      if (r.extensions?.eventId) position = r.extensions.eventId;
      sink.next(r.data, position);
    },
    error: (e) => sink.error?.(e),
    complete: () => sink.complete?.(),
  });
  return {
    dispose,
    get position() {
      return position;
    },
  };
}
