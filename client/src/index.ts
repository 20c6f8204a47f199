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

/**
 * Sends `document` with `variables` to the gateway at `url` (…/graphql) over HTTP POST, as the
 * bearer of `token` when given.
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
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query: print(document), variables }),
  });
  const body = (await res.json()) as { data?: Result | null; errors?: GraphQLErrorShape[] };
  if (body.errors?.length || !body.data) throw new GraphQLRequestError(body.errors ?? [{ message: `HTTP ${res.status}` }], body.data);
  return body.data;
}
