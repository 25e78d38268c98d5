/**
 * Texts as one UTF-8 buffer: text i is `bytes[offsets[i], offsets[i + 1])`. A segment's canonical
 * payloads travel this way to a segment worker: one buffer moved by transfer instead of thousands of
 * strings structured-cloned, already the bytes the record digests hash and the Parquet payload column
 * stores (no UTF-8 encoding left for the worker).
 */

export interface PackedText {
  readonly bytes: Uint8Array;
  /** `count + 1` byte offsets into `bytes`, from 0. */
  readonly offsets: Uint32Array;
}

/** How many texts `p` holds. */
export const packedCount = (p: PackedText): number => p.offsets.length - 1;

/**
 * `texts` as UTF-8, in a buffer of their own (never Node's shared pool: the buffer may be transferred
 * to a worker, which detaches it).
 */
export function packText(texts: readonly string[]): PackedText {
  let most = 0;
  for (const t of texts) most += t.length * 3;
  const buf = Buffer.allocUnsafeSlow(most);
  const offsets = new Uint32Array(texts.length + 1);
  let o = 0;
  for (let i = 0; i < texts.length; i++) {
    o += buf.write(texts[i] as string, o, 'utf8');
    offsets[i + 1] = o;
  }
  return { bytes: new Uint8Array(buf.buffer, buf.byteOffset, o), offsets };
}

/** Text `i` of `p`. */
export function textAt(p: PackedText, i: number): string {
  const a = p.offsets[i] as number;
  const b = p.offsets[i + 1] as number;
  return Buffer.from(p.bytes.buffer, p.bytes.byteOffset + a, b - a).toString('utf8');
}

/** Texts `[start, end)` of `p`, in a buffer of their own. */
export function slicePacked(p: PackedText, start: number, end: number): PackedText {
  return concatPacked([p], [[start, end]]);
}

/** The texts of `parts` one after another (of each, `ranges[k]` only when given), in a buffer of their own. */
export function concatPacked(parts: readonly PackedText[], ranges?: readonly (readonly [number, number])[]): PackedText {
  const spans = parts.map((p, k) => ranges?.[k] ?? ([0, packedCount(p)] as const));
  let count = 0;
  let size = 0;
  parts.forEach((p, k) => {
    const [a, b] = spans[k] as readonly [number, number];
    count += b - a;
    size += (p.offsets[b] as number) - (p.offsets[a] as number);
  });
  const bytes = new Uint8Array(new ArrayBuffer(size));
  const offsets = new Uint32Array(count + 1);
  let o = 0;
  let i = 0;
  parts.forEach((p, k) => {
    const [a, b] = spans[k] as readonly [number, number];
    const base = p.offsets[a] as number;
    bytes.set(p.bytes.subarray(base, p.offsets[b] as number), o);
    for (let r = a; r < b; r++) offsets[++i] = o + (p.offsets[r + 1] as number) - base;
    o += (p.offsets[b] as number) - base;
  });
  return { bytes, offsets };
}
