/**
 * Parsed and validated subscription documents, shared by every subscriber who sends the same
 * text, and what the server derives from each (its entity query in the subscriber's and in
 * canonical words): memory per subscriber, and CPU per subscribe, paid once per text.
 *
 * graphql-js is loaded as graphql-ws, Apollo and GraphQL Armor load it (CommonJS, see
 * `graphqlCjs`): a schema and errors checked with `instanceof` across them must come from one copy.
 */
import { createRequire } from 'node:module';
import {
  print,
  type DocumentNode,
  type FieldNode,
  type GraphQLError,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type Source,
  type ValidationRule,
} from 'graphql';
import type { SubscriptionRoute } from './routes.js';
import { canonicalQuery, declaredVariables, fragmentsOf, selectsOnly } from './shared-selection.js';
import { toEntityQuery } from './to-entity-query.js';

/** graphql-js as graphql-ws, Apollo and GraphQL Armor load it (CommonJS); see the module comment. */
export const graphqlCjs = createRequire(import.meta.url)('graphql') as typeof import('graphql');

/** Query texts whose parsed document is kept (least recently used forgotten first). */
export const DOCUMENT_CACHE_SIZE = 500;
/** Longest query text (characters) whose parsed document is kept; longer ones are parsed each time. */
export const DOCUMENT_CACHE_MAX_CHARS = 10_000;

/** What a subscription runs for each event, derived once per (shared) document and operation. */
export interface EntityQueries {
  /** The subscription rewritten into the query of the entity an event names (./to-entity-query.ts). */
  query: DocumentNode;
  /** That query in canonical words (./shared-selection.ts), what is executed and shared. */
  canonical: DocumentNode;
  /** `print(canonical)`: the shape part of the sharing key. */
  canonicalText: string;
  /** Variables the canonical query declares. */
  declared: string[];
  /** True when the selection holds only the route's public fields (shared across identities). */
  publicOnly: boolean;
}

export class DocumentCache {
  private readonly documents = new Map<string, DocumentNode>();
  private readonly validated = new WeakMap<GraphQLSchema, WeakMap<DocumentNode, readonly GraphQLError[]>>();
  private readonly derived = new WeakMap<DocumentNode, Map<string, EntityQueries>>();

  /**
   * @param rules validation rules on top of graphql-js's specified ones (the gateway's limits)
   * @param parseOptions graphql-js parser options (the gateway's `maxTokens`: a longer document
   *   fails as soon as the parser passes the limit, as over HTTP)
   */
  constructor(
    private readonly rules: readonly ValidationRule[] = [],
    private readonly parseOptions: { maxTokens?: number } = {},
    private readonly size = DOCUMENT_CACHE_SIZE,
    private readonly maxChars = DOCUMENT_CACHE_MAX_CHARS,
  ) {}

  /** The parsed document of `source`: the same object for the same text while it is kept. @throws GraphQLError on a syntax error */
  parse(source: string | Source): DocumentNode {
    if (typeof source !== 'string') return graphqlCjs.parse(source, this.parseOptions);
    const hit = this.documents.get(source);
    if (hit) {
      this.documents.delete(source);
      this.documents.set(source, hit);
      return hit;
    }
    const document = graphqlCjs.parse(source, this.parseOptions);
    if (source.length <= this.maxChars) {
      this.documents.set(source, document);
      if (this.documents.size > this.size) this.documents.delete(this.documents.keys().next().value!);
    }
    return document;
  }

  /** Validation errors of `document` against `schema` (computed once per schema and document object). */
  validate(schema: GraphQLSchema, document: DocumentNode): readonly GraphQLError[] {
    let bySchema = this.validated.get(schema);
    if (!bySchema) this.validated.set(schema, (bySchema = new WeakMap()));
    let errors = bySchema.get(document);
    if (!errors) bySchema.set(document, (errors = graphqlCjs.validate(schema, document, [...graphqlCjs.specifiedRules, ...this.rules])));
    return errors;
  }

  /** The {@link EntityQueries} of `operation` (of `document`) for `route`. */
  entityQueries(document: DocumentNode, operation: OperationDefinitionNode, route: SubscriptionRoute): EntityQueries {
    let byOperation = this.derived.get(document);
    if (!byOperation) this.derived.set(document, (byOperation = new Map()));
    const key = `${operation.name?.value ?? ''}|${route.entityQueryField}`;
    let entry = byOperation.get(key);
    if (!entry) {
      const query = toEntityQuery(document, operation, route.entityQueryField);
      const canonical = canonicalQuery(query);
      const root = operation.selectionSet.selections[0] as FieldNode;
      const publicOnly =
        !!route.publicFields && !!root.selectionSet && selectsOnly(root.selectionSet, route.publicFields, fragmentsOf(document));
      byOperation.set(
        key,
        (entry = { query, canonical, canonicalText: print(canonical), declared: declaredVariables(canonical), publicOnly }),
      );
    }
    return entry;
  }
}
