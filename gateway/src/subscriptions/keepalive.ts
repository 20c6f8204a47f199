/**
 * WebSocket keep-alive: each socket is pinged every `periodMs`, at a phase of its own (the first
 * ping at a random point of its first period), so that sockets that connected together are not
 * pinged in one burst (5,000 pings at once held up event deliveries by tens of ms). A socket that
 * has not answered its previous ping by its next turn is terminated.
 */

/** What keep-alive needs of a socket (`ws`'s WebSocket). */
export interface PingableSocket {
  ping(): void;
  terminate(): void;
  on(event: 'pong', listener: () => void): unknown;
}

/** What keep-alive needs of the server (`ws`'s WebSocketServer). */
export interface SocketServer<S extends PingableSocket> {
  readonly clients: Iterable<S>;
  on(event: 'connection', listener: (socket: S) => void): unknown;
}

/**
 * Starts keep-alive on `server`'s sockets; returns the function that stops it.
 * @param now clock (ms), for tests
 * @param random phase source in [0, 1), for tests
 */
export function startKeepAlive<S extends PingableSocket>(
  server: SocketServer<S>,
  periodMs: number,
  now = Date.now,
  random = Math.random,
): () => void {
  const alive = new WeakMap<S, boolean>();
  const nextPing = new WeakMap<S, number>();
  server.on('connection', (socket) => {
    alive.set(socket, true);
    nextPing.set(socket, now() + random() * periodMs);
    socket.on('pong', () => alive.set(socket, true));
  });
  const timer = setInterval(
    () => {
      const t = now();
      for (const socket of server.clients) {
        if ((nextPing.get(socket) ?? 0) > t) continue;
        nextPing.set(socket, t + periodMs);
        if (!alive.get(socket)) {
          socket.terminate();
          continue;
        }
        alive.set(socket, false);
        socket.ping();
      }
    },
    Math.max(10, Math.min(1_000, periodMs / 10)),
  );
  timer.unref();
  return () => clearInterval(timer);
}
