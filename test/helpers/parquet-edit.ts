/**
 * Rewrites a Parquet file's footer for the damage tests: parse it with the reader's thrift decoder,
 * change fields, serialise it back (numbers as i32, bigints as i64) and splice it in.
 */
import { readStruct, type ThriftStruct, type ThriftValue } from '../../src/format/parquet/thrift.js';

function varint(out: number[], v: bigint): void {
  let x = BigInt.asUintN(64, v);
  while (x >= 0x80n) {
    out.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  out.push(Number(x));
}

const zigzag = (v: bigint): bigint => BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));

function typeOf(v: ThriftValue): number {
  if (typeof v === 'boolean') return v ? 1 : 2;
  if (typeof v === 'number') return 5;
  if (typeof v === 'bigint') return 6;
  if (v instanceof Uint8Array) return 8;
  if (Array.isArray(v)) return 9;
  if (v instanceof Map) return 12;
  throw new Error('maps are not written');
}

function value(out: number[], v: ThriftValue): void {
  if (typeof v === 'boolean') return;
  if (typeof v === 'number') return varint(out, zigzag(BigInt(v)));
  if (typeof v === 'bigint') return varint(out, zigzag(v));
  if (v instanceof Uint8Array) {
    varint(out, BigInt(v.length));
    for (const b of v) out.push(b);
    return;
  }
  if (Array.isArray(v)) {
    const t = v.length > 0 ? typeOf(v[0] as ThriftValue) : 12;
    if (v.length < 15) out.push((v.length << 4) | t);
    else {
      out.push(0xf0 | t);
      varint(out, BigInt(v.length));
    }
    for (const e of v) {
      if (typeof e === 'boolean') out.push(e ? 1 : 2);
      else value(out, e);
    }
    return;
  }
  if (v instanceof Map) return struct(out, v);
}

function struct(out: number[], s: ThriftStruct): void {
  let last = 0;
  for (const id of [...s.keys()].sort((a, b) => a - b)) {
    const v = s.get(id) as ThriftValue;
    const t = typeOf(v);
    if (id - last > 0 && id - last <= 15) out.push(((id - last) << 4) | t);
    else {
      out.push(t);
      varint(out, zigzag(BigInt(id)));
    }
    last = id;
    value(out, v);
  }
  out.push(0);
}

export function footerOf(bytes: Uint8Array): ThriftStruct {
  const len = new DataView(bytes.buffer, bytes.byteOffset).getUint32(bytes.length - 8, true);
  return readStruct(bytes, bytes.length - 8 - len, bytes.length - 8).value;
}

/** The file with its footer replaced by `footer`. */
export function withFooter(bytes: Uint8Array, footer: ThriftStruct): Uint8Array {
  const len = new DataView(bytes.buffer, bytes.byteOffset).getUint32(bytes.length - 8, true);
  const body = bytes.subarray(0, bytes.length - 8 - len);
  const out: number[] = [];
  struct(out, footer);
  const file = new Uint8Array(body.length + out.length + 8);
  file.set(body);
  file.set(out, body.length);
  new DataView(file.buffer).setUint32(body.length + out.length, out.length, true);
  file.set([0x50, 0x41, 0x52, 0x31], file.length - 4);
  return file;
}

/** Path of struct fields / list indexes down to a struct of the footer. */
export function at(s: ThriftStruct, ...path: number[]): ThriftStruct {
  let v: ThriftValue = s;
  for (const p of path) v = (v instanceof Map ? v.get(p) : (v as ThriftValue[])[p]) as ThriftValue;
  return v as ThriftStruct;
}
