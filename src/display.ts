/**
 * What an object shows when it is printed: `util.inspect` (console.log, a REPL, a logger that
 * formats objects) and `JSON.stringify` see only the non-secret facts given here, never the fields
 * that hold credentials, clients or connection strings (docs/security.md, "Secrets on display").
 * Every storage, adapter, router and repository object calls it in its constructor.
 */
import { inspect } from 'node:util';

export function displayOnly(target: object, name: string, facts: () => Record<string, unknown>): void {
  Object.defineProperty(target, 'toJSON', { value: () => ({ ...facts() }), enumerable: false, configurable: true });
  Object.defineProperty(target, inspect.custom, {
    value: (_depth: number, options: object, show: typeof inspect = inspect) => `${name} ${show(facts(), options)}`,
    enumerable: false,
    configurable: true,
  });
}
