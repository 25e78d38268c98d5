/**
 * Batch requests of one collection that were sent but not yet answered, so that a restore keeps
 * Weaviate fed across segment boundaries.
 *
 * Why: the restore core calls `write()` once per segment (about 1260 rows, 4 requests) and then
 * `writeMarker()`. Waiting for every answer inside `write()` drains the pipeline at each segment:
 * Weaviate idles while the last request of a segment is answered and the next is encoded (measured
 * at 100k × 768: 2.5 requests in flight on average with 4 allowed). Here `write()` returns once its
 * last request is *sent*, with at most `writeConcurrency` unanswered, and everything that needs the
 * writes to have landed waits for them first (`settle`): a marker is written only after every
 * request sent before it was answered, and count, reads, deletes, index waits and close settle.
 *
 * Guarantees kept: (1) a marker never describes rows that are not stored: it waits for exactly the
 * requests sent before it (in the background, in order, so markers lag by at most the requests in
 * flight); (2) writes of one id are stored in the order they were made: a request with an id that
 * is still in flight waits for that request first; (3) no failure is lost: the first failed request
 * (or marker) is thrown by the next call on the collection (write, writeMarker, count, close, ...),
 * and the restore stops there, its last marker still describing a stored prefix.
 */
export class PendingWrites {
  private readonly inFlight = new Set<Promise<void>>();
  /** UUIDs of the requests in flight, for ordering writes of one id. */
  private readonly uuids = new Map<string, number>();
  /** Markers queued behind the requests sent before them, written one at a time in order. */
  private markers: Promise<void> = Promise.resolve();
  private failure: { error: unknown } | undefined;

  constructor(private readonly limit: number) {}

  /** True while a request is unanswered. */
  get sending(): boolean {
    return this.inFlight.size > 0;
  }

  /**
   * Sends one request (`send`) once fewer than `limit` are in flight and none of its `uuids` is;
   * resolves when it was sent, not answered. Throws an earlier failure instead of sending.
   */
  async add(uuids: readonly string[], send: () => Promise<void>): Promise<void> {
    this.throwFailure();
    if (uuids.some((u) => this.uuids.has(u))) await this.drain();
    while (this.inFlight.size >= this.limit) await Promise.race(this.inFlight);
    this.throwFailure();
    for (const u of uuids) this.uuids.set(u, (this.uuids.get(u) ?? 0) + 1);
    const p: Promise<void> = send()
      .catch((error: unknown) => {
        this.failure ??= { error };
      })
      .finally(() => {
        this.inFlight.delete(p);
        for (const u of uuids) {
          const n = (this.uuids.get(u) ?? 1) - 1;
          if (n === 0) this.uuids.delete(u);
          else this.uuids.set(u, n);
        }
      });
    this.inFlight.add(p);
  }

  /**
   * Runs `write` once every request sent so far was answered, behind the markers queued before it;
   * returns at once (a failure is thrown by a later call). Skipped after a failure: a marker must
   * not describe rows that were refused.
   */
  queueMarker(write: () => Promise<void>): void {
    this.throwFailure();
    const before = [...this.inFlight];
    this.markers = this.markers
      .then(async () => {
        await Promise.all(before);
        if (!this.failure) await write();
      })
      .catch((error: unknown) => {
        this.failure ??= { error };
      });
  }

  /** Waits for every request in flight and every queued marker, without throwing. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.race(this.inFlight);
    await this.markers;
  }

  /** Waits for everything in flight, then throws the first failure (once). */
  async settle(): Promise<void> {
    await this.drain();
    this.throwFailure();
  }

  private throwFailure(): void {
    const f = this.failure;
    if (!f) return;
    this.failure = undefined;
    throw f.error;
  }
}
