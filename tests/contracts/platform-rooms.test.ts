/**
 * The platform's layout holds (platform/src/index.ts): each folder of platform/src is a room whose
 * index is its only face, and the rooms' imports run one way (no room reaches back to one that
 * imports it, directly or around a loop).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../../platform/src');
const rooms = readdirSync(SRC, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name);

/** Every relative import of every file of `room`: [file, the room it names (or '' for the top), the path]. */
function importsOf(room: string): [string, string, string][] {
  const found: [string, string, string][] = [];
  for (const file of readdirSync(path.join(SRC, room)).filter((f) => f.endsWith('.ts'))) {
    const text = readFileSync(path.join(SRC, room, file), 'utf8');
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
      const target = path.relative(SRC, path.resolve(SRC, room, m[1]!));
      const targetRoom = target.includes(path.sep) ? target.split(path.sep)[0]! : '';
      found.push([`${room}/${file}`, targetRoom, target]);
    }
  }
  return found;
}

describe('platform rooms', () => {
  it('has the rooms the layout names', () => {
    expect(rooms.sort()).toEqual(['concurrency', 'domain', 'http', 'messaging', 'observability', 'persistence', 'service']);
  });

  it('imports another room only through its index, never the top index', () => {
    const deep = rooms.flatMap((room) =>
      importsOf(room)
        .filter(([, to, target]) => to !== room && target !== path.join(to, 'index.js'))
        .map(([file, , target]) => `${file} -> ${target}`),
    );
    expect(deep).toEqual([]);
  });

  it('has no loop of rooms', () => {
    const uses = new Map(
      rooms.map((r) => [
        r,
        new Set(
          importsOf(r)
            .map(([, to]) => to)
            .filter((to) => to !== r),
        ),
      ]),
    );
    const loops: string[] = [];
    const visit = (room: string, trail: string[]) => {
      if (trail.includes(room)) return void loops.push([...trail.slice(trail.indexOf(room)), room].join(' -> '));
      for (const next of uses.get(room) ?? []) visit(next, [...trail, room]);
    };
    for (const r of rooms) visit(r, []);
    expect(loops).toEqual([]);
  });
});
