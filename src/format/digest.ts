/**
 * Record and collection digests.
 *
 * record digest  = SHA-256( idBytes || for each vector field (sorted by name): 0x00 (null) or its tag byte
 *                           and its bytes (dense float32: 0x01, float32 LE) || u32be(len) || canonical payload JSON )
 * bucket(id)     = u32be(SHA-256(idBytes)[0..4]) mod B
 * bucket sum     = Σ record digests in that bucket, as 256-bit big-endian integers, mod 2^256
 * collection     = SHA-256( "vectordr-collection-digest-v1" || u32be(B) || for each bucket: u64be(count) || sum )
 *
 * The sums are order-independent, so two engines that scan in different orders still agree, and a
 * mismatch is localised to buckets. See docs/format.md.
 */
import { createHash, hash } from 'node:crypto';
import type { AnyVector, Id, IdType, VectorElement } from '../model.js';

export const DEFAULT_BUCKETS = 256;
/** The type tag that starts an id's canonical bytes. */
export const ID_TAG = { int64: 1, string: 2, uuid: 3 } as const;
const encoder = new TextEncoder();

/** Canonical bytes of an id: a type tag, then 8 bytes big-endian (int64) or UTF-8. */
export function idBytes(idType: IdType, id: Id): Uint8Array {
  if (idType === 'int64') {
    const out = new Uint8Array(9);
    out[0] = ID_TAG.int64;
    new DataView(out.buffer).setBigInt64(1, BigInt(id));
    return out;
  }
  const s = encoder.encode(String(id));
  const out = new Uint8Array(1 + s.length);
  out[0] = ID_TAG[idType];
  out.set(s, 1);
  return out;
}

/** The id that `idBytes` encoded (the inverse, for ids read back from a delta index). */
export function idFromBytes(idType: IdType, b: Uint8Array): Id {
  if (b[0] !== ID_TAG[idType]) throw new RangeError(`id bytes tagged ${b[0]} are not a ${idType} id`);
  if (idType === 'int64') return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigInt64(1);
  return Buffer.from(b.buffer, b.byteOffset + 1, b.byteLength - 1).toString('utf8');
}

export function bucketOf(idB: Uint8Array, buckets: number): number {
  // crypto.hash, a one-shot digest, as a 'binary' (latin1) string, one char per byte: 0.33 µs for an id where
  // createHash takes ~2 µs and a 'buffer' result ~1.2 µs (allocating the Buffer is most of it).
  const h = hash('sha256', idB, 'binary');
  const top = ((h.charCodeAt(0) << 24) | (h.charCodeAt(1) << 16) | (h.charCodeAt(2) << 8) | h.charCodeAt(3)) >>> 0;
  return top % buckets;
}

const LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Little-endian bytes of a float32 vector without copying on little-endian hosts. */
export function float32LeBytes(v: Float32Array): Uint8Array {
  const view = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (LE) return view;
  const out = new Uint8Array(view.length);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < v.length; i++) dv.setFloat32(i * 4, v[i] as number, true);
  return out;
}

/** Little-endian bytes of typed-array elements (u16, u32 and float32 alike), without copying on little-endian hosts. */
export function leBytes(v: Float32Array | Uint32Array | Uint16Array | Uint8Array | Int8Array): Uint8Array {
  const view = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (LE || v.BYTES_PER_ELEMENT === 1) return view;
  if (v instanceof Float32Array) return float32LeBytes(v);
  const out = new Uint8Array(view.length);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < v.length; i++) {
    if (v instanceof Uint32Array) dv.setUint32(i * 4, v[i] as number, true);
    else dv.setUint16(i * 2, v[i] as number, true);
  }
  return out;
}

/**
 * The tag byte before a present vector in the record digest (docs/format.md, "Vector kinds"): 0x01 is
 * v1's presence byte, so dense float32 vectors keep their v1 digests; every other kind and element has
 * its own, so two kinds never digest alike. 0x00 stays "no vector".
 */
export const VECTOR_TAG: Readonly<Record<VectorElement | 'sparse' | 'multi', number>> = Object.freeze({
  float32: 0x01,
  float16: 0x02,
  bfloat16: 0x03,
  uint8: 0x04,
  int8: 0x05,
  binary: 0x06,
  sparse: 0x07,
  multi: 0x08,
});

const ABSENT = Uint8Array.of(0);

function u32be(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

/**
 * The digest input of one present vector, tag first: dense vectors their elements little-endian; a
 * sparse vector u32be(count), the indices (u32 LE), the values (float32 LE); a multi-vector
 * u32be(count of vectors) and the floats of each vector in order.
 */
export function vectorDigestParts(v: AnyVector): Uint8Array[] {
  if (v instanceof Float32Array) return [Uint8Array.of(VECTOR_TAG.float32), float32LeBytes(v)];
  switch (v.kind) {
    case 'dense':
      return [Uint8Array.of(VECTOR_TAG[v.element]), leBytes(v.data)];
    case 'sparse':
      return [Uint8Array.of(VECTOR_TAG.sparse), u32be(v.indices.length), leBytes(v.indices), leBytes(v.values)];
    case 'multi':
      return [Uint8Array.of(VECTOR_TAG.multi), u32be(v.data.length / v.dims), float32LeBytes(v.data)];
  }
}

/** Digest of one record. `vectors` sorted by field name; null for an absent (nullable) vector. */
export function recordDigest(idB: Uint8Array, vectors: (AnyVector | null)[], canonicalPayloadJson: string): Buffer {
  const h = createHash('sha256').update(idB);
  for (const v of vectors) {
    if (v === null) h.update(ABSENT);
    else for (const part of vectorDigestParts(v)) h.update(part);
  }
  const p = Buffer.from(canonicalPayloadJson, 'utf8');
  const len = Buffer.allocUnsafe(4);
  len.writeUInt32BE(p.length);
  return h.update(len).update(p).digest();
}

/** Order-independent accumulator of record digests in B buckets. */
export class BucketDigest {
  readonly buckets: number;
  readonly counts: Float64Array;
  /** 8 big-endian u32 limbs per bucket (limb 0 most significant). */
  private readonly sums: Uint32Array;

  constructor(buckets = DEFAULT_BUCKETS) {
    this.buckets = buckets;
    this.counts = new Float64Array(buckets);
    this.sums = new Uint32Array(buckets * 8);
  }

  add(bucket: number, digest: Uint8Array): void {
    this.counts[bucket] = (this.counts[bucket] as number) + 1;
    this.addSum(bucket, digest);
  }

  /** Removes a record digest added before (a link's previous digest of an updated or deleted id). */
  subtract(bucket: number, digest: Uint8Array): void {
    this.counts[bucket] = (this.counts[bucket] as number) - 1;
    // x - d = x + (2^256 - d) mod 2^256: add the two's complement of d.
    const neg = new Uint8Array(32);
    let carry = 1;
    for (let i = 31; i >= 0; i--) {
      const v = (~(digest[i] as number) & 0xff) + carry;
      neg[i] = v & 0xff;
      carry = v >> 8;
    }
    this.addSum(bucket, neg);
  }

  /** An accumulator holding a recorded state (a manifest's `digest`), to continue from it. */
  static fromJSON(json: Pick<BucketDigestJson, 'buckets' | 'counts' | 'sums'>): BucketDigest {
    const d = new BucketDigest(json.buckets);
    for (let b = 0; b < json.buckets; b++) {
      d.counts[b] = json.counts[b] as number;
      d.addSum(b, Buffer.from(json.sums[b] as string, 'hex'));
    }
    return d;
  }

  /** Removes another accumulator's buckets from this one (what `merge` added). */
  unmerge(other: BucketDigest): void {
    if (other.buckets !== this.buckets) throw new RangeError(`cannot unmerge ${other.buckets} buckets from ${this.buckets}`);
    for (let b = 0; b < this.buckets; b++) {
      const n = other.counts[b] as number;
      if (n === 0) continue;
      this.subtract(b, other.sumBytes(b));
      this.counts[b] = (this.counts[b] as number) + 1 - n; // subtract() took one record off
    }
  }

  /** Adds another accumulator's buckets into this one (sums are associative). */
  merge(other: BucketDigest): void {
    if (other.buckets !== this.buckets) throw new RangeError(`cannot merge ${other.buckets} buckets into ${this.buckets}`);
    for (let b = 0; b < this.buckets; b++) {
      this.counts[b] = (this.counts[b] as number) + (other.counts[b] as number);
      this.addSum(b, other.sumBytes(b));
    }
  }

  private addSum(bucket: number, digest: Uint8Array): void {
    const base = bucket * 8;
    let carry = 0;
    for (let limb = 7; limb >= 0; limb--) {
      const o = limb * 4;
      const d =
        (((digest[o] as number) << 24) >>> 0) +
        ((digest[o + 1] as number) << 16) +
        ((digest[o + 2] as number) << 8) +
        (digest[o + 3] as number);
      const s = (this.sums[base + limb] as number) + d + carry;
      this.sums[base + limb] = s >>> 0;
      carry = s > 0xffffffff ? 1 : 0;
    }
  }

  sumBytes(bucket: number): Uint8Array {
    const out = new Uint8Array(32);
    const dv = new DataView(out.buffer);
    for (let limb = 0; limb < 8; limb++) dv.setUint32(limb * 4, this.sums[bucket * 8 + limb] as number);
    return out;
  }

  sumHex(bucket: number): string {
    return Buffer.from(this.sumBytes(bucket)).toString('hex');
  }

  /** All buckets summed into one: the record count and the sum of every record digest (mod 2^256). */
  collapsed(): BucketDigest {
    const one = new BucketDigest(1);
    for (let b = 0; b < this.buckets; b++) {
      one.counts[0] = (one.counts[0] as number) + (this.counts[b] as number);
      one.addSum(0, this.sumBytes(b));
    }
    return one;
  }

  total(): number {
    let n = 0;
    for (const c of this.counts) n += c;
    return n;
  }

  /** The collection digest (hex). */
  collectionDigest(): string {
    const h = createHash('sha256').update('vectordr-collection-digest-v1');
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32BE(this.buckets);
    h.update(head);
    const cnt = Buffer.allocUnsafe(8);
    for (let b = 0; b < this.buckets; b++) {
      cnt.writeBigUInt64BE(BigInt(this.counts[b] as number));
      h.update(cnt).update(this.sumBytes(b));
    }
    return h.digest('hex');
  }

  toJSON(): BucketDigestJson {
    return {
      buckets: this.buckets,
      collection: this.collectionDigest(),
      counts: Array.from(this.counts),
      sums: Array.from({ length: this.buckets }, (_, b) => this.sumHex(b)),
    };
  }

  /** Buckets whose count or sum differs from `other`. */
  diff(other: BucketDigestJson): number[] {
    const out: number[] = [];
    for (let b = 0; b < this.buckets; b++) {
      if (this.counts[b] !== other.counts[b] || this.sumHex(b) !== other.sums[b]) out.push(b);
    }
    return out;
  }
}

export interface BucketDigestJson {
  buckets: number;
  collection: string;
  counts: number[];
  sums: string[];
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
