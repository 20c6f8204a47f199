/** A minimal GraphQL client for tests and scripts: HTTP POST and graphql-ws subscriptions. */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export interface GraphQLResponse<T = Record<string, any>> {
  status: number;
  data?: T | null;
  errors?: Array<{ message: string; extensions?: Record<string, any>; path?: unknown[] }>;
}

/** POSTs an operation to `<url>/graphql`, with `Authorization: Bearer <token>` when given. */
export async function gql<T = Record<string, any>>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
): Promise<GraphQLResponse<T>> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as GraphQLResponse<T>;
  return { status: res.status, data: body.data, errors: body.errors };
}

/** Like {@link gql} but throws on any error; returns `data`. */
export async function gqlOk<T = Record<string, any>>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
): Promise<T> {
  const r = await gql<T>(url, query, variables, token);
  if (r.errors?.length || !r.data) throw new Error(`GraphQL error (HTTP ${r.status}): ${JSON.stringify(r.errors)}`);
  return r.data;
}

/** A graphql-ws client on `<url>/graphql` (ws://), authenticated in connection_init when `token` is given. */
export function wsClient(url: string, token?: string, onClose?: (code: number, reason: string) => void): Client {
  return createClient({
    url: `${url.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    retryAttempts: 0,
    lazy: false,
    // A caller watching closes expects them (e.g. 4403 for a bad token): do not print them.
    ...(onClose ? { onNonLazyError: () => undefined } : {}),
    on: onClose ? { closed: (e) => onClose((e as { code: number }).code, (e as { reason: string }).reason) } : undefined,
  });
}

/** A running subscription that collects its results. */
export interface Collected<T> {
  results: Array<{ data?: T; errors?: unknown[] }>;
  /** Resolves once at least `n` results arrived (rejects after `timeoutMs`). */
  waitFor(n: number, timeoutMs?: number): Promise<Array<{ data?: T; errors?: unknown[] }>>;
  stop(): void;
  done: Promise<void>;
}

/** Subscribes and collects every result. */
export function collect<T = Record<string, any>>(client: Client, query: string, variables: Record<string, unknown> = {}): Collected<T> {
  const results: Array<{ data?: T; errors?: unknown[] }> = [];
  const waiters: Array<() => void> = [];
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const stop = client.subscribe<T>(
    { query, variables },
    {
      next: (v) => {
        results.push(v as never);
        waiters.splice(0).forEach((w) => w());
      },
      error: (e) => {
        results.push({ errors: [e] });
        waiters.splice(0).forEach((w) => w());
        resolveDone();
      },
      complete: () => resolveDone(),
    },
  );
  return {
    results,
    stop,
    done,
    waitFor(n, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`only ${results.length} of ${n} subscription results after ${timeoutMs} ms: ${JSON.stringify(results)}`)),
          timeoutMs,
        );
        const check = () => {
          if (results.length >= n) {
            clearTimeout(timer);
            resolve(results);
          } else waiters.push(check);
        };
        check();
      });
    },
  };
}

/** Polls `probe` every 100 ms until it returns a truthy value (returned) or `timeoutMs` passes (throws). */
export async function eventually<T>(
  probe: () => Promise<T | undefined | null | false>,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until)
      throw new Error(`${what} not reached in ${timeoutMs} ms (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
