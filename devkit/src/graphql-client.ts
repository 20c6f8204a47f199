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
    waitFor: (n, timeoutMs = 10_000) => waitForResults(results, waiters, n, timeoutMs, 'subscription'),
  };
}

/**
 * Resolves with `results` once it holds `n` (checked now and whenever a waiter in `waiters` is
 * called); rejects after `timeoutMs`, saying what came, as `what`.
 */
function waitForResults<R>(results: R[], waiters: Array<() => void>, n: number, timeoutMs: number, what: string): Promise<R[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`only ${results.length} of ${n} ${what} results after ${timeoutMs} ms: ${JSON.stringify(results)}`)),
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

/** How a live feed reaches the gateway: graphql-ws, GraphQL over SSE (distinct connections), or Apollo's multipart HTTP. */
export type Transport = 'ws' | 'sse' | 'multipart';

/** A subscription result as every transport delivers it; `extensions.eventId` is its position. */
export interface LiveResult<T = Record<string, any>> {
  data?: T;
  errors?: Array<{ message: string; extensions?: Record<string, any> }>;
  extensions?: { eventId?: string };
  /** SSE only: the `id:` line of the message. */
  sseId?: string;
}

/** A subscription over any {@link Transport} that collects its results. */
export interface LiveFeed<T = Record<string, any>> extends Omit<Collected<T>, 'results' | 'waitFor'> {
  results: LiveResult<T>[];
  waitFor(n: number, timeoutMs?: number): Promise<LiveResult<T>[]>;
}

/** Options of {@link subscribeOver}. */
export interface SubscribeOverOptions {
  token?: string;
  variables?: Record<string, unknown>;
  /** The position to resume from (graphql-ws and multipart: `extensions.lastEventId`; SSE: `Last-Event-ID`). */
  lastEventId?: string;
  /** Called with each result as it arrives (besides collecting it, unless `keep` is false). */
  onResult?(result: LiveResult): void;
  /** False: results are only handed to `onResult`, not kept in `results` (long runs, many clients). */
  keep?: boolean;
  /** More of the payload's `extensions` (e.g. `persistedQuery`, a trusted document by hash; `query` is then ''). */
  extensions?: Record<string, unknown>;
}

/** Where a transport hands its results: `push` each one, `finish` once when the subscription ends. */
interface Sink<T> {
  push(result: LiveResult<T>): void;
  finish(): void;
}

/** Subscribes over graphql-ws; returns its stop. */
function overWs<T>(url: string, query: string, o: SubscribeOverOptions, { push, finish }: Sink<T>): () => void {
  const client = wsClient(url, o.token);
  const dispose = client.subscribe<T>(
    {
      query,
      variables: o.variables ?? {},
      ...(o.lastEventId || o.extensions
        ? { extensions: { ...o.extensions, ...(o.lastEventId ? { lastEventId: o.lastEventId } : {}) } }
        : {}),
    },
    {
      next: (v) => push(v as LiveResult<T>),
      // graphql-ws reports an operation the server refused as an `error` message: its GraphQL errors.
      error: (e) => (push({ errors: Array.isArray(e) ? e : [{ message: String((e as Error).message ?? e) }] }), finish()),
      complete: finish,
    },
  );
  return () => {
    dispose();
    void client.dispose();
  };
}

/**
 * Reads the complete SSE messages at the start of `text` (messages end with a blank line; `id:`,
 * `event:` and `data:` lines: https://html.spec.whatwg.org/multipage/server-sent-events.html).
 * @returns what is left unread, and whether a `complete` event ended the stream.
 */
function readSse<T>(text: string, push: (r: LiveResult<T>) => void): { rest: string; ended: boolean } {
  let end: number;
  while ((end = text.indexOf('\n\n')) >= 0) {
    const message = text.slice(0, end);
    text = text.slice(end + 2);
    const field = (name: string) =>
      message
        .split('\n')
        .find((l) => l.startsWith(`${name}:`))
        ?.slice(name.length + 1)
        .trim();
    if (field('event') === 'next') push({ ...(JSON.parse(field('data')!) as LiveResult<T>), sseId: field('id') });
    if (field('event') === 'complete') return { rest: text, ended: true };
  }
  return { rest: text, ended: false };
}

/**
 * Reads the complete multipart parts at the start of `text` (`\r\n--graphql`, headers, a blank
 * line, then JSON, `{}` being a heartbeat; `--graphql--` ends: Apollo's multipart subscription protocol).
 * @returns what is left unread, and whether the closing boundary ended the stream.
 */
function readMultipart<T>(text: string, push: (r: LiveResult<T>) => void): { rest: string; ended: boolean } {
  for (;;) {
    if (text.startsWith('\r\n--graphql--')) return { rest: text, ended: true };
    if (!text.startsWith('\r\n--graphql\r\n')) {
      const i = text.indexOf('\r\n--graphql');
      if (i <= 0) return { rest: text, ended: false };
      text = text.slice(i);
      continue;
    }
    const bodyAt = text.indexOf('\r\n\r\n');
    if (bodyAt < 0) return { rest: text, ended: false };
    const next = text.indexOf('\r\n--graphql', bodyAt);
    let json: { payload?: LiveResult<T>; errors?: LiveResult['errors'] };
    try {
      json = JSON.parse(text.slice(bodyAt + 4, next < 0 ? undefined : next));
    } catch {
      if (next < 0) return { rest: text, ended: false }; // the part is not all here yet
      json = {};
    }
    text = next < 0 ? '' : text.slice(next);
    if (json.payload) push(json.payload);
    else if (json.errors) push({ errors: json.errors });
  }
}

/** Subscribes over SSE or multipart HTTP with fetch; returns its stop. */
function overHttp<T>(
  transport: 'sse' | 'multipart',
  url: string,
  query: string,
  o: SubscribeOverOptions,
  { push, finish }: Sink<T>,
): () => void {
  const abort = new AbortController();
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: transport === 'sse' ? 'text/event-stream' : 'multipart/mixed;subscriptionSpec="1.0", application/json',
    ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
    ...(transport === 'sse' && o.lastEventId ? { 'last-event-id': o.lastEventId } : {}),
  };
  const resumeAt = transport === 'multipart' && o.lastEventId ? { lastEventId: o.lastEventId } : undefined;
  const extensions = resumeAt || o.extensions ? { ...o.extensions, ...resumeAt } : undefined;
  const read = transport === 'sse' ? readSse<T> : readMultipart<T>;
  void (async () => {
    const res = await fetch(`${url}${transport === 'sse' ? '/graphql/stream' : '/graphql'}`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ query, variables: o.variables ?? {}, extensions }),
      signal: abort.signal,
    });
    if (!(res.headers.get('content-type') ?? '').match(/event-stream|multipart/)) return push((await res.json()) as LiveResult<T>);
    const decoder = new TextDecoder();
    let text = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      const { rest, ended } = read(text + decoder.decode(chunk, { stream: true }), push);
      if (ended) return;
      text = rest;
    }
  })()
    .catch(() => undefined)
    .finally(finish);
  return () => abort.abort();
}

/**
 * Subscribes to `query` at `<url>` over `transport` and collects the results (each transport's own
 * client: graphql-ws; and fetch, reading the SSE and multipart framing as they are specified).
 * `done` resolves when the server ends the subscription or the connection drops.
 */
export function subscribeOver<T = Record<string, any>>(
  transport: Transport,
  url: string,
  query: string,
  o: SubscribeOverOptions = {},
): LiveFeed<T> {
  const results: LiveResult<T>[] = [];
  const waiters: Array<() => void> = [];
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const sink: Sink<T> = {
    push(r) {
      o.onResult?.(r as LiveResult);
      if (o.keep === false) return;
      results.push(r);
      waiters.splice(0).forEach((w) => w());
    },
    finish() {
      resolveDone();
      waiters.splice(0).forEach((w) => w());
    },
  };
  const stop = transport === 'ws' ? overWs(url, query, o, sink) : overHttp(transport, url, query, o, sink);
  return {
    results,
    stop,
    done,
    waitFor: (n, timeoutMs = 10_000) => waitForResults(results, waiters, n, timeoutMs, transport),
  };
}
