/**
 * CPU accounting of local processes from Linux's /proc, for the benchmarks: which process
 * listens on a port, and how many CPU seconds a process and its descendants have used.
 * Source: proc(5) — /proc/net/tcp{,6} (socket inode per local address, state 0A = LISTEN),
 * /proc/<pid>/fd (socket:[inode] links), /proc/<pid>/stat fields 14–17 (utime, stime, cutime,
 * cstime, in clock ticks; USER_HZ is 100 on Linux).
 * Off Linux every function answers undefined/0 and the benchmarks print no CPU figures.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

const TICKS_PER_SECOND = 100;

function read(path) {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Parsed /proc/<pid>/stat: parent pid and CPU seconds (own, and of waited-for children). */
function stat(pid) {
  const s = read(`/proc/${pid}/stat`);
  if (!s) return undefined;
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state): ppid is field 4, utime..cstime are fields 14..17.
  return {
    ppid: Number(f[1]),
    own: (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND,
    children: (Number(f[13]) + Number(f[14])) / TICKS_PER_SECOND,
  };
}

/** The pid of the process listening on TCP `port` (any local address), or undefined. */
export function pidOnPort(port) {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of (read(table) ?? '').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length > 9 && cols[1].endsWith(`:${hex}`) && cols[3] === '0A') inodes.add(cols[9]);
    }
  }
  if (!inodes.size) return undefined;
  for (const pid of pids()) {
    let fds;
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m && inodes.has(m[1])) return pid;
      } catch {
        /* gone */
      }
    }
  }
  return undefined;
}

function pids() {
  try {
    return readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * CPU seconds used so far by `pid` and every descendant alive now, plus what its exited
 * children used (e.g. PostgreSQL's postmaster and its backends). 0 when unknown.
 */
export function cpuSecondsOfTree(pid) {
  if (!pid) return 0;
  const all = new Map();
  for (const p of pids()) {
    const s = stat(p);
    if (s) all.set(p, s);
  }
  let total = 0;
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop();
    const s = all.get(p);
    if (!s) continue;
    total += s.own + s.children;
    for (const [child, cs] of all) if (cs.ppid === p) stack.push(child);
  }
  return total;
}

/** CPU seconds used so far by this process. */
export function ownCpuSeconds() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}
