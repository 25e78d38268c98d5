/**
 * docs/writing-an-adapter.md stays true: every TypeScript block of its skeleton type-checks against
 * today's tree, as the file its first line names (`// adapters/acme/acme-adapter.ts`), or spliced
 * into the array it names (`// test/helpers/engines.ts, in TEST_ENGINES:`). And the engine set it
 * describes is open: any lowercase identifier names an engine.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { EngineNameSchema } from '../../src/model.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const doc = readFileSync(join(root, 'docs', 'writing-an-adapter.md'), 'utf8');

/** The skeleton's blocks as files of the tree: path -> text. */
function skeletonFiles(): Map<string, string> {
  const section = doc.slice(doc.indexOf('## Skeleton'), doc.indexOf('\n## ', doc.indexOf('## Skeleton') + 1));
  const files = new Map<string, string>();
  for (const [, path, into, body] of section.matchAll(/```ts\n\/\/ (\S+\.ts)(?:, in (\w+):)?\n([\s\S]*?)```/g)) {
    const file = join(root, path as string);
    if (into === undefined) {
      files.set(file, body as string);
      continue;
    }
    const text = files.get(file) ?? readFileSync(file, 'utf8');
    const open = new RegExp(`${into}\\b[^=]*= \\[\\n`).exec(text);
    if (!open) throw new Error(`${path} has no array ${into}`);
    const at = open.index + open[0].length;
    files.set(file, text.slice(0, at) + (body as string) + text.slice(at));
  }
  return files;
}

/** Type errors in `files`, compiled with the project's tsconfig beside the real tree. */
function typeErrors(files: Map<string, string>): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(
    join(root, 'tsconfig.json'),
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined },
  );
  if (!config) throw new Error('tsconfig.json does not parse');
  const host = ts.createCompilerHost(config.options);
  const { fileExists, readFile, directoryExists, getSourceFile } = host;
  const dirs = new Set(
    [...files.keys()].flatMap((f) => f.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'))).map((d) => d || '/'),
  );
  host.fileExists = (f) => files.has(f) || fileExists.call(host, f);
  host.readFile = (f) => files.get(f) ?? readFile.call(host, f);
  host.directoryExists = (d) => dirs.has(d.replace(/\/$/, '')) || (directoryExists?.call(host, d) ?? true);
  host.getSourceFile = (f, lang, ...rest) => {
    const text = files.get(f);
    return text === undefined ? getSourceFile.call(host, f, lang, ...rest) : ts.createSourceFile(f, text, lang);
  };
  const program = ts.createProgram([...files.keys()], { ...config.options, noEmit: true }, host);
  return [...files.keys()].flatMap((f) => {
    const source = program.getSourceFile(f);
    if (!source) return [`${f}: not compiled`];
    return [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)].map((d) => {
      const line = d.start === undefined ? 0 : source.getLineAndCharacterOfPosition(d.start).line + 1;
      return `${f.slice(root.length)}:${line}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
  });
}

describe('docs/writing-an-adapter.md', () => {
  it('the skeleton (adapter, options, index, conformance call, registry entry) type-checks against the tree', () => {
    const files = skeletonFiles();
    expect([...files.keys()].map((f) => f.slice(root.length)).sort()).toEqual([
      'adapters/acme/acme-adapter.ts',
      'adapters/acme/acme-options.ts',
      'adapters/acme/index.ts',
      'test/acme/acme.test.ts',
      'test/helpers/engines.ts',
    ]);
    expect(typeErrors(files)).toEqual([]);
  }, 180_000); // a whole-tree tsc: about 30 s alone, more beside the engine suites on two cores

  it('an engine name is any lowercase identifier: the set is open, the known names among them', () => {
    for (const name of ['pgvector', 'milvus', 'qdrant', 'weaviate', 'acme', 'azure-ai-search', 'lance_db', 'x1']) {
      expect(EngineNameSchema.safeParse(name).success, name).toBe(true);
    }
    for (const name of ['', 'Qdrant', '1x', '-x', 'a b', '../x', 'x/y', 'é', 'a'.repeat(65)]) {
      expect(EngineNameSchema.safeParse(name).success, JSON.stringify(name)).toBe(false);
    }
  });
});
