/**
 * Engine selection for integration suites. An engine suite runs when its connection settings are
 * present; `VECTORDR_REQUIRE_ENGINES=pgvector,pglite` (set by scripts/test-all.sh and CI) turns a
 * missing engine into a failure instead of a skip, so CI can never pass by skipping.
 */
const required = new Set((process.env.VECTORDR_REQUIRE_ENGINES ?? '').split(',').map((s) => s.trim()).filter(Boolean));

export function engineAvailable(name: string, available: boolean): boolean {
  if (!available && required.has(name)) {
    throw new Error(`Engine suite "${name}" is required (VECTORDR_REQUIRE_ENGINES) but its server is not configured; start it with scripts/test-all.sh.`);
  }
  return available;
}

export function randomName(prefix: string): string {
  return `${prefix}_${Math.random().toString(36).slice(2, 10)}`;
}
