/**
 * Lint: every `pg` Client or Pool created in this repository gets an 'error' listener right where it
 * is created (a lost connection is otherwise an uncaught exception; see
 * test/pgvector/pg-connection-loss.test.ts, which checks the behaviour against a real server).
 * Tests and benchmarks use test/helpers/pg.ts; library code attaches a listener that logs.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIRS = ['src', 'adapters', 'test', 'bench', 'examples', 'scripts'];

function* sources(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* sources(p);
    else if (/\.(ts|mts|js|mjs|cjs)$/.test(name)) yield p;
  }
}

describe('pg clients and pools', () => {
  it("every new Client / new Pool has an 'error' listener where it is created", () => {
    const missing: string[] = [];
    let seen = 0;
    for (const dir of DIRS) {
      for (const file of sources(join(ROOT, dir))) {
        const text = readFileSync(file, 'utf8');
        for (const m of text.matchAll(/new (?:[\w.]+\.)?(Client|Pool)\(/g)) {
          seen++;
          const rel = relative(ROOT, file);
          // The listener is attached within the statements that follow the creation.
          const after = text.slice(m.index, m.index + 900);
          if (!/\.on\('error'/.test(after)) missing.push(`${rel}:${text.slice(0, m.index).split('\n').length}: ${m[0]}`);
        }
      }
    }
    expect(seen).toBeGreaterThan(3);
    expect(
      missing,
      "create pg clients with test/helpers/pg.ts (tests, benchmarks) or attach an 'error' listener that logs (library)",
    ).toEqual([]);
  });
});
