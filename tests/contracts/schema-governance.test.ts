/**
 * Breaking-change check (schema/scripts/schema-check.mjs): the composed API schema keeps every
 * released client working, or the changelog declares what does not; and the check itself sees a
 * removed field, a nullable argument made required and a dropped enum value as breaking, an
 * added enum value as dangerous, and a declared change as declared; and a removal of what was not
 * deprecated first as refused.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { apiSchemaSdl, changelogPath, checkSchema, release, releasedPath } from '../../schema/scripts/schema-check.mjs';

const released = readFileSync(releasedPath, 'utf8');
const changelog = readFileSync(changelogPath, 'utf8');

describe('schema governance', () => {
  it('the composed API schema breaks no released client, or the changelog declares it', async () => {
    const result = await checkSchema({ released, current: apiSchemaSdl(), changelog });
    expect(result.undeclared.map((c) => `${c.path}: ${c.message}`)).toEqual([]);
  });

  it('rates a removed field, a required argument and a dropped enum value breaking, and an added enum value dangerous', async () => {
    expect(released).toMatch(/^ {2}myDashboard: /m);
    expect(released).toContain('STUDENT_REQUEST');
    // A field and an enum value go (with their descriptions), an argument becomes required, an enum value comes.
    const current = released
      .replace(/\n {2}"""\n[^"]*"""\n {2}myDashboard: .*\n/, '\n')
      .replace(/\n {2}"""[^"]*"""\n {2}STUDENT_REQUEST\n/, '\n')
      .replace('lectures(after: String, first: Int,', 'lectures(after: String, first: Int!,')
      .replace(/^enum RegistrationStatus \{$/m, 'enum RegistrationStatus {\n  ARCHIVED');
    expect(current).not.toContain('myDashboard:');
    expect(current).not.toMatch(/^ {2}STUDENT_REQUEST$/m);
    expect(current).toContain('first: Int!,');
    expect(current).not.toBe(released);
    const result = await checkSchema({ released, current, changelog: '# Schema changelog\n\n## Unreleased\n' });
    const paths = (list: Array<{ path?: string }>) => list.map((c) => c.path);
    expect(paths(result.breaking)).toEqual(
      expect.arrayContaining(['Query.myDashboard', 'CancellationReason.STUDENT_REQUEST', 'Query.lectures.first']),
    );
    expect(paths(result.undeclared)).toEqual(paths(result.breaking));
    expect(paths(result.dangerous)).toContain('RegistrationStatus.ARCHIVED');
    // Declared in the Unreleased section (not in an older one): no longer undeclared.
    const declared = await checkSchema({
      released,
      current,
      changelog: `# Schema changelog\n\n## Unreleased\n\n- \`Query.myDashboard\` is gone: read \`myRegistrations\`.\n\n## 2026-01-01\n\n- \`CancellationReason.STUDENT_REQUEST\`\n`,
    });
    expect(paths(declared.undeclared)).not.toContain('Query.myDashboard');
    expect(paths(declared.undeclared)).toContain('CancellationReason.STUDENT_REQUEST');
  });

  it('refuses to remove a field or enum value the released schema had not deprecated, declared or not; a deprecated one goes once declared', async () => {
    const declaring = '# Schema changelog\n\n## Unreleased\n\n- `Query.myDashboard` and `CancellationReason.STUDENT_REQUEST` go.\n';
    const removed = (from: string) =>
      from.replace(/\n {2}"""\n[^"]*"""\n {2}myDashboard: .*\n/, '\n').replace(/\n {2}"""[^"]*"""\n {2}STUDENT_REQUEST\n/, '\n');
    const paths = (list: Array<{ path?: string }>) => list.map((c) => c.path).sort();
    const abrupt = await checkSchema({ released, current: removed(released), changelog: declaring });
    expect(paths(abrupt.undeclared)).toEqual([]);
    expect(paths(abrupt.undeprecated)).toEqual(['CancellationReason.STUDENT_REQUEST', 'Query.myDashboard']);
    // Deprecated in the released schema first: the same removal passes.
    const deprecatedFirst = released
      .replace(/^( {2}myDashboard: .*)$/m, '$1 @deprecated(reason: "read myRegistrations")')
      .replace(/^( {2}STUDENT_REQUEST)$/m, '$1 @deprecated(reason: "no longer told apart")');
    expect(deprecatedFirst).not.toBe(released);
    const patient = await checkSchema({ released: deprecatedFirst, current: removed(released), changelog: declaring });
    expect(paths(patient.breaking)).toEqual(expect.arrayContaining(['CancellationReason.STUDENT_REQUEST', 'Query.myDashboard']));
    expect(patient.undeprecated).toEqual([]);
    expect(patient.undeclared).toEqual([]);
  });

  it('passes an additive change: a new field, argument and type break nobody', async () => {
    const current = released
      .replace(/^type Query \{$/m, 'type Query {\n  "Added."\n  hello(name: String): Greeting')
      .concat('\n"Added."\ntype Greeting {\n  "Added."\n  text: String!\n}\n');
    const result = await checkSchema({ released, current, changelog: '# Schema changelog\n\n## Unreleased\n' });
    expect(result.breaking).toEqual([]);
    expect(result.undeclared).toEqual([]);
    expect(result.safe.map((c: { path?: string }) => c.path)).toEqual(expect.arrayContaining(['Query.hello', 'Greeting']));
  });

  it('releases: the current schema becomes the released one, and the Unreleased section is dated', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'schema-release-'));
    const paths = { released: path.join(dir, 'released.graphql'), changelog: path.join(dir, 'CHANGELOG.md') };
    writeFileSync(paths.changelog, '# Schema changelog\n\n## Unreleased\n\n- `Query.old` removed\n');
    release('type Query { a: Int }\n', paths, new Date('2027-03-01T12:00:00Z'));
    expect(readFileSync(paths.released, 'utf8')).toBe('type Query { a: Int }\n');
    expect(readFileSync(paths.changelog, 'utf8')).toBe('# Schema changelog\n\n## Unreleased\n\n## 2027-03-01\n\n- `Query.old` removed\n');
  });
});
