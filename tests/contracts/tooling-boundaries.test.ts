/**
 * The tooling's layout holds (README, "Architecture"): the test kit and the scripts never import
 * each other's files, and what both need lives in the devkit, which imports neither. A relative
 * path across these folders would tie them together again where no package.json shows it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** Every module specifier in the .ts and .mjs files under `dir` (relative to the root): [file, specifier]. */
function specifiersUnder(dir: string): [string, string][] {
  const found: [string, string][] = [];
  for (const entry of readdirSync(path.join(ROOT, dir), { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !/\.(ts|mjs)$/.test(entry.name)) continue;
    const file = path.join(entry.parentPath, entry.name);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)) found.push([path.relative(ROOT, file), m[1]!]);
  }
  return found;
}

/** The imports of `dir` that reach a file in one of `forbidden` (folders from the root), by path or by package. */
function reaching(dir: string, forbidden: { folder: string; pkg?: string }[]): string[] {
  return specifiersUnder(dir)
    .filter(([file, spec]) =>
      forbidden.some(({ folder, pkg }) => {
        if (pkg && (spec === pkg || spec.startsWith(`${pkg}/`))) return true;
        if (!spec.startsWith('.')) return false;
        const target = path.relative(ROOT, path.resolve(ROOT, path.dirname(file), spec));
        return target === folder || target.startsWith(`${folder}${path.sep}`);
      }),
    )
    .map(([file, spec]) => `${file} -> ${spec}`);
}

describe('tooling boundaries', () => {
  it('the test kit imports nothing of the scripts', () => {
    expect(reaching('test-kit/src', [{ folder: 'scripts' }])).toEqual([]);
  });

  it('the scripts import the test kit and the devkit by package, never by path', () => {
    expect(reaching('scripts', [{ folder: 'test-kit' }, { folder: 'devkit' }])).toEqual([]);
  });

  it('the devkit imports neither the scripts nor the test kit', () => {
    expect(reaching('devkit/src', [{ folder: 'scripts' }, { folder: 'test-kit', pkg: '@courses/test-kit' }])).toEqual([]);
  });

  it('the tests reach the devkit by package, not through scripts/lib', () => {
    const viaScripts = specifiersUnder('tests').filter(([, spec]) => /scripts\/lib\/(graphql-client|consistency|provision)/.test(spec));
    expect(viaScripts).toEqual([]);
  });
});
