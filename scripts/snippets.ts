/**
 * The TypeScript examples of README.md and docs/, type-checked the way a user's project would see
 * them: every ```ts block is one module of a scratch project that imports `vectordr` from the built
 * package (node_modules/vectordr → the package directory, so its `exports` and dist/*.d.ts are what
 * TypeScript resolves), compiled under moduleResolution `node16`, `nodenext` and `bundler`.
 * scripts/check-snippets.ts runs it over the docs; test/unit/snippets.test.ts tests the mechanism.
 *
 * A block is a complete module unless an HTML comment on the line before its fence says otherwise
 * (invisible on GitHub and npm):
 *
 *   <!-- snippet: uses repo, adapter -->   the block continues an earlier one: these values are
 *                                         declared before it, typed as in SNIPPET_VALUES (values only:
 *                                         imports are always written in the block, so it can be pasted)
 *   <!-- snippet: runs -->                a complete module that scripts/package-check.sh also runs, from
 *                                         the packed package installed into a scratch project (the README's
 *                                         quickstart)
 *   <!-- snippet: tree -->                a contributor's file inside the repository (first line
 *                                         `// path/in/tree.ts`), type-checked against the source tree
 *                                         by test/unit/writing-an-adapter.test.ts instead
 *   <!-- snippet: fragment -->            not checked at all: the escape hatch, for text that cannot be
 *                                         a module; keep it rare
 */
import { mkdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

/** The values a `uses` marker can declare, with the type each has in the block it continues. */
export const SNIPPET_VALUES: Readonly<Record<string, string>> = {
  repo: "import('vectordr').Repository",
  storage: "import('vectordr').Storage",
  manifest: "import('vectordr').Manifest",
  adapter: "import('vectordr').VectorAdapter",
  pgvector: "import('vectordr').VectorAdapter",
  logger: "import('vectordr').Logger",
  pool: "import('pg').Pool",
  router: "import('vectordr/adapters/pgvector').PgRouter",
  client: "import('@qdrant/js-client-rest').QdrantClient",
  url: 'string',
  passphrase: 'string',
  key: 'Uint8Array',
  keyId: 'string',
  wrap: "import('vectordr').KeyWrapper['wrap']",
  unwrap: "import('vectordr').KeyWrapper['unwrap']",
  id: 'number',
  vec: 'string',
  q: 'string',
};

export type SnippetMode = 'module' | 'tree' | 'fragment';

export interface Snippet {
  /** Markdown file, relative to the root it was read from. */
  file: string;
  /** 1-based line of the block's first code line in the markdown file. */
  line: number;
  code: string;
  mode: SnippetMode;
  /** Names from SNIPPET_VALUES declared before the block (`uses`). */
  uses: string[];
  /** Also run from the installed package (`runs`). */
  runs: boolean;
}

const MARKER = /^<!--\s*snippet:\s*(.*?)\s*-->$/;

/** The ```ts blocks of one markdown text, with their markers; a malformed marker throws. */
export function extractSnippets(markdown: string, file: string): Snippet[] {
  const lines = markdown.split('\n');
  const snippets: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i] as string)) {
      if (/^```/.test(lines[i] as string)) i = closingFence(lines, i, file); // skip other languages' blocks whole
      continue;
    }
    const end = closingFence(lines, i, file);
    const marker = MARKER.exec((lines[i - 1] ?? '').trim())?.[1];
    snippets.push({ file, line: i + 2, code: lines.slice(i + 1, end).join('\n') + '\n', ...parseMarker(marker, `${file}:${i}`) });
    i = end;
  }
  return snippets;
}

function closingFence(lines: string[], open: number, file: string): number {
  for (let j = open + 1; j < lines.length; j++) if (/^```\s*$/.test(lines[j] as string)) return j;
  throw new Error(`${file}:${open + 1}: a code block that is never closed`);
}

function parseMarker(marker: string | undefined, where: string): Pick<Snippet, 'mode' | 'uses' | 'runs'> {
  if (marker === undefined) return { mode: 'module', uses: [], runs: false };
  if (marker === 'runs') return { mode: 'module', uses: [], runs: true };
  if (marker === 'tree' || marker === 'fragment') return { mode: marker, uses: [], runs: false };
  const uses = /^uses\s+(.+)$/.exec(marker)?.[1];
  if (uses === undefined) throw new Error(`${where}: unknown snippet marker "${marker}" (uses <names> | runs | tree | fragment)`);
  const names = uses.split(/[\s,]+/).filter((n) => n !== '');
  const unknown = names.filter((n) => !Object.hasOwn(SNIPPET_VALUES, n));
  if (unknown.length > 0) throw new Error(`${where}: "uses" names ${unknown.join(', ')}, not in SNIPPET_VALUES (scripts/snippets.ts)`);
  return { mode: 'module', uses: names, runs: false };
}

/** README.md and every markdown file under docs/, relative to `root`. */
export function docFiles(root: string): string[] {
  const walk = (dir: string): string[] =>
    ts.sys.readDirectory(join(root, dir), ['.md'], undefined, undefined).map((f) => relative(root, f).replaceAll('\\', '/'));
  return ['README.md', ...walk('docs').sort()];
}

export const RESOLUTIONS = ['node16', 'nodenext', 'bundler'] as const;
export type Resolution = (typeof RESOLUTIONS)[number] | 'node10';

/**
 * What a user's tsconfig would say for each moduleResolution: strict, and `skipLibCheck: false` so
 * the package's own declarations are checked too (checkSnippets reports errors of the snippets and
 * of the package only: other libraries' declarations are theirs).
 */
export function compilerOptions(resolution: Resolution, typeRoots: string[]): ts.CompilerOptions {
  const module = {
    node16: { module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16 },
    nodenext: { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext },
    bundler: { module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler },
    node10: { module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Node10 },
  }[resolution];
  return {
    ...module,
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2023.d.ts'],
    types: ['node'],
    typeRoots,
    strict: true,
    esModuleInterop: true,
    skipLibCheck: false,
    moduleDetection: ts.ModuleDetectionKind.Force,
    noEmit: true,
  };
}

export interface CheckOptions {
  /** The package directory: its package.json `exports` and dist/ are what the snippets import. */
  packageDir: string;
  /** A scratch directory (emptied); put it where the snippets' other imports (pg, ...) resolve. */
  workDir: string;
  /** Where `@types/node` is. */
  typeRoots: string[];
  resolutions?: readonly Resolution[];
}

export interface SnippetError {
  /** `file.md:line` of the error inside the markdown file. */
  at: string;
  resolution: Resolution;
  message: string;
}

/** The moduleResolution × snippet type errors; empty when every checked snippet compiles under each. */
export function checkSnippets(snippets: Snippet[], options: CheckOptions): SnippetError[] {
  rmSync(options.workDir, { recursive: true, force: true });
  mkdirSync(join(options.workDir, 'node_modules'), { recursive: true });
  writeFileSync(join(options.workDir, 'package.json'), JSON.stringify({ private: true, type: 'module' }));
  symlinkSync(options.packageDir, join(options.workDir, 'node_modules', 'vectordr'), 'dir');

  const files = new Map<string, { snippet: Snippet; preamble: number }>();
  for (const snippet of snippets.filter((s) => s.mode === 'module')) {
    const name = `${snippet.file.replace(/[^A-Za-z0-9]+/g, '-')}-L${snippet.line}.ts`;
    // One line of declarations, so a snippet line is the file line minus one.
    const preamble = snippet.uses.map((n) => `declare const ${n}: ${SNIPPET_VALUES[n]};`).join(' ');
    writeFileSync(join(options.workDir, name), preamble === '' ? snippet.code : `${preamble}\n${snippet.code}`);
    files.set(join(options.workDir, name), { snippet, preamble: preamble === '' ? 0 : 1 });
  }

  const errors: SnippetError[] = [];
  const packageFiles = `${realpathSync(options.packageDir)}/`;
  for (const resolution of options.resolutions ?? RESOLUTIONS) {
    const program = ts.createProgram([...files.keys()], compilerOptions(resolution, options.typeRoots));
    const checked = program
      .getSourceFiles()
      .filter(
        (f) =>
          files.has(f.fileName) ||
          (f.fileName.startsWith(packageFiles) && !f.fileName.slice(packageFiles.length).includes('node_modules/')),
      );
    const diagnostics = [
      ...program.getOptionsDiagnostics(),
      ...program.getGlobalDiagnostics(),
      ...checked.flatMap((f) => [...program.getSyntacticDiagnostics(f), ...program.getSemanticDiagnostics(f)]),
    ];
    for (const d of diagnostics) {
      const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
      const source = d.file === undefined ? undefined : files.get(d.file.fileName);
      if (source === undefined || d.file === undefined || d.start === undefined) {
        errors.push({ at: d.file?.fileName ?? '(program)', resolution, message });
        continue;
      }
      const line = d.file.getLineAndCharacterOfPosition(d.start).line - source.preamble;
      errors.push({ at: `${source.snippet.file}:${source.snippet.line + line}`, resolution, message });
    }
  }
  return errors;
}

/** Every snippet of README.md and docs/ under `root`. */
export function readDocSnippets(root: string): Snippet[] {
  return docFiles(root).flatMap((f) => extractSnippets(readFileSync(join(root, f), 'utf8'), f));
}
