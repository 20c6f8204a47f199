/**
 * Batched entity loading per request (DataLoader): every `__resolveReference` of one subgraph
 * request asks the loader for its id, and the loader fetches all of them with one `$in` query
 * (Apollo's subgraph template puts batching there too). A loader lives as long as its request
 * context and is never shared between requests, so nothing leaks across identities.
 */
import DataLoader from 'dataloader';

/** Longest id a loader looks up (characters); ids here are 24-hex ObjectIds or short derived keys. */
const MAX_ID_LENGTH = 128;

const byContext = new WeakMap<object, Map<string, DataLoader<string, unknown>>>();

/**
 * The loader named `name` of request context `ctx`, created on first use. `fetch` receives the
 * distinct ids asked for in one tick and returns the entities found, in any order; an id
 * without an entity, or one that is not a string of at most 128 characters, loads as null.
 */
export function loaderOf<V extends { id: string }>(
  ctx: object,
  name: string,
  fetch: (ids: readonly string[]) => Promise<V[]>,
): DataLoader<string, V | null> {
  let loaders = byContext.get(ctx);
  if (!loaders) {
    loaders = new Map();
    byContext.set(ctx, loaders);
  }
  let loader = loaders.get(name) as DataLoader<string, V | null> | undefined;
  if (!loader) {
    loader = new DataLoader<string, V | null>(async (ids) => {
      // Ids come from `_entities` representations (`_Any`, any JSON): only plain strings of an
      // id's length reach the database, so an object such as { "$ne": null } cannot become a
      // query operator; anything else loads as null.
      const plain = ids.filter((id) => typeof id === 'string' && id.length <= MAX_ID_LENGTH);
      const found = new Map((plain.length ? await fetch(plain) : []).map((v) => [v.id, v]));
      return ids.map((id) => found.get(id) ?? null);
    });
    loaders.set(name, loader as DataLoader<string, unknown>);
  }
  return loader;
}
