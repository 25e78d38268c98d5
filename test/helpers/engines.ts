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

/** A Milvus-protocol server the Milvus suites run against. */
export interface MilvusTestServer {
  /** The VECTORDR_REQUIRE_ENGINES name. */
  readonly engine: 'milvus' | 'milvus-standalone';
  /** For test titles. */
  readonly label: string;
  readonly address: string;
}

/**
 * Every configured Milvus server: milvus-lite (MILVUS_ADDRESS, scripts/milvus-server.sh) and the
 * real Milvus standalone (MILVUS_STANDALONE_ADDRESS, scripts/milvus-standalone.sh). The Milvus
 * suites run their cases once per server; what differs between them is decided by what the adapter
 * reads from the server (`adapter.server()`), never by which one it is.
 */
export function milvusTestServers(): MilvusTestServer[] {
  const servers: [MilvusTestServer['engine'], string, string | undefined][] = [
    ['milvus', 'milvus-lite', process.env.MILVUS_ADDRESS],
    ['milvus-standalone', 'Milvus standalone', process.env.MILVUS_STANDALONE_ADDRESS],
  ];
  return servers.filter(([engine, , address]) => engineAvailable(engine, address !== undefined)).map(([engine, label, address]) => ({ engine, label, address: address as string }));
}
