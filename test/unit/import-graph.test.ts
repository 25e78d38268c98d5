/**
 * The import graph of src/ has no circle (issue 15): pipelines depend on ports, the repository on
 * the pipelines, never the other way round. Type-only imports count too — they make no runtime
 * circle, but a circle of types is the same tangle for a reader. Relative specifiers only
 * (`./x.js`, `../y/z.js`); packages cannot point back into src/.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/** `import … from`, `export … from`, `import type …`, bare `import '…'` and `import('…')`, across lines. */
const SPECIFIER = /\b(?:import|export)\s*(?:type\s+)?(?:[^'";]*?\bfrom\s*)?\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [full] : [];
  });
}

/** Each file of src/ (relative path) with the files of src/ it imports. */
function importGraph(root: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(root)) {
    const text = readFileSync(file, 'utf8');
    const targets = new Set<string>();
    for (const m of text.matchAll(SPECIFIER)) {
      const resolved = path.resolve(path.dirname(file), (m[1] as string).replace(/\.js$/, '.ts'));
      targets.add(path.relative(root, resolved));
    }
    graph.set(path.relative(root, file), [...targets].sort());
  }
  return graph;
}

/** The circles of a graph, each as a path that returns to its first file (depth-first, three colours). */
function findCycles(graph: Map<string, string[]>): string[][] {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return cycles;
}

describe('import graph of src/', () => {
  it('finds a circle when there is one (the walk itself works)', () => {
    const graph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', ['a.ts']],
    ]);
    expect(findCycles(graph)).toEqual([['a.ts', 'b.ts', 'c.ts', 'a.ts']]);
  });

  it('has no circle, counting type-only imports', () => {
    const graph = importGraph(SRC);
    expect(graph.size).toBeGreaterThan(30);
    // Every relative import resolves to a file of src/ (else the walk would miss edges silently),
    // except the CLI's loading of adapters through their entries: nothing in src/ outside src/cli/
    // imports the CLI, so no circle can run through an adapter.
    const adapterEntry = (file: string, t: string): boolean => file.startsWith('cli/') && /^\.\.\/adapters\/[^/]+\/index\.ts$/.test(t);
    const missing = [...graph].flatMap(([file, targets]) => targets.filter((t) => !graph.has(t) && !adapterEntry(file, t)));
    expect(missing).toEqual([]);
    const intoCli = [...graph].filter(([file, targets]) => !file.startsWith('cli/') && targets.some((t) => t.startsWith('cli/')));
    expect(intoCli).toEqual([]);
    expect(graph.get('repository/repository.ts')).toContain('snapshot/snapshot.ts');
    expect(findCycles(graph).map((c) => c.join(' -> '))).toEqual([]);
  });
});
