/**
 * Trusted documents: the operations this product's own clients send, known ahead by hash, and in
 * `TRUSTED_DOCUMENTS=only` the only operations the gateway runs (as Apollo's persisted query
 * lists, Hive's persisted documents and Cosmo's persisted operations do).
 *
 * - The manifest: `{ "<sha256 hex of the document>": "<document>" }`, as graphql-codegen's client
 *   preset writes it with `persistedDocuments` (client/src/generated/persisted-documents.json,
 *   from gateway/public/operations.graphql). `TRUSTED_DOCUMENTS_MANIFESTS` lists the files; a
 *   gateway may hold several (each client version's), so it serves old and new clients alike.
 * - A request names a document by hash in either convention: Apollo's
 *   `extensions.persistedQuery.sha256Hash` (automatic persisted queries) or the GraphQL-over-HTTP
 *   `documentId` (`sha256:<hex>` or the bare hex). On HTTP, graphql-ws, SSE and multipart alike.
 *   An unknown hash answers PERSISTED_QUERY_NOT_FOUND (an APQ client then sends the text with its
 *   hash, which `allow` registers and `only` refuses).
 * - Modes: `off` (no manifest; Apollo's APQ as usual), `allow` (default: known hashes served, any
 *   other document too), `only` (every document must be in a manifest, whether sent by hash or as
 *   text: any other is refused PERSISTED_QUERY_NOT_IN_LIST, HTTP 400, before it runs; no
 *   registration). The error codes are Apollo Router's for the same refusals.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ApolloServerPlugin } from '@apollo/server';
import { InMemoryLRUCache, type KeyValueCache } from '@apollo/utils.keyvaluecache';
import { GraphQLError, parse } from 'graphql';
import type { GatewayContext } from './subgraph-client.js';

/** See the module doc. */
export type TrustedDocumentsMode = 'off' | 'allow' | 'only';

/** The refusal of a request's document: a stable code and a message for the client. */
export interface DocumentRefusal {
  code: 'PERSISTED_QUERY_NOT_FOUND' | 'PERSISTED_QUERY_NOT_IN_LIST';
  message: string;
}

/** What a request carries that may name a document: its text, its id, its APQ extension. */
export interface DocumentParams {
  query?: unknown;
  documentId?: unknown;
  extensions?: unknown;
}

/** sha256 of `text` as lowercase hex: the manifests' and Apollo's `queryHash`. */
export const sha256Hex = (text: string): string => createHash('sha256').update(text).digest('hex');

/** The sha256 hex a `documentId` names (`sha256:<hex>` or the bare hex). */
const hashOfDocumentId = (id: string): string => id.replace(/^sha256:/, '').toLowerCase();

/** The hash a request names, from `documentId` or `extensions.persistedQuery.sha256Hash`; undefined when neither. */
export function requestedHash(params: DocumentParams): string | undefined {
  if (typeof params.documentId === 'string') return hashOfDocumentId(params.documentId);
  const persisted = (params.extensions as { persistedQuery?: { sha256Hash?: unknown } } | undefined)?.persistedQuery;
  return typeof persisted?.sha256Hash === 'string' ? persisted.sha256Hash.toLowerCase() : undefined;
}

/** The manifests' documents and the mode they are enforced in. */
export class TrustedDocuments {
  private constructor(
    readonly mode: TrustedDocumentsMode,
    /** sha256 hex → document text. */
    private readonly byHash: ReadonlyMap<string, string>,
  ) {}

  /**
   * Reads `files` (JSON manifests, see the module doc) for `mode`; none are read when `off`.
   * @throws when a file cannot be read or parsed, or an entry's hash is not the sha256 of its
   *   document (a manifest from another hash algorithm would otherwise serve nothing).
   */
  static load(mode: TrustedDocumentsMode, files: readonly string[]): TrustedDocuments {
    const byHash = new Map<string, string>();
    if (mode !== 'off')
      for (const file of files) {
        const manifest = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
        for (const [hash, document] of Object.entries(manifest)) {
          if (typeof document !== 'string' || sha256Hex(document) !== hash.toLowerCase())
            throw new Error(`${file}: entry ${hash} is not a document whose sha256 is its key`);
          byHash.set(hash.toLowerCase(), document);
        }
      }
    return new TrustedDocuments(mode, byHash);
  }

  /** Documents in the manifests (count). */
  get size(): number {
    return this.byHash.size;
  }

  /** The document of `hash`, or undefined. */
  document(hash: string): string | undefined {
    return this.byHash.get(hash.toLowerCase());
  }

  /** Whether `queryHash` (sha256 hex of a document's text) is a manifest's. */
  trusts(queryHash: string): boolean {
    return this.byHash.has(queryHash);
  }

  /**
   * The text a streaming request (graphql-ws, SSE, multipart) runs, `params.query` replaced by the
   * manifest's document when it names a hash; or the refusal. A request that names no hash keeps
   * its text, and in `only` mode that text must itself be a manifest's.
   */
  resolve(params: DocumentParams): { query: string } | DocumentRefusal {
    const hash = this.mode === 'off' ? undefined : requestedHash(params);
    if (hash !== undefined) {
      const document = this.byHash.get(hash);
      return document !== undefined ? { query: document } : { code: 'PERSISTED_QUERY_NOT_FOUND', message: 'PersistedQueryNotFound' };
    }
    if (typeof params.query !== 'string') return { query: '' };
    if (this.mode === 'only' && !this.byHash.has(sha256Hex(params.query))) return notInList();
    return { query: params.query };
  }

  /**
   * The name → hash of each operation in the manifests (the pages send these). A name that two
   * documents share maps to the later file's.
   */
  operationHashes(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [hash, text] of this.byHash)
      for (const def of parse(text).definitions) if (def.kind === 'OperationDefinition' && def.name) out[def.name.value] = hash;
    return out;
  }

  /**
   * Apollo Server's APQ cache (`persistedQueries.cache`, keys `apq:<sha256>`): the manifests'
   * documents first, then what APQ clients register (an LRU of ~30 MB), except in `only` mode,
   * where nothing is registered.
   */
  apqCache(): KeyValueCache<string> {
    const registered = new InMemoryLRUCache<string>();
    const own = (key: string) => (key.startsWith('apq:') ? this.byHash.get(key.slice(4)) : undefined);
    return {
      get: async (key) => own(key) ?? (this.mode === 'only' ? undefined : registered.get(key)),
      set: async (key, value, options) => {
        if (this.mode !== 'only' && own(key) === undefined) await registered.set(key, value, options);
      },
      delete: async (key) => registered.delete(key),
    };
  }
}

/** The refusal of a document no manifest holds, in `only` mode. */
export function notInList(): DocumentRefusal {
  return {
    code: 'PERSISTED_QUERY_NOT_IN_LIST',
    message: 'this gateway runs only trusted documents (TRUSTED_DOCUMENTS=only): send a known document by its hash',
  };
}

/**
 * `TRUSTED_DOCUMENTS=only` over HTTP, as an Apollo plugin: a document whose sha256 (Apollo's
 * `queryHash`, the hash it was sent by or of its text) no manifest holds is refused
 * PERSISTED_QUERY_NOT_IN_LIST, HTTP 400, once parsed and validated and before anything runs.
 * Operations the gateway runs itself (`vetted`: a subscription transport's, checked already, and
 * each subscription's per-event query) pass.
 */
export function trustedOnlyPlugin(trusted: TrustedDocuments): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ queryHash, contextValue }) {
          if (contextValue.vetted || trusted.trusts(queryHash)) return;
          const refusal = notInList();
          throw new GraphQLError(refusal.message, {
            extensions: { code: refusal.code, http: { status: 400, headers: new Map() as unknown as Record<string, string> } },
          });
        },
      };
    },
  };
}

/**
 * A GraphQL-over-HTTP request's `documentId` as Apollo's APQ extension (Apollo Server knows only
 * the latter): `body` (POST) and `search` (GET) rewritten in place; unchanged without one.
 */
export function documentIdAsPersistedQuery(body: unknown, search: URLSearchParams): void {
  const persisted = (id: string) => ({ version: 1, sha256Hash: hashOfDocumentId(id) });
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    const b = body as { documentId?: unknown; extensions?: Record<string, unknown> };
    if (typeof b.documentId === 'string') {
      b.extensions = { ...b.extensions, persistedQuery: persisted(b.documentId) };
      delete b.documentId;
    }
  }
  const id = search.get('documentId');
  if (id) {
    let extensions: Record<string, unknown> = {};
    try {
      extensions = JSON.parse(search.get('extensions') ?? '{}') as Record<string, unknown>;
    } catch {
      // Apollo answers a malformed `extensions` itself.
    }
    search.set('extensions', JSON.stringify({ ...extensions, persistedQuery: persisted(id) }));
    search.delete('documentId');
  }
}
