/**
 * One supergraph execution for subscribers who ask for the same thing in different words.
 *
 * Two subscriptions that select the same fields with other aliases or another operation name
 * need the same data. {@link canonicalQuery} rewrites an entity query (./to-entity-query.ts)
 * into a form where those differences are gone: no operation name, fields in one order, and
 * every field's response key made from the field itself (`name`, or `name_<digest of its arguments and directives>`
 * when it has any, so two fields of one name with other arguments never collide). Subscribers
 * whose canonical query, variables and identity are equal share one execution, and
 * {@link projectResult} gives each the result under its own aliases, in its own order.
 *
 * The supergraph has no abstract types (interfaces or unions) among what subscriptions select,
 * so every fragment in a validated document applies; `@skip` / `@include` are evaluated here
 * with the subscriber's variables as graphql-js does (https://spec.graphql.org/October2021/#sec--skip).
 */
import { createHash } from 'node:crypto';
import {
  GraphQLBoolean,
  Kind,
  print,
  valueFromAST,
  visit,
  type DirectiveNode,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
  type SelectionNode,
  type SelectionSetNode,
} from 'graphql';

/** The response key a field has in the canonical query: `name`, or `name_<8 hex>` with arguments or directives. */
export function canonicalKey(field: FieldNode): string {
  const name = field.name.value;
  if (!field.arguments?.length && !field.directives?.length) return name;
  const words = [...(field.arguments ?? []), ...(field.directives ?? [])].map((n) => print(n)).join(',');
  return `${name}_${createHash('sha256').update(words).digest('hex').slice(0, 8)}`;
}

/** Sort key of a selection in a canonical selection set: fields by key, then fragments. */
function order(s: SelectionNode): string {
  if (s.kind === Kind.FIELD) return `0${s.alias?.value ?? s.name.value}`;
  return s.kind === Kind.INLINE_FRAGMENT ? `1${print(s)}` : `2${s.name.value}`;
}

/**
 * `query` without its operation name, with every field aliased to its {@link canonicalKey} and
 * every selection set in one order (the response order comes back with {@link projectResult}).
 * Equal for two documents that differ only in aliases, field order and the operation name.
 */
export function canonicalQuery(query: DocumentNode): DocumentNode {
  return visit(query, {
    OperationDefinition: (op) => ({ ...op, name: undefined }),
    Field: (field) => {
      const key = canonicalKey(field);
      return { ...field, alias: key === field.name.value ? undefined : { kind: Kind.NAME, value: key } };
    },
    SelectionSet: {
      leave: (set) => ({
        ...set,
        selections: [...set.selections].sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0)),
      }),
    },
  });
}

/** Names of the variables an operation declares. */
export function declaredVariables(query: DocumentNode): string[] {
  const op = query.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  return (op?.variableDefinitions ?? []).map((v) => v.variable.name.value);
}

/** False when `@skip(if: true)` or `@include(if: false)` drops the selection. */
function included(directives: readonly DirectiveNode[] | undefined, variables: Record<string, unknown>): boolean {
  for (const d of directives ?? []) {
    if (d.name.value !== 'skip' && d.name.value !== 'include') continue;
    const arg = d.arguments?.find((a) => a.name.value === 'if');
    const value = arg ? valueFromAST(arg.value, GraphQLBoolean, variables) : undefined;
    if (d.name.value === 'skip' && value === true) return false;
    if (d.name.value === 'include' && value === false) return false;
  }
  return true;
}

type Json = null | string | number | boolean | Json[] | { [key: string]: Json };

/** Merges `b` into the object `a` field by field (two selections with one response key). */
function merge(a: Json, b: Json): Json {
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    for (const [k, v] of Object.entries(b)) a[k] = k in a ? merge(a[k], v) : v;
    return a;
  }
  if (Array.isArray(a) && Array.isArray(b)) return a.map((x, i) => merge(x, b[i]));
  return a ?? b;
}

function project(
  set: SelectionSetNode,
  data: { [key: string]: Json },
  fragments: Map<string, FragmentDefinitionNode>,
  variables: Record<string, unknown>,
  out: { [key: string]: Json } = {},
): { [key: string]: Json } {
  for (const s of set.selections) {
    if (!included(s.directives, variables)) continue;
    if (s.kind === Kind.FIELD) {
      const key = canonicalKey(s);
      if (!(key in data)) continue;
      const value = data[key];
      const own = s.alias?.value ?? s.name.value;
      const mine = s.selectionSet ? shape(s.selectionSet, value, fragments, variables) : value;
      out[own] = own in out ? merge(out[own], mine) : mine;
    } else if (s.kind === Kind.INLINE_FRAGMENT) {
      project(s.selectionSet, data, fragments, variables, out);
    } else {
      const fragment = fragments.get(s.name.value);
      if (fragment) project(fragment.selectionSet, data, fragments, variables, out);
    }
  }
  return out;
}

function shape(
  set: SelectionSetNode,
  value: Json,
  fragments: Map<string, FragmentDefinitionNode>,
  variables: Record<string, unknown>,
): Json {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => shape(set, v, fragments, variables));
  return project(set, value, fragments, variables);
}

/**
 * The data `query` would have given, taken from `canonicalData`, the data of
 * {@link canonicalQuery}(`query`) executed with the same variables and identity.
 * @param query the subscriber's own entity query (with its aliases and fragments)
 */
export function projectResult(
  query: DocumentNode,
  canonicalData: Record<string, unknown>,
  variables: Record<string, unknown>,
): Record<string, unknown> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  let operation: OperationDefinitionNode | undefined;
  for (const d of query.definitions) {
    if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
    else if (d.kind === Kind.OPERATION_DEFINITION) operation ??= d;
  }
  if (!operation) throw new Error('no operation in the query');
  return project(operation.selectionSet, canonicalData as { [key: string]: Json }, fragments, variables);
}

/**
 * True when `set` (with its fragments) selects only leaf fields named in `allowed`: what it
 * asks for reads the same for every caller.
 */
export function selectsOnly(
  set: SelectionSetNode,
  allowed: ReadonlySet<string>,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
): boolean {
  return set.selections.every((s) => {
    if (s.kind === Kind.FIELD) return !s.selectionSet && allowed.has(s.name.value);
    if (s.kind === Kind.INLINE_FRAGMENT) return selectsOnly(s.selectionSet, allowed, fragments);
    const fragment = fragments.get(s.name.value);
    return !!fragment && selectsOnly(fragment.selectionSet, allowed, fragments);
  });
}

/** The fragment definitions of a document, by name. */
export function fragmentsOf(document: DocumentNode): Map<string, FragmentDefinitionNode> {
  const out = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) out.set(d.name.value, d);
  return out;
}

/** The field name a canonical response key stands for (see {@link canonicalKey}). */
function fieldOfKey(key: string): string {
  return key.replace(/_[0-9a-f]{8}$/, '');
}

/**
 * `value` (an object of canonical data) with `facts` laid over it: each field whose name is in
 * `facts` takes the stated value (an object fact over an object value, field by field; a null
 * fact makes it null). Fields not selected stay absent, a null object stays null; `value` itself
 * is not changed (the result shares what the facts do not touch).
 */
export function withFacts(value: unknown, facts: { [field: string]: unknown }): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  for (const key of Object.keys(out)) {
    const name = fieldOfKey(key);
    if (!(name in facts)) continue;
    const fact = facts[name];
    out[key] = fact !== null && typeof fact === 'object' ? withFacts(out[key], fact as { [field: string]: unknown }) : fact;
  }
  return out;
}
