/**
 * Rewrites a subscription operation into the query that fetches the entity an event names:
 *
 *   subscription S($v: Boolean!) { registrationStatusChanged(registrationId: "…") { status lecture { title @include(if: $v) } } }
 *   ⇒ query S($v: Boolean!, $__entityId: ID!) { registrationStatusChanged: registration(id: $__entityId) { status lecture { title @include(if: $v) } } }
 *
 * The client's selection set, fragments, directives and response key are kept, so the
 * gateway's query planner resolves any selected field from any subgraph, with the
 * subscriber's identity. Variable definitions the query no longer uses are dropped.
 */
import {
  Kind,
  visit,
  type DefinitionNode,
  type DocumentNode,
  type FieldNode,
  type OperationDefinitionNode,
  type VariableDefinitionNode,
} from 'graphql';

/** Name of the variable carrying the entity id. */
export const ENTITY_ID_VAR = '__entityId';

/**
 * @param doc a validated document whose selected operation is a subscription with one root field
 * @param operation the operation to rewrite (from `getOperationAST`)
 * @param entityQueryField the Query field taking `id: ID!` that returns the entity
 */
export function toEntityQuery(doc: DocumentNode, operation: OperationDefinitionNode, entityQueryField: string): DocumentNode {
  const root = operation.selectionSet.selections[0] as FieldNode;
  const field: FieldNode = {
    ...root,
    alias: { kind: Kind.NAME, value: root.alias?.value ?? root.name.value },
    name: { kind: Kind.NAME, value: entityQueryField },
    arguments: [
      {
        kind: Kind.ARGUMENT,
        name: { kind: Kind.NAME, value: 'id' },
        value: { kind: Kind.VARIABLE, name: { kind: Kind.NAME, value: ENTITY_ID_VAR } },
      },
    ],
  };
  const idVar: VariableDefinitionNode = {
    kind: Kind.VARIABLE_DEFINITION,
    variable: { kind: Kind.VARIABLE, name: { kind: Kind.NAME, value: ENTITY_ID_VAR } },
    type: { kind: Kind.NON_NULL_TYPE, type: { kind: Kind.NAMED_TYPE, name: { kind: Kind.NAME, value: 'ID' } } },
  };
  const query: OperationDefinitionNode = {
    ...operation,
    operation: 'query' as OperationDefinitionNode['operation'],
    selectionSet: { ...operation.selectionSet, selections: [field] },
    variableDefinitions: [...(operation.variableDefinitions ?? []), idVar],
  };
  const definitions: DefinitionNode[] = [...doc.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION), query];
  const draft: DocumentNode = { kind: Kind.DOCUMENT, definitions };

  const used = new Set<string>();
  visit(draft, {
    VariableDefinition: () => false, // do not count the definitions themselves
    Variable: (v) => {
      used.add(v.name.value);
    },
  });
  return visit(draft, {
    VariableDefinition: (v) => (used.has(v.variable.name.value) ? undefined : null),
  });
}
