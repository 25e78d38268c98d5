/**
 * A small protobuf reader for the hand-written gRPC codecs (adapters/qdrant/qdrant-grpc-wire.ts reads
 * Qdrant's answers with it, adapters/milvus/milvus-rpc.ts finds the float vectors in Milvus's): the
 * reading twin of protobuf-writer.ts. It reads fields in place from `buf[pos, end)`, and packed floats
 * are copied straight into a Float32Array, never one JavaScript number each.
 *
 * Every bound is checked: a truncated or overlong varint, a field that runs past its message, an
 * unknown wire type throw the caller's `fail` error, never read past `end`.
 */
import { WIRE_I32, WIRE_I64, WIRE_LEN, WIRE_VARINT } from './protobuf-writer.js';

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Reads protobuf fields from `buf[pos, end)`. */
export class ProtobufReader {
  pos: number;
  #view: DataView | undefined;

  /**
   * @param fail the error a malformed message throws, given what is wrong (each codec names its
   *   engine; a caller that falls back on malformed input can throw a marker and catch it).
   */
  constructor(
    readonly buf: Uint8Array,
    private readonly fail: (what: string) => Error,
    pos = 0,
    readonly end = buf.length,
  ) {
    this.pos = pos;
  }

  /** Made on first use: most readers (a field scan, one varint) never read a double or a float. */
  private view(): DataView {
    return (this.#view ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength));
  }

  more(): boolean {
    return this.pos < this.end;
  }

  varint(): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw this.fail('truncated varint');
      const b = this.buf[this.pos++] as number;
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 128;
    }
    throw this.fail('varint longer than 10 bytes');
  }

  /** A uint64 / int64 varint exactly. */
  varint64(): bigint {
    let v = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw this.fail('truncated varint');
      const b = this.buf[this.pos++] as number;
      v |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return BigInt.asUintN(64, v);
      shift += 7n;
    }
    throw this.fail('varint longer than 10 bytes');
  }

  /** The next field's number and wire type. */
  tag(): [number, number] {
    const t = this.varint();
    return [Math.floor(t / 8), t % 8];
  }

  /** A length-delimited field's bounds, [start, end). */
  len(): [number, number] {
    const n = this.varint();
    const start = this.pos;
    if (start + n > this.end) throw this.fail('a field runs past its message');
    this.pos = start + n;
    return [start, start + n];
  }

  string(): string {
    const [a, b] = this.len();
    return Buffer.from(this.buf.buffer, this.buf.byteOffset + a, b - a).toString('utf8');
  }

  double(): number {
    if (this.pos + 8 > this.end) throw this.fail('truncated double');
    const v = this.view().getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  skip(wire: number): void {
    if (wire === WIRE_VARINT) this.varint();
    else if (wire === WIRE_I64) this.pos += 8;
    else if (wire === WIRE_LEN) this.len();
    else if (wire === WIRE_I32) this.pos += 4;
    else throw this.fail(`wire type ${wire}`);
    if (this.pos > this.end) throw this.fail('a field runs past its message');
  }

  /** Copies packed floats [a, b) into `out` at `at` (floats); returns how many were copied. */
  floatsInto(a: number, b: number, out: Float32Array, at: number): number {
    const n = (b - a) / 4;
    if (!Number.isInteger(n)) throw this.fail('packed floats of a length not a multiple of 4');
    if (at + n > out.length) return -1;
    if (LITTLE_ENDIAN) new Uint8Array(out.buffer, out.byteOffset + at * 4, n * 4).set(this.buf.subarray(a, b));
    else for (let i = 0; i < n; i++) out[at + i] = this.view().getFloat32(a + i * 4, true);
    return n;
  }
}
