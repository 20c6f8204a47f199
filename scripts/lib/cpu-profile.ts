/**
 * Reads a V8 CPU profile (`.cpuprofile`, as `node --cpu-prof` writes it) and lists where the time
 * went: self time per function (name, file and line), summed over the profile's nodes, as a share
 * of all samples. Format: Chrome DevTools Protocol, Profiler.Profile
 * (https://chromedevtools.github.io/devtools-protocol/tot/Profiler/#type-Profile).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** The `n` functions with the most self time in profile `file`: name, where, and % of samples. */
export function topFrames(file: string, n = 25): Array<{ selfPercent: number; function: string; where: string }> {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[] };
  const total = profile.nodes.reduce((a, x) => a + (x.hitCount ?? 0), 0) || 1;
  const byFrame = new Map<string, { fn: string; where: string; hits: number }>();
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url ? `${shorten(url)}:${lineNumber + 1}` : '';
    const key = `${functionName}|${where}`;
    const e = byFrame.get(key) ?? { fn: functionName || '(anonymous)', where, hits: 0 };
    e.hits += node.hitCount ?? 0;
    byFrame.set(key, e);
  }
  return [...byFrame.values()]
    .sort((a, b) => b.hits - a.hits)
    .slice(0, n)
    .map((e) => ({ selfPercent: Number(((100 * e.hits) / total).toFixed(1)), function: e.fn, where: e.where }));
}

/** A file URL or path, from `node_modules/<package>` or the checkout on. */
function shorten(url: string): string {
  const p = url.replace(/^file:\/\//, '');
  const nm = p.lastIndexOf('node_modules/');
  return nm >= 0 ? p.slice(nm + 'node_modules/'.length) : path.relative(process.cwd(), p);
}
