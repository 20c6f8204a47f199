/**
 * Schema governance: the API schema clients see (the supergraph's, as composed from the
 * subgraphs) against the last released one, `schema/released.graphql`, with GraphQL Inspector's
 * core library (`diff`, which rates each change BREAKING, DANGEROUS or NON_BREAKING).
 *
 *   node schema/scripts/schema-check.mjs            (npm run schema:check)
 *     lists the changes; exits 1 on a breaking change that `schema/CHANGELOG.md` does not
 *     declare. A change is declared when the changelog's `## Unreleased` section names its path
 *     in backticks (`Query.myDashboard`, `CancellationReason.PAYMENT_DECLINED`). A removed field,
 *     input field or enum value must also have been `@deprecated` in the released schema: declared
 *     or not, removing one that was not fails (deprecate it, release, watch `npm run
 *     schema:usage`, then remove it). Dangerous changes (an enum value added, an argument's
 *     default changed, …) are reported, never fatal.
 *   node schema/scripts/schema-check.mjs --release  (npm run schema:release)
 *     the current schema becomes the released one, and the changelog's Unreleased section is
 *     dated (a new empty one above it).
 *
 * Importable: apiSchemaSdl(), checkSchema({ released, current, changelog }), release(paths),
 * deprecatedCoordinates(sdl).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { composeSupergraph } from './compose.mjs';

// graphql-js and Inspector as CommonJS, the copy @apollo/composition builds its schema with:
// schemas are checked with `instanceof`, so every step must use one copy.
const require = createRequire(import.meta.url);
const {
  buildSchema,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  lexicographicSortSchema,
  printSchema,
} = require('graphql');
const { CriticalityLevel, diff } = require('@graphql-inspector/core');

const schemaDir = new URL('../', import.meta.url);
export const releasedPath = fileURLToPath(new URL('released.graphql', schemaDir));
export const changelogPath = fileURLToPath(new URL('CHANGELOG.md', schemaDir));

/**
 * The API schema of the composed supergraph (what clients query: no join directives, no
 * inaccessible elements), printed in a stable order.
 * @throws when composition fails
 */
export function apiSchemaSdl() {
  const out = composeSupergraph();
  if (out.errors) throw new Error(`composition failed:\n- ${out.errors.join('\n- ')}`);
  return printSchema(lexicographicSortSchema(out.schema.toAPISchema().toGraphQLJSSchema()));
}

/**
 * The deprecated schema coordinates of `sdl` (an API schema): Map coordinate → deprecation
 * reason, for fields (`Type.field`), arguments (`Type.field(arg:)`), input fields and enum values
 * (`Enum.VALUE`).
 */
export function deprecatedCoordinates(sdl) {
  const schema = buildSchema(sdl);
  const out = new Map();
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__')) continue;
    if (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type))
      for (const field of Object.values(type.getFields())) {
        if (field.deprecationReason) out.set(`${type.name}.${field.name}`, field.deprecationReason);
        for (const arg of field.args ?? [])
          if (arg.deprecationReason) out.set(`${type.name}.${field.name}(${arg.name}:)`, arg.deprecationReason);
      }
    if (isEnumType(type)) for (const v of type.getValues()) if (v.deprecationReason) out.set(`${type.name}.${v.name}`, v.deprecationReason);
  }
  return out;
}

/** Inspector's change types that remove a field, an input field or an enum value (path `Type.name`). */
const REMOVALS = new Set(['FIELD_REMOVED', 'INPUT_FIELD_REMOVED', 'ENUM_VALUE_REMOVED']);

/** @typedef {{ path?: string, type?: string, message: string, criticality: { level: string, reason?: string } }} SchemaChange */

/** The text of the changelog's `## Unreleased` section (up to the next `## `), or ''. */
function unreleased(changelog) {
  const m = /^## Unreleased[ \t]*$([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(changelog);
  return m ? m[1] : '';
}

/**
 * The changes from `released` to `current` (SDL texts), by criticality, and the breaking ones
 * that `changelog` (Markdown) does not declare.
 * @param {{ released: string, current: string, changelog: string }} texts
 * @returns {Promise<{ breaking: SchemaChange[], dangerous: SchemaChange[], safe: SchemaChange[], undeclared: SchemaChange[], undeprecated: SchemaChange[] }>}
 *   each change as Inspector gives it; `undeprecated`: removals of what the released schema had
 *   not deprecated
 */
export async function checkSchema({ released, current, changelog }) {
  const changes = await diff(buildSchema(released), buildSchema(current));
  const by = (level) => changes.filter((c) => c.criticality.level === level);
  const declared = unreleased(changelog);
  const breaking = by(CriticalityLevel.Breaking);
  const deprecated = deprecatedCoordinates(released);
  return {
    breaking,
    dangerous: by(CriticalityLevel.Dangerous),
    safe: by(CriticalityLevel.NonBreaking),
    undeclared: breaking.filter((c) => !c.path || !declared.includes(`\`${c.path}\``)),
    undeprecated: breaking.filter((c) => REMOVALS.has(c.type ?? '') && !deprecated.has(c.path ?? '')),
  };
}

/**
 * Makes `current` the released schema at `paths.released`, and dates the Unreleased section of
 * the changelog at `paths.changelog` (`## <today>`), with an empty Unreleased section above it.
 */
export function release(current, paths = { released: releasedPath, changelog: changelogPath }, today = new Date()) {
  writeFileSync(paths.released, current);
  const changelog = readFileSync(paths.changelog, 'utf8');
  const date = today.toISOString().slice(0, 10);
  writeFileSync(paths.changelog, changelog.replace(/^## Unreleased[ \t]*$/m, `## Unreleased\n\n## ${date}`));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const current = apiSchemaSdl();
  if (process.argv.includes('--release')) {
    release(current);
    process.stdout.write(`released: ${releasedPath}; ${changelogPath} dated\n`);
  } else {
    const result = await checkSchema({
      released: readFileSync(releasedPath, 'utf8'),
      current,
      changelog: readFileSync(changelogPath, 'utf8'),
    });
    const show = (label, list) => list.forEach((c) => process.stdout.write(`${label} ${c.path ?? ''}: ${c.message}\n`));
    show('✖ breaking', result.breaking);
    show('⚠ dangerous', result.dangerous);
    show('· safe', result.safe);
    if (result.undeprecated.length)
      process.stderr.write(
        `\n${result.undeprecated.length} removal(s) of what the released schema had not deprecated: deprecate first (@deprecated(reason: "…")), release, check npm run schema:usage, then remove:\n` +
          result.undeprecated.map((c) => `  \`${c.path}\`: ${c.message}`).join('\n') +
          '\n',
      );
    if (result.undeclared.length) {
      process.stderr.write(
        `\n${result.undeclared.length} breaking change(s) not declared: name each path in backticks under "## Unreleased" in schema/CHANGELOG.md (or undo it):\n` +
          result.undeclared.map((c) => `  \`${c.path}\`: ${c.message}`).join('\n') +
          '\n',
      );
    }
    if (result.undeclared.length || result.undeprecated.length) process.exit(1);
    process.stdout.write(`the API schema keeps every released client working (${result.breaking.length} declared breaking change(s))\n`);
  }
}
