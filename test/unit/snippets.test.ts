/**
 * The docs' TypeScript examples are type-checked against the built package (scripts/snippets.ts,
 * run by scripts/check-snippets.ts after `npm run build` in `npm run test:all`). Here: the mechanism,
 * on a small stand-in package so no build is needed — a good snippet passes under node16, nodenext
 * and bundler, a broken one fails at its markdown line, `uses` declares what a continuation needs,
 * and node10 cannot see subpath exports (what the README says). And the markers in README.md and
 * docs/ all parse.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESOLUTIONS, type Resolution, checkSnippets, extractSnippets, readDocSnippets } from '../../scripts/snippets.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const scratch = join(root, '.cache', `snippets-test-${process.pid}`);
const typeRoots = [join(root, 'node_modules', '@types')];

/** A package shaped like vectordr's: a root export and a wildcard subpath, ESM types only. */
function standInPackage(dir: string): void {
  mkdirSync(join(dir, 'dist', 'adapters', 'acme'), { recursive: true });
  const exports = {
    '.': { import: { types: './dist/index.d.ts', default: './dist/index.js' } },
    './adapters/*': { import: { types: './dist/adapters/*/index.d.ts', default: './dist/adapters/*/index.js' } },
  };
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'vectordr', type: 'module', types: './dist/index.d.ts', exports }));
  writeFileSync(
    join(dir, 'dist', 'index.d.ts'),
    'export declare class Repository { list(): Promise<{ id: string }[]> }\n' +
      'export declare function openRepository(o: { path: string }): Promise<Repository>;\n',
  );
  writeFileSync(join(dir, 'dist', 'adapters', 'acme', 'index.d.ts'), 'export declare function acmeAdapter(o: { url: string }): object;\n');
}

const doc = (...blocks: string[]): string => blocks.join('\n\n');
const GOOD = [
  '```ts',
  "import { openRepository } from 'vectordr';",
  "import { acmeAdapter } from 'vectordr/adapters/acme';",
  '',
  "const repo = await openRepository({ path: '/backups' });",
  'const latest = (await repo.list()).at(-1);',
  "console.log(latest?.id, acmeAdapter({ url: 'http://acme:1' }));",
  '```',
].join('\n');

describe('doc snippets: extraction', () => {
  it('finds ts blocks with their markdown line and marker, and skips other languages whole', () => {
    const md = ['# T', '```sh', '```ts inside sh', '```', GOOD, '<!-- snippet: uses repo, id -->', '```ts', 'repo;', '```'].join('\n');
    const found = extractSnippets(md, 'x.md');
    expect(found.map(({ line, mode, uses }) => ({ line, mode, uses }))).toEqual([
      { line: 6, mode: 'module', uses: [] },
      { line: 15, mode: 'module', uses: ['repo', 'id'] },
    ]);
    expect(found[1]?.code).toBe('repo;\n');
  });

  it('refuses an unknown marker, an unknown name and an unclosed block', () => {
    expect(() => extractSnippets('<!-- snippet: skip -->\n```ts\nx\n```\n', 'x.md')).toThrow(/unknown snippet marker "skip"/);
    expect(() => extractSnippets('<!-- snippet: uses repo, nope -->\n```ts\nx\n```\n', 'x.md')).toThrow(/nope, not in SNIPPET_VALUES/);
    expect(() => extractSnippets('```ts\nx\n', 'x.md')).toThrow(/never closed/);
  });

  it('README.md and docs/: every marker parses; the tree blocks are the adapter skeleton; no unchecked fragment; one quickstart runs', () => {
    const snippets = readDocSnippets(root);
    expect(snippets.filter((s) => s.mode === 'module').length).toBeGreaterThanOrEqual(20);
    const tree = snippets.filter((s) => s.mode === 'tree');
    expect(tree.map((s) => s.file)).toEqual(Array(5).fill('docs/writing-an-adapter.md'));
    for (const s of tree) expect(s.code).toMatch(/^\/\/ (adapters|test)\/\S+\.ts/);
    expect(snippets.filter((s) => s.mode === 'fragment')).toEqual([]);
    expect(snippets.filter((s) => s.runs).map((s) => s.file)).toEqual(['README.md']); // the quickstart scripts/package-check.ts runs
  });
});

describe('doc snippets: type-checked against a package', () => {
  const pkg = join(scratch, 'pkg');
  beforeAll(() => standInPackage(pkg));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  const check = (md: string, resolutions: readonly Resolution[] = RESOLUTIONS) =>
    checkSnippets(extractSnippets(md, 'doc.md'), { packageDir: pkg, workDir: join(scratch, 'project'), typeRoots, resolutions });

  it('a snippet that compiles passes under node16, nodenext and bundler', () => {
    expect(check(GOOD)).toEqual([]);
  }, 60_000);

  it('a broken snippet fails under each, at its line in the markdown file', () => {
    const broken = GOOD.replace("{ path: '/backups' }", "{ dir: '/backups' }");
    const errors = check(doc('# Title', broken));
    expect(errors.map((e) => `${e.at} ${e.resolution}`)).toEqual(['doc.md:7 node16', 'doc.md:7 nodenext', 'doc.md:7 bundler']);
    expect(errors[0]?.message).toMatch(/'dir' does not exist/);
  }, 60_000);

  it('`uses` declares the values a continuation needs, typed, without shifting its line numbers', () => {
    const next = ['<!-- snippet: uses repo -->', '```ts', 'const all = await repo.list();', 'const n: string = all.length;', '```'].join(
      '\n',
    );
    expect(check(doc(GOOD, next)).map((e) => `${e.at} ${e.resolution}`)).toEqual([
      'doc.md:13 node16',
      'doc.md:13 nodenext',
      'doc.md:13 bundler',
    ]);
    expect(check(doc(GOOD, next.replace('<!-- snippet: uses repo -->', ''))).map((e) => e.message)).toContain("Cannot find name 'repo'.");
  }, 60_000);

  it("the package's own declarations are checked too (skipLibCheck off for them)", () => {
    const index = join(pkg, 'dist', 'index.d.ts');
    const text = readFileSync(index, 'utf8');
    try {
      writeFileSync(index, `${text}export declare function broken(): NoSuchType;\n`);
      const errors = check(GOOD, ['bundler']);
      expect(errors.map((e) => [e.at.endsWith('/dist/index.d.ts'), e.message])).toEqual([[true, "Cannot find name 'NoSuchType'."]]);
    } finally {
      writeFileSync(index, text);
    }
  }, 60_000);

  it('moduleResolution node10 finds the root (top-level "types") but not a subpath export', () => {
    const errors = check(GOOD, ['node10']);
    expect(errors.map((e) => `${e.at} ${e.message}`)).toEqual([
      expect.stringMatching(/^doc\.md:3 Cannot find module 'vectordr\/adapters\/acme'/),
    ]);
  }, 60_000);
});
