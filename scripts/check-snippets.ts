/**
 * Type-checks every TypeScript example of README.md and docs/ against the built package, under
 * moduleResolution node16, nodenext and bundler (scripts/snippets.ts says how, and how a block that
 * continues another is marked). Fails with the markdown line of each error.
 *
 *   npm run build && npx tsx scripts/check-snippets.ts
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RESOLUTIONS, checkSnippets, readDocSnippets } from './snippets.js';

const root = fileURLToPath(new URL('..', import.meta.url));
if (!existsSync(join(root, 'dist', 'index.d.ts'))) {
  process.stderr.write('check-snippets: no dist/index.d.ts; run `npm run build` first\n');
  process.exit(1);
}

const snippets = readDocSnippets(root);
const errors = checkSnippets(snippets, {
  packageDir: root,
  // Inside the clone, so the snippets' other imports (pg, prom-client, the engine clients) resolve from its node_modules.
  workDir: join(root, '.cache', 'snippets'),
  typeRoots: [join(root, 'node_modules', '@types')],
});
for (const e of errors) process.stderr.write(`${e.at} [${e.resolution}] ${e.message}\n`);
const count = (mode: string): number => snippets.filter((s) => s.mode === mode).length;
const summary =
  `${count('module')} snippets checked under ${RESOLUTIONS.join(', ')} against the built package; ` +
  `${count('tree')} checked against the tree by test/unit/writing-an-adapter.test.ts; ${count('fragment')} fragments not checked`;
if (errors.length > 0) {
  process.stderr.write(`check-snippets: ${errors.length} errors. ${summary}\n`);
  process.exit(1);
}
process.stdout.write(`check-snippets: OK. ${summary}\n`);
