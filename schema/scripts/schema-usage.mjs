#!/usr/bin/env node
/**
 * `npm run schema:usage`: which deprecated fields (and arguments and enum values) of the current
 * supergraph are still used, and by which operations, from the gateway's
 * `graphql_field_usage_total{operation, coordinate}` counters (gateway/src/field-usage.ts).
 *
 *   npm run schema:usage -- --url http://localhost:4000          a running gateway's /metrics
 *                                                               (METRICS_TOKEN sent when set)
 *   npm run schema:usage -- --prometheus http://prometheus:9090 --window 7d
 *                                                               increase over a window, every gateway replica
 *   add --all to list every coordinate in use, deprecated or not.
 *
 * Exit code 0; the report is on stdout. Importable: parseUsage(metricsText), report(usage, deprecated)
 * (deprecatedCoordinates is schema-check.mjs's).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { apiSchemaSdl, deprecatedCoordinates } from './schema-check.mjs';

const METRIC = 'graphql_field_usage_total';

/** Reads a Prometheus text label value (`\\`, `\"`, `\n` escaped; exposition format 0.0.4). */
const unescape = (v) => v.replace(/\\(["\\n])/g, (_m, c) => (c === 'n' ? '\n' : c));

/**
 * The usage counters of a Prometheus text exposition: [{ operation, coordinate, count }], one per
 * series of {@link METRIC} (a count of operation runs).
 */
export function parseUsage(text) {
  const out = [];
  const line = new RegExp(`^${METRIC}\\{(.*)\\}\\s+([0-9.eE+-]+)`);
  for (const l of text.split('\n')) {
    const m = line.exec(l);
    if (!m) continue;
    const labels = Object.fromEntries([...m[1].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], unescape(x[2])]));
    out.push({ operation: labels.operation, coordinate: labels.coordinate, count: Number(m[2]) });
  }
  return out;
}

/**
 * The report's lines: each deprecated coordinate in use, with its reason and the operations that
 * select it (runs each); then, with `all`, every coordinate in use.
 */
export function report(usage, deprecated, all = false) {
  const byCoordinate = new Map();
  for (const u of usage) {
    if (!u.count) continue;
    const ops = byCoordinate.get(u.coordinate) ?? new Map();
    ops.set(u.operation, (ops.get(u.operation) ?? 0) + u.count);
    byCoordinate.set(u.coordinate, ops);
  }
  const describe = (ops) => [...ops].map(([op, n]) => `${op} (${n})`).join(', ');
  const lines = [];
  const used = [...deprecated].filter(([c]) => byCoordinate.has(c));
  lines.push(
    used.length
      ? `Deprecated and still in use (${used.length} of ${deprecated.size} deprecated):`
      : `No deprecated coordinate in use (${deprecated.size} deprecated).`,
  );
  for (const [c, reason] of used) lines.push(`  ${c}  — ${reason}\n    by ${describe(byCoordinate.get(c))}`);
  const unused = [...deprecated.keys()].filter((c) => !byCoordinate.has(c));
  if (unused.length) lines.push(`Deprecated and unused in this window, safe to remove: ${unused.join(', ')}`);
  if (all) {
    lines.push('In use:');
    for (const [c, ops] of [...byCoordinate].sort(([a], [b]) => a.localeCompare(b))) lines.push(`  ${c}  by ${describe(ops)}`);
  }
  return lines;
}

async function usageFrom({ url, prometheus, window }) {
  if (prometheus) {
    const q = `sum by (operation, coordinate) (increase(${METRIC}[${window}]))`;
    const res = await fetch(`${prometheus.replace(/\/$/, '')}/api/v1/query?query=${encodeURIComponent(q)}`);
    if (!res.ok) throw new Error(`Prometheus answered ${res.status}`);
    const body = await res.json();
    return body.data.result.map((r) => ({
      operation: r.metric.operation,
      coordinate: r.metric.coordinate,
      count: Math.round(Number(r.value[1])),
    }));
  }
  const res = await fetch(`${url.replace(/\/$/, '')}/metrics`, {
    headers: process.env.METRICS_TOKEN ? { authorization: `Bearer ${process.env.METRICS_TOKEN}` } : {},
  });
  if (!res.ok)
    throw new Error(`${url}/metrics answered ${res.status}${res.status === 401 || res.status === 404 ? ' (set METRICS_TOKEN)' : ''}`);
  return parseUsage(await res.text());
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', default: 'http://localhost:4000' },
      prometheus: { type: 'string' },
      window: { type: 'string', default: '7d' },
      all: { type: 'boolean', default: false },
    },
  });
  try {
    const usage = await usageFrom(values);
    console.log(report(usage, deprecatedCoordinates(apiSchemaSdl()), values.all).join('\n'));
  } catch (err) {
    console.error(`✖ ${err.message}`);
    process.exit(1);
  }
}
