/**
 * Thrift compact protocol, the encoding of Parquet's footer and page headers: a writer for the few
 * structs the segment writer emits, and a bounded generic reader (a struct becomes a map from field id
 * to value) that the segment reader maps onto the Parquet structs it needs.
 *
 * The reader never trusts a length: a list or binary longer than the bytes left, a nesting deeper than
 * MAX_DEPTH or a varint longer than 10 bytes is a ThriftError, which the caller turns into its own
 * typed error. Unknown fields are read and kept (skipping needs the same parsing).
 */

export const T_STOP = 0;
export const T_TRUE = 1;
export const T_FALSE = 2;
export const T_BYTE = 3;
export const T_I16 = 4;
export const T_I32 = 5;
export const T_I64 = 6;
export const T_DOUBLE = 7;
export const T_BINARY = 8;
export const T_LIST = 9;
export const T_SET = 10;
export const T_MAP = 11;
export const T_STRUCT = 12;

/** Parquet's structs nest 5 deep (FileMetaData > RowGroup > ColumnChunk > ColumnMetaData > Statistics). */
const MAX_DEPTH = 16;

export class ThriftError extends Error {}

export type ThriftValue = boolean | number | bigint | Uint8Array | ThriftValue[] | ThriftStruct | ThriftMap;
export type ThriftStruct = Map<number, ThriftValue>;
/** A thrift map, kept as its pairs (Parquet's structs have none; read only to skip them). */
export interface ThriftMap {
  pairs: [ThriftValue, ThriftValue][];
}

/** Growable byte buffer that writes compact-protocol values. */
export class ThriftWriter {
  private buf = new Uint8Array(256);
  private pos = 0;
  private readonly lastField: number[] = [];
  private last = 0;

  get length(): number {
    return this.pos;
  }

  bytes(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  /** Copies what was written into `out` at `offset`. */
  copyTo(out: Uint8Array, offset: number): number {
    out.set(this.buf.subarray(0, this.pos), offset);
    return offset + this.pos;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  varint(v: number | bigint): void {
    let x = BigInt.asUintN(64, BigInt(v));
    if (x < 0x80n) {
      this.byte(Number(x));
      return;
    }
    while (x >= 0x80n) {
      this.byte(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.byte(Number(x));
  }

  private zigzag(v: number | bigint): void {
    const x = BigInt(v);
    this.varint(BigInt.asUintN(64, (x << 1n) ^ (x >> 63n)));
  }

  private fieldHeader(id: number, type: number): void {
    const delta = id - this.last;
    if (delta > 0 && delta <= 15) this.byte((delta << 4) | type);
    else {
      this.byte(type);
      this.zigzag(id);
    }
    this.last = id;
  }

  structBegin(): void {
    this.lastField.push(this.last);
    this.last = 0;
  }

  structEnd(): void {
    this.byte(T_STOP);
    this.last = this.lastField.pop() ?? 0;
  }

  /** A struct-typed field: header, then `body` writes the struct's fields. */
  struct(id: number, body: () => void): void {
    this.fieldHeader(id, T_STRUCT);
    this.structBegin();
    body();
    this.structEnd();
  }

  i32(id: number, v: number): void {
    this.fieldHeader(id, T_I32);
    this.zigzag(v);
  }

  i16(id: number, v: number): void {
    this.fieldHeader(id, T_I16);
    this.zigzag(v);
  }

  i64(id: number, v: number | bigint): void {
    this.fieldHeader(id, T_I64);
    this.zigzag(v);
  }

  bool(id: number, v: boolean): void {
    this.fieldHeader(id, v ? T_TRUE : T_FALSE);
  }

  binary(id: number, v: Uint8Array | string): void {
    this.fieldHeader(id, T_BINARY);
    const b = typeof v === 'string' ? new TextEncoder().encode(v) : v;
    this.varint(b.length);
    this.raw(b);
  }

  /** A list field: header, then `each` writes `size` elements (structs via structBegin/structEnd). */
  list(id: number, elementType: number, size: number, each: (i: number) => void): void {
    this.fieldHeader(id, T_LIST);
    if (size < 15) this.byte((size << 4) | elementType);
    else {
      this.byte(0xf0 | elementType);
      this.varint(size);
    }
    for (let i = 0; i < size; i++) each(i);
  }

  /** List elements (no field header). */
  elementI32(v: number): void {
    this.zigzag(v);
  }

  elementBinary(v: Uint8Array | string): void {
    const b = typeof v === 'string' ? new TextEncoder().encode(v) : v;
    this.varint(b.length);
    this.raw(b);
  }
}

/** Bounded reader of one compact-protocol struct from `bytes[pos..end)`. */
export class ThriftReader {
  pos: number;

  constructor(
    private readonly bytes: Uint8Array,
    start: number,
    private readonly end: number,
  ) {
    this.pos = start;
  }

  private byte(): number {
    if (this.pos >= this.end) throw new ThriftError('thrift: unexpected end of data');
    return this.bytes[this.pos++] as number;
  }

  private varintBig(): bigint {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      const b = this.byte();
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
    }
    throw new ThriftError('thrift: varint longer than 10 bytes');
  }

  /** Unsigned varint that must fit a safe integer (sizes, counts). */
  private varintSize(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.byte();
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return result;
      mul *= 128;
    }
    throw new ThriftError('thrift: size varint too long');
  }

  private zigzagBig(): bigint {
    const u = this.varintBig();
    return BigInt.asIntN(64, (u >> 1n) ^ -(u & 1n));
  }

  private zigzag32(): number {
    const v = this.zigzagBig();
    if (v < -0x80000000n || v > 0x7fffffffn) throw new ThriftError('thrift: i32 out of range');
    return Number(v);
  }

  private value(type: number, depth: number): ThriftValue {
    switch (type) {
      case T_TRUE:
        return true;
      case T_FALSE:
        return false;
      case T_BYTE: {
        const b = this.byte();
        return b > 127 ? b - 256 : b;
      }
      case T_I16:
      case T_I32:
        return this.zigzag32();
      case T_I64:
        return this.zigzagBig();
      case T_DOUBLE: {
        if (this.pos + 8 > this.end) throw new ThriftError('thrift: unexpected end of data');
        const v = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, 8).getFloat64(0, true);
        this.pos += 8;
        return v;
      }
      case T_BINARY: {
        const n = this.varintSize();
        if (n > this.end - this.pos) throw new ThriftError(`thrift: binary of ${n} bytes past the end`);
        const v = this.bytes.subarray(this.pos, this.pos + n);
        this.pos += n;
        return v;
      }
      case T_LIST:
      case T_SET:
        return this.list(depth);
      case T_MAP:
        return this.map(depth);
      case T_STRUCT:
        return this.struct(depth + 1);
      default:
        throw new ThriftError(`thrift: unknown type ${type}`);
    }
  }

  private list(depth: number): ThriftValue[] {
    const h = this.byte();
    const type = h & 0x0f;
    let size = h >> 4;
    if (size === 15) size = this.varintSize();
    // Every element takes at least one byte, so a count beyond the bytes left is a lie.
    if (size > this.end - this.pos) throw new ThriftError(`thrift: list of ${size} elements past the end`);
    const out: ThriftValue[] = [];
    for (let i = 0; i < size; i++) {
      // Booleans inside a list are one byte each: 1 true, 2 (or 0) false.
      if (type === T_TRUE || type === T_FALSE) out.push(this.byte() === 1);
      else out.push(this.value(type, depth + 1));
    }
    return out;
  }

  private map(depth: number): ThriftMap {
    const size = this.varintSize();
    if (size > this.end - this.pos) throw new ThriftError(`thrift: map of ${size} entries past the end`);
    const pairs: [ThriftValue, ThriftValue][] = [];
    if (size === 0) return { pairs };
    const kv = this.byte();
    for (let i = 0; i < size; i++) pairs.push([this.value(kv >> 4, depth + 1), this.value(kv & 0x0f, depth + 1)]);
    return { pairs };
  }

  struct(depth = 0): ThriftStruct {
    if (depth > MAX_DEPTH) throw new ThriftError('thrift: structs nested too deep');
    const out: ThriftStruct = new Map();
    let last = 0;
    for (;;) {
      const h = this.byte();
      const type = h & 0x0f;
      if (type === T_STOP) return out;
      const delta = h >> 4;
      const id = delta === 0 ? this.zigzag32() : last + delta;
      last = id;
      out.set(id, this.value(type, depth));
    }
  }
}

/** Reads one struct at `start`; returns it and where it ended. */
export function readStruct(bytes: Uint8Array, start: number, end: number): { value: ThriftStruct; end: number } {
  const r = new ThriftReader(bytes, start, end);
  const value = r.struct();
  return { value, end: r.pos };
}
