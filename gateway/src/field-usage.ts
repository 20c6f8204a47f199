/**
 * Field usage: which schema coordinates (`Type.field`, `Type.field(arg:)`, as the GraphQL Schema
 * Coordinates RFC writes them) each operation selects, counted as Prometheus counters, so that a
 * deprecated field's remaining users can be named before it is removed (`npm run schema:usage`).
 *
 * - `graphql_field_usage_total{operation, coordinate}`: one per coordinate an operation selects
 *   (however often it selects it), per operation run. Labels are bounded: `operation` is the
 *   operation's name for the first 200 names (then `other`; `anonymous` without one) and
 *   `coordinate` is one of the schema's.
 * - The coordinates of a document are computed once (graphql-js `TypeInfo` over the operation
 *   and the fragments it spreads) and kept with the document object (a WeakMap: Apollo's document
 *   store and the subscriptions' document cache hand the same object back for the same text).
 * - Counted where operations enter: HTTP through {@link FieldUsage.plugin}; graphql-ws, SSE and
 *   multipart at subscribe (server.ts, http-streams.ts), once per subscription, not per event.
 *   The queries the gateway runs itself (`vetted`, a subscription's per event) are not counted.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import type { DocumentNode, GraphQLSchema } from 'graphql';
import { Counter, type Registry } from 'prom-client';
import { boundedLabel } from '@courses/platform';
import type { GatewayContext } from './subgraph-client.js';
import { graphqlCjs } from './subscriptions/documents.js';

const { Kind, TypeInfo, getOperationAST, visit, visitWithTypeInfo, isObjectType, isInterfaceType } = graphqlCjs;

/**
 * The schema coordinates operation `operationName` of `document` selects (the only operation
 * when unnamed), sorted: `Type.field` for each field (introspection and `__typename` aside) and
 * `Type.field(arg:)` for each argument given. Empty when no operation matches.
 */
export function selectedCoordinates(schema: GraphQLSchema, document: DocumentNode, operationName?: string | null): string[] {
  const operation = getOperationAST(document, operationName);
  if (!operation) return [];
  const fragments = new Map(document.definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d] as const] : [])));
  const out = new Set<string>();
  const seenFragments = new Set<string>();
  const walk = (node: DocumentNode['definitions'][number]): void => {
    // Its own TypeInfo: a fragment is walked from inside the walk that spreads it.
    const typeInfo = new TypeInfo(schema);
    visit(
      node,
      visitWithTypeInfo(typeInfo, {
        Field(field) {
          const parent = typeInfo.getParentType();
          const name = field.name.value;
          if (!parent || name.startsWith('__') || !(isObjectType(parent) || isInterfaceType(parent))) return;
          // Only the schema's own coordinates: a document not validated yet names no new label.
          const def = parent.getFields()[name];
          if (!def) return;
          out.add(`${parent.name}.${name}`);
          for (const arg of field.arguments ?? [])
            if (def.args.some((a) => a.name === arg.name.value)) out.add(`${parent.name}.${name}(${arg.name.value}:)`);
        },
        FragmentSpread(spread) {
          const fragment = fragments.get(spread.name.value);
          if (!fragment || seenFragments.has(fragment.name.value)) return;
          seenFragments.add(fragment.name.value);
          // A fragment is walked from its own type condition, as its fields are.
          if (schema.getType(fragment.typeCondition.name.value)) walk(fragment);
        },
      }),
    );
  };
  walk(operation);
  return [...out].sort();
}

/** The usage counter and what feeds it (see the module doc). */
export class FieldUsage {
  private readonly counter: Counter<'operation' | 'coordinate'>;
  private readonly label = boundedLabel(200);
  /** Per document and operation name: the counter's children to increment (label sets resolved once). */
  private readonly cache = new WeakMap<DocumentNode, Map<string, Array<{ inc(): void }>>>();

  constructor(registry: Registry) {
    this.counter = new Counter({
      name: 'graphql_field_usage_total',
      help: 'Operations run that select a schema coordinate (Type.field, Type.field(arg:)), by operation name',
      labelNames: ['operation', 'coordinate'],
      registers: [registry],
    });
  }

  /** Counts one run of `operationName` of `document` against `schema`. */
  record(schema: GraphQLSchema, document: DocumentNode, operationName?: string | null): void {
    let byName = this.cache.get(document);
    if (!byName) this.cache.set(document, (byName = new Map()));
    const key = operationName ?? '';
    let children = byName.get(key);
    if (!children) {
      const operation = this.label(operationName ?? getOperationAST(document)?.name?.value);
      children = selectedCoordinates(schema, document, operationName).map((coordinate) => this.counter.labels({ operation, coordinate }));
      byName.set(key, children);
    }
    for (const child of children) child.inc();
  }

  /** Counts each HTTP operation Apollo resolves, except those the gateway runs itself (`vetted`). */
  plugin(): ApolloServerPlugin<GatewayContext> {
    return {
      requestDidStart: async () => ({
        didResolveOperation: async ({ schema, document, operationName, contextValue }) => {
          if (!contextValue.vetted) this.record(schema, document, operationName);
        },
      }),
    };
  }
}
