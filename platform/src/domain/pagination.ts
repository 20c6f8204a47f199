/**
 * Relay-style pagination helpers shared by the subgraphs: the page size a `first` argument asks
 * for, and opaque cursors over 24-hex ids (https://relay.dev/graphql/connections.htm).
 */
import { invalidInput } from './domain-error.js';

/** Default and largest page size of every connection. */
export const PAGE = { default: 20, max: 100 } as const;

/**
 * The page size `first` asks for (default {@link PAGE}.default).
 * @throws DomainError BAD_USER_INPUT (field `first`) outside 1..{@link PAGE}.max.
 */
export function pageSize(first: number | null | undefined): number {
  const n = first ?? PAGE.default;
  if (!Number.isInteger(n) || n < 1 || n > PAGE.max) throw invalidInput('first', `first must be from 1 to ${PAGE.max}`);
  return n;
}

/**
 * Opaque cursors (base64url of `<kind>:<id>`) for the entities of one connection, and back.
 * `decode` throws GraphQLError BAD_USER_INPUT (field `after`) for a cursor this connection did
 * not issue.
 */
export function idCursor(kind: string, connection: string): { encode: (id: string) => string; decode: (cursor: string) => string } {
  return {
    encode: (id) => Buffer.from(`${kind}:${id}`).toString('base64url'),
    decode: (c) => {
      const raw = Buffer.from(c, 'base64url').toString('utf8');
      const id = raw.startsWith(`${kind}:`) ? raw.slice(kind.length + 1) : '';
      if (!/^[0-9a-f]{24}$/.test(id)) throw invalidInput('after', `after is not a cursor returned by ${connection}`);
      return id;
    },
  };
}

/** One page as a repository answers it: its items, how many there are in all, whether more follow. */
export interface Page<T> {
  items: T[];
  totalCount: number;
  hasNextPage: boolean;
}

/** A Relay connection: the page's edges with their cursors, `totalCount` and `pageInfo`. */
export interface Connection<T> {
  edges: { cursor: string; node: T }[];
  totalCount: number;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** `page` as a Relay connection, each item's cursor made by `cursorOf`. */
export function connectionOf<T>(page: Page<T>, cursorOf: (item: T) => string): Connection<T> {
  const edges = page.items.map((node) => ({ cursor: cursorOf(node), node }));
  return { edges, totalCount: page.totalCount, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null } };
}
