/**
 * The one trust gate for what a manifest records as executable text (docs/format.md, decision 6):
 * SQL expressions of a table definition (defaults, generated columns, CHECK, partition bounds, index
 * expressions) and engine configuration that makes an engine act (Weaviate modules). A manifest is
 * untrusted input: a plaintext repository's checksum detects damage, not an attacker who recomputes
 * it. The text is applied only when the manifest is authenticated (an encrypted repository's GCM
 * seal, which only a key holder can produce) or the caller opts in; otherwise the adapter restores
 * without it and the result lists it.
 */
import type { DefinitionGate, NotCarriedOver } from '../adapter.js';

export const UNTRUSTED_REASON = 'manifest not authenticated; pass trustDefinitions to apply';

/** A gate for one restore, with what adapters listed through it (`reported`, in order, without repeats). */
export function definitionGate(o: { authenticated: boolean; trustDefinitions: boolean }): DefinitionGate & {
  readonly reported: NotCarriedOver[];
} {
  const reported: NotCarriedOver[] = [];
  const seen = new Set<string>();
  const trusted = o.authenticated || o.trustDefinitions;
  const report = (entry: NotCarriedOver): void => {
    const key = JSON.stringify([entry.what, entry.name, entry.action]);
    if (seen.has(key)) return;
    seen.add(key);
    reported.push(entry);
  };
  return {
    trusted,
    reported,
    allows(what, name) {
      if (!trusted) report({ what, name, reason: UNTRUSTED_REASON, action: 'not-recreated' });
      return trusted;
    },
    report,
  };
}
