/**
 * NATS connections of the services: authentication (user and password, TLS), endless reconnects,
 * each service's own inbox prefix, and readiness from the connection's status events.
 * API: the modular nats.js v3 client (`@nats-io/transport-node`, `@nats-io/jetstream`).
 */
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../observability/index.js';
import { inboxPrefixOf } from './nats-auth.js';

export type { NatsConnection };

/** How a service authenticates to NATS (see the `NATS_*` settings in config.ts). */
export interface NatsAuth {
  user?: string;
  password?: string;
  /** PEM files: the CA that signed the server's certificate; a client certificate and key when the server verifies clients. */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
}

/** The {@link NatsAuth} of a service's configuration. */
export function natsAuthOf(c: {
  NATS_USER?: string;
  NATS_PASSWORD?: string;
  NATS_TLS_CA_FILE?: string;
  NATS_TLS_CERT_FILE?: string;
  NATS_TLS_KEY_FILE?: string;
}): NatsAuth {
  const tls =
    c.NATS_TLS_CA_FILE || c.NATS_TLS_CERT_FILE
      ? { caFile: c.NATS_TLS_CA_FILE, certFile: c.NATS_TLS_CERT_FILE, keyFile: c.NATS_TLS_KEY_FILE }
      : undefined;
  return { user: c.NATS_USER, password: c.NATS_PASSWORD, tls };
}

/**
 * Connects as service `name` with endless reconnects (every 1000 ms), so a NATS restart heals
 * without a service restart. Replies (JetStream API answers, pulled messages) arrive on the
 * service's own inbox prefix (`_INBOX_<name>`), the only inbox its NATS user may read. Waits at
 * most `timeoutMs` for the first connection.
 * @throws when no server answers at `url` within the time, or it refuses the credentials.
 */
export async function connectNats(
  url: string,
  name: string,
  logger: Logger,
  auth: NatsAuth = {},
  timeoutMs = 5_000,
): Promise<NatsConnection> {
  const nc = await connect({
    servers: url.split(','),
    name,
    ...(auth.user ? { user: auth.user, pass: auth.password } : {}),
    ...(auth.tls ? { tls: auth.tls } : {}),
    inboxPrefix: inboxPrefixOf(name),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1_000,
    timeout: timeoutMs,
    // No stack trace captured for every request (each JetStream publish and pull is one): it
    // showed in CPU profiles, and the error a request fails with still says what failed.
    noAsyncTraces: true,
  });
  connected.set(nc, true);
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect' || s.type === 'reconnect') {
        connected.set(nc, s.type === 'reconnect');
        logger.warn({ nats: s.type }, `nats ${s.type}`);
      }
      // A permission refused by the server: a bug in BUS or an attack from this process; loud.
      else if (s.type === 'error') logger.error({ err: s.error.message }, 'nats error');
    }
  })().catch(() => undefined);
  logger.info({ server: nc.getServer(), user: auth.user ?? null, tls: !!auth.tls }, 'nats connected');
  return nc;
}

/** Whether each connection made by {@link connectNats} is up, from its `disconnect` / `reconnect` status events. */
const connected = new WeakMap<NatsConnection, boolean>();

/** True while the connection is open: not closed, not draining, and not between a disconnect and its reconnect. */
export function natsReady(nc: NatsConnection): boolean {
  return !nc.isClosed() && !nc.isDraining() && connected.get(nc) !== false;
}

/** The JetStream client and manager for a connection. */
export async function jetstreamOf(nc: NatsConnection): Promise<{ js: JetStreamClient; jsm: JetStreamManager }> {
  return { js: jetstream(nc), jsm: await jetstreamManager(nc) };
}
