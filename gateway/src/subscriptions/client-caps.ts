import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Redis, Result } from 'ioredis';
import type { ClientAddress } from '../client-address.js';

/** What {@link ClientCaps.acquire} answers: a release function, or why the connection is refused. */
export type Admission = { release: () => void } | { refused: 429 | 503; message: string };

/**
 * Long-lived connections per client address, counted across transports: graphql-ws sockets,
 * SSE streams and multipart subscription responses share one cap, so a client cannot hold the
 * cap on each transport.
 *
 * Each process counts its own connections in memory. Given a {@link SharedConnectionCounts}
 * (Redis), every gateway replica's count for an address is added up before one more is admitted,
 * so N replicas allow the cap once, not N times. While that store is unreachable `withoutStore`
 * says what happens: `open` admits on this process's own count, `closed` refuses 503.
 */
export class ClientCaps {
  private readonly open = new Map<string, number>();

  /**
   * @param max open connections one client address may hold (count), across replicas when `shared`
   * @param addressOf a request's client address (../client-address.ts: behind trusted proxies, the
   *   address they forwarded for); default the peer's
   * @param shared the replicas' counts (Redis); absent, the cap is per process
   * @param withoutStore with `shared` unreachable: `open` counts per process, `closed` refuses 503
   */
  constructor(
    readonly max: number,
    readonly addressOf: ClientAddress = (req) => req.socket.remoteAddress ?? '',
    private readonly shared?: SharedConnectionCounts,
    private readonly withoutStore: 'open' | 'closed' = 'open',
  ) {
    shared?.follow(() => this.open);
  }

  /**
   * Counts one more connection of the client of `req`, if it is under the cap. The caller calls
   * `release` once when that connection closes (more calls do nothing).
   */
  async acquire(req: IncomingMessage): Promise<Admission> {
    const address = this.addressOf(req);
    const mine = (this.open.get(address) ?? 0) + 1;
    if (mine > this.max) return this.tooMany();
    // Reserved before the store is asked, so concurrent upgrades of one address count each other.
    this.open.set(address, mine);
    const release = once(() => this.drop(address));
    if (!this.shared) return { release };
    const verdict = await this.shared.admit(address, mine, this.max);
    if (verdict === 'admitted' || (verdict === 'unavailable' && this.withoutStore === 'open')) return { release };
    release();
    return verdict === 'unavailable'
      ? { refused: 503, message: 'connection caps cannot be counted now (their store is unreachable); retry in a second' }
      : this.tooMany();
  }

  private tooMany(): Admission {
    return { refused: 429, message: `at most ${this.max} connections per client` };
  }

  private drop(address: string): void {
    const n = (this.open.get(address) ?? 1) - 1;
    if (n > 0) this.open.set(address, n);
    else this.open.delete(address);
    this.shared?.set(address, n);
  }
}

function once(f: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    f();
  };
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** {@link ADMIT}: 1 admitted, 0 refused. */
    capsAdmit(address: string, replicas: string, replica: string, max: number, mine: number, windowMs: number): Result<number, Context>;
    /** {@link HEARTBEAT}: Redis's clock (ms). */
    capsHeartbeat(replicas: string, replica: string, windowMs: number): Result<number, Context>;
  }
}

/**
 * Admission across replicas, atomic in Redis. KEYS[1]: the address's hash (replica id → its open
 * connections); KEYS[2]: the replicas' sorted set (id → last heartbeat, ms of Redis's clock).
 * ARGV: this replica's id, the cap, this replica's count with the new connection, the liveness
 * window (ms). Counts of replicas not heard from within the window are dropped (a crashed
 * replica's connections are gone with it); asking is this replica's heartbeat too. Returns 1 when
 * admitted (and this replica's count written), else 0.
 */
const ADMIT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[4])
local others = 0
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  local id = fields[i]
  if id ~= ARGV[1] then
    local seen = redis.call('ZSCORE', KEYS[2], id)
    if seen and now - tonumber(seen) <= window then
      others = others + tonumber(fields[i + 1])
    else
      redis.call('HDEL', KEYS[1], id)
    end
  end
end
redis.call('ZADD', KEYS[2], now, ARGV[1])
if others + tonumber(ARGV[3]) > tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return 1
`;

/** KEYS[1]: the replicas' sorted set; ARGV[1]: this replica's id. Records a heartbeat at Redis's clock. */
const HEARTBEAT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 10 * tonumber(ARGV[2]))
return now
`;

/**
 * The replicas' open connections per client address, in Redis: one hash per address holding each
 * replica's own count (written by that replica only, from its in-memory count, so a lost write is
 * repaired by the next one), and a heartbeat per replica. Every `windowMs / 3` a replica
 * heartbeats and writes all its counts again (and at once when Redis comes back), so a replica
 * that died stops counting within `windowMs`, and a Redis that restarted empty is refilled.
 *
 * Commands never wait for a reconnect (the client is expected to have no offline queue, as
 * app.ts's limitsStore makes it): while Redis is unreachable, {@link admit} answers `unavailable`.
 */
export class SharedConnectionCounts {
  readonly replica = randomUUID();
  private readonly replicas: string;
  private counts: () => ReadonlyMap<string, number> = () => new Map();
  private readonly timer: NodeJS.Timeout;

  /**
   * @param redis a client without an offline queue
   * @param prefix key prefix, e.g. `courses:connections`
   * @param windowMs how long a replica counts after its last heartbeat (ms)
   */
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'courses:connections',
    private readonly windowMs = 30_000,
  ) {
    this.replicas = `${prefix}:replicas`;
    redis.defineCommand('capsAdmit', { numberOfKeys: 2, lua: ADMIT });
    redis.defineCommand('capsHeartbeat', { numberOfKeys: 1, lua: HEARTBEAT });
    const refresh = () => void this.refresh().catch(() => undefined);
    this.timer = setInterval(refresh, Math.max(1_000, Math.floor(windowMs / 3))).unref();
    redis.on('ready', refresh);
  }

  /** Where this replica's in-memory counts are read when they are written again (ClientCaps's). */
  follow(counts: () => ReadonlyMap<string, number>): void {
    this.counts = counts;
  }

  /** Whether `address` may hold `mine` connections here, added to every live replica's count. */
  async admit(address: string, mine: number, max: number): Promise<'admitted' | 'refused' | 'unavailable'> {
    if (this.redis.status !== 'ready') return 'unavailable';
    try {
      const ok = await this.redis.capsAdmit(this.key(address), this.replicas, this.replica, max, mine, this.windowMs);
      // Refused: ClientCaps releases the reservation, which writes this replica's count as it is
      // then (another upgrade of the address may have written one that included this attempt).
      return ok === 1 ? 'admitted' : 'refused';
    } catch {
      return 'unavailable';
    }
  }

  /** Writes this replica's count for `address` (0 removes it); fire and forget. */
  set(address: string, n: number): void {
    if (this.redis.status !== 'ready') return;
    const key = this.key(address);
    const write =
      n > 0 ? this.redis.multi().hset(key, this.replica, n).pexpire(key, this.windowMs) : this.redis.multi().hdel(key, this.replica);
    write.exec().catch(() => undefined);
  }

  /** Heartbeat, then every count of this replica written again. */
  async refresh(): Promise<void> {
    if (this.redis.status !== 'ready') return;
    const pipeline = this.redis.pipeline();
    pipeline.capsHeartbeat(this.replicas, this.replica, this.windowMs);
    for (const [address, n] of this.counts()) pipeline.hset(this.key(address), this.replica, n).pexpire(this.key(address), this.windowMs);
    await pipeline.exec();
  }

  /** Stops the heartbeat and removes this replica from the counts (its connections are closing). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    if (this.redis.status === 'ready') await this.redis.zrem(this.replicas, this.replica).catch(() => undefined);
  }

  private key(address: string): string {
    return `${this.prefix}:${address}`;
  }
}
