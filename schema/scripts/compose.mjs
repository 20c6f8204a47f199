/**
 * Composes the subgraph SDLs listed in schema/supergraph.config.json into
 * schema/supergraph.graphql with @apollo/composition (Federation 2).
 *
 *   node schema/scripts/compose.mjs          write schema/supergraph.graphql
 *   node schema/scripts/compose.mjs --check  exit 1 when the checked-in file differs
 *
 * Also importable: composeSupergraph() returns { supergraphSdl, schema } (schema: the
 * federation-internals Schema, whose toAPISchema() is what clients see) or { errors }.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';

const schemaDir = new URL('../', import.meta.url);
export const supergraphPath = fileURLToPath(new URL('supergraph.graphql', schemaDir));

/** Reads the config and composes; never throws for composition errors (they are returned). */
export function composeSupergraph() {
  const config = JSON.parse(readFileSync(new URL('supergraph.config.json', schemaDir), 'utf8'));
  const services = Object.entries(config.subgraphs).map(([name, s]) => ({
    name,
    url: s.routingUrl,
    typeDefs: parse(readFileSync(new URL(s.schema, schemaDir), 'utf8')),
  }));
  const result = composeServices(services);
  if (result.errors?.length) return { errors: result.errors.map((e) => e.message) };
  return { supergraphSdl: result.supergraphSdl, schema: result.schema, hints: (result.hints ?? []).map((h) => h.toString()) };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = composeSupergraph();
  if (out.errors) {
    process.stderr.write(`composition failed:\n- ${out.errors.join('\n- ')}\n`);
    process.exit(1);
  }
  if (process.argv.includes('--check')) {
    const current = readFileSync(supergraphPath, 'utf8');
    if (current !== out.supergraphSdl) {
      process.stderr.write('schema/supergraph.graphql is out of date: run `npm run compose` and commit it\n');
      process.exit(1);
    }
    process.stdout.write('schema/supergraph.graphql is up to date\n');
  } else {
    writeFileSync(supergraphPath, out.supergraphSdl);
    process.stdout.write(`wrote ${supergraphPath}\n`);
  }
}
