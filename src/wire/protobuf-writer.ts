/**
 * A small protobuf writer for the hand-written gRPC codecs (adapters/qdrant/qdrant-grpc-wire.ts,
 * adapters/weaviate/weaviate-grpc-batch.ts): one growing buffer and protobuf's primitive writes, so
 * a vector goes onto the wire as its Float32Array's bytes instead of through generated code that
 * makes a JS number of every float.
 *
 * A length-delimited field can be written two ways: with its length known up front (`lenHeader`,
 * when the caller sizes messages first, as the Qdrant encoder does), or in place (`begin` reserves
 * one byte for the length, `end` fills it in and, for a body of 128 bytes or more, moves the body
 * up by the extra length bytes), so a nested message costs no buffer of its own: the Weaviate
 * encoder's earlier writer allocated 1 KiB per nested message, about ten per object, which was most
 * of the client's CPU in a restore (measured at 100k × 768).
 */

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const utf8 = new TextEncoder();

export class ProtobufWriter {
  private buf: Uint8Array;
  private view: DataView;
  private pos = 0;

  /** @param capacity bytes to start with (the buffer doubles as it fills); a good guess saves the copies. */
  constructor(capacity = 64 * 1024) {
    this.buf = new Uint8Array(Math.max(16, Math.ceil(capacity)));
    this.view = new DataView(this.buf.buffer);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  /** A non-negative integer (up to 2^53) as a varint. */
  varint(v: number): this {
    this.ensure(10);
    while (v > 0x7f) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
    return this;
  }

  /** int64 / uint64 as a varint (negative numbers in ten bytes, two's complement). */
  varint64(v: bigint): this {
    let u = BigInt.asUintN(64, v);
    this.ensure(10);
    while (u > 0x7fn) {
      this.buf[this.pos++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    this.buf[this.pos++] = Number(u);
    return this;
  }

  /** A signed int64 given as a number: the short varint path unless it is negative. */
  int64(v: number): this {
    return v >= 0 ? this.varint(v) : this.varint64(BigInt(v));
  }

  tag(field: number, wire: number): this {
    return this.varint(field * 8 + wire);
  }

  /** A double's 8 little-endian bytes (after its tag). */
  double(v: number): this {
    this.ensure(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
    return this;
  }

  /** The header of a length-delimited field of `len` bytes whose content the caller writes next. */
  lenHeader(field: number, len: number): this {
    return this.tag(field, WIRE_LEN).varint(len);
  }

  bytes(field: number, data: Uint8Array): this {
    this.lenHeader(field, data.length);
    this.ensure(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
    return this;
  }

  string(field: number, s: string): this {
    const at = this.begin(field);
    this.ensure(s.length * 3);
    this.pos += utf8.encodeInto(s, this.buf.subarray(this.pos)).written;
    return this.end(at);
  }

  /** Floats as a packed field: the bytes of `floats`, little-endian on the wire. */
  packedFloats(field: number, floats: Float32Array): this {
    const len = floats.length * 4;
    this.lenHeader(field, len);
    this.ensure(len);
    if (LITTLE_ENDIAN) this.buf.set(new Uint8Array(floats.buffer, floats.byteOffset, len), this.pos);
    else for (let i = 0; i < floats.length; i++) this.view.setFloat32(this.pos + i * 4, floats[i] as number, true);
    this.pos += len;
    return this;
  }

  /** Starts length-delimited field `field`; returns where its length goes, for `end`. */
  begin(field: number): number {
    this.tag(field, WIRE_LEN);
    this.ensure(1);
    return this.pos++;
  }

  /** Ends the field `begin` started: writes its length, moving the body up if it takes more than one byte. */
  end(at: number): this {
    const len = this.pos - at - 1;
    const extra = varintSize(len) - 1;
    if (extra > 0) {
      this.ensure(extra);
      this.buf.copyWithin(at + 1 + extra, at + 1, this.pos);
      this.pos += extra;
    }
    let p = at;
    let v = len;
    while (v > 0x7f) {
      this.buf[p++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[p] = v;
    return this;
  }

  /** Writes length-delimited field `field` with the body `body` writes. */
  nested(field: number, body: (w: this) => void): this {
    const at = this.begin(field);
    body(this);
    return this.end(at);
  }

  /** The bytes written so far (a view of the writer's buffer, not a copy). */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

/** Bytes of `v` as a varint. */
export function varintSize(v: number): number {
  let n = 1;
  while (v > 0x7f) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Bytes of an int64 / uint64 varint. */
export function varint64Size(v: bigint): number {
  let u = BigInt.asUintN(64, v);
  let n = 1;
  while (u > 0x7fn) {
    u >>= 7n;
    n++;
  }
  return n;
}

/** Bytes of a whole length-delimited field: its tag, its length and `len` bytes of content. */
export const lenFieldSize = (field: number, len: number): number => varintSize(field * 8) + varintSize(len) + len;
