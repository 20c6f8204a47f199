/**
 * Writes of one turn of the event loop, coalesced per WebSocket connection (HTTP streams join
 * their text instead, ./http-streams.ts): the first write of a turn to a
 * connection goes out at once (one message per connection per event, the steady state, costs
 * nothing more); a second one in the same turn corks the connection until the turn ends, so a
 * burst (a resumed subscription's replay) leaves in one write instead of one system call each.
 * One `process.nextTick` per turn for all connections.
 */

/** What can be corked: a net.Socket. */
export interface Corkable {
  cork(): void;
  uncork(): void;
}

/** Bytes a connection may hold unsent before a send waits for it to be taken. */
export const WRITE_AHEAD_BYTES = 64 * 1024;

const written = new Set<Corkable>();
const corked = new Set<Corkable>();
let scheduled = false;

function endOfTurn(): void {
  scheduled = false;
  for (const c of corked) c.uncork();
  corked.clear();
  written.clear();
}

/** Call before writing to `connection` (see the module comment). */
export function beforeWrite(connection: Corkable): void {
  if (!scheduled) {
    scheduled = true;
    process.nextTick(endOfTurn);
  }
  if (!written.has(connection)) written.add(connection);
  else if (!corked.has(connection)) {
    connection.cork();
    corked.add(connection);
  }
}
