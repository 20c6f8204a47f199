/**
 * A subscription's position: where in the event streams its last delivery stands, handed to the
 * client with every delivery and given back to resume (graphql-ws `extensions.lastEventId`, SSE
 * `Last-Event-ID`, multipart `extensions.lastEventId`).
 *
 * Text form: `<seq>_<seq>….<last>.<part>.<tag>`, for example `1204_377.0.-1.9f2c41d07a`:
 * - one JetStream sequence per context the subscription follows, in its route's order: every
 *   event of that context up to it has been delivered or did not concern the subscriber;
 * - `last`, the index of the context of the last event delivered, and `part`, which of the
 *   deliveries that event stood for came last (-1: the event was one delivery; see
 *   SubscriptionRoute.expand), so a resume goes on in the middle of an event that stood for many;
 * - `tag`, 10 hex digits of SHA-256 over the subscription's field, key argument and subscriber
 *   and the numbers: a position of another subscription (or a mistyped one) is told apart. It
 *   is not a secret: a position only ever replays what its holder's own subscription may see.
 */
import { createHash } from 'node:crypto';

/** A decoded position (see the module comment). */
export interface Position {
  /** Sequence per context, in the route's context order. */
  seqs: number[];
  /** Index (in `seqs`) of the context of the last event delivered. */
  last: number;
  /** Part of that event delivered last; -1 when the event was a single delivery. */
  part: number;
}

/** What a position belongs to: the subscription field, its key argument, and the subscriber (`role:sub`, or empty). */
export type PositionScope = string;

/** The scope of a subscription to `field` for entity `key` (or all) by `who` (`role:sub`, or undefined). */
export function positionScope(field: string, key: string | null | undefined, who: string | undefined): PositionScope {
  return `${field}|${key ?? ''}|${who ?? ''}`;
}

/** Tags computed lately: every subscriber of one lecture shares its scope and positions, so one hash serves all. */
const recent = new Map<string, string>();

function tagOf(scope: PositionScope, body: string): string {
  const key = `${scope}|${body}`;
  let tag = recent.get(key);
  if (tag === undefined) {
    tag = createHash('sha256').update(key).digest('hex').slice(0, 10);
    if (recent.size >= 10_000) recent.clear();
    recent.set(key, tag);
  }
  return tag;
}

/** The text of `p` within `scope`. */
export function encodePosition(p: Position, scope: PositionScope): string {
  const body = `${p.seqs.join('_')}.${p.last}.${p.part}`;
  return `${body}.${tagOf(scope, body)}`;
}

/**
 * The position `text` stands for within `scope`, which follows `contexts` contexts.
 * @throws Error with a message for the client when `text` is malformed or belongs to another subscription
 */
export function decodePosition(text: unknown, scope: PositionScope, contexts: number): Position {
  if (typeof text !== 'string' || text.length > 200) throw new Error('lastEventId must be a position this subscription sent');
  const m = /^(\d{1,15}(?:_\d{1,15})*)\.(\d{1,2})\.(-1|\d{1,6})\.([0-9a-f]{10})$/.exec(text);
  if (!m) throw new Error('lastEventId is not a position the gateway sent');
  const body = `${m[1]}.${m[2]}.${m[3]}`;
  if (tagOf(scope, body) !== m[4]) throw new Error('lastEventId belongs to another subscription');
  const seqs = m[1].split('_').map(Number);
  const last = Number(m[2]);
  if (seqs.length !== contexts || last >= contexts) throw new Error('lastEventId belongs to another subscription');
  return { seqs, last, part: Number(m[3]) };
}
