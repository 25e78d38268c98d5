/**
 * The pgoutput decoder and the replication protocol framing on hand-built messages (protocol
 * version 1, text mode), including the cases a live server rarely shows: an update with the whole
 * old row, a truncate of several tables, unchanged TOAST values, truncated input.
 */
import { describe, expect, it } from 'vitest';
import { UNCHANGED, decodePgoutput, parseCopyData, standbyStatus } from '../../adapters/pgvector/pgvector-pgoutput.js';

const u8 = (n: number): Buffer => Buffer.from([n]);
const u16 = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff]);
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const u64 = (n: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(n);
  return b;
};
const cstr = (s: string): Buffer => Buffer.concat([Buffer.from(s, 'utf8'), u8(0)]);
const tag = (t: string): Buffer => Buffer.from(t, 'latin1');
/** TupleData: strings as text, null as 'n', UNCHANGED as 'u'. */
const tuple = (values: (string | null | typeof UNCHANGED)[]): Buffer =>
  Buffer.concat([
    u16(values.length),
    ...values.map((v) =>
      v === null ? tag('n') : v === UNCHANGED ? tag('u') : Buffer.concat([tag('t'), u32(Buffer.byteLength(v)), Buffer.from(v, 'utf8')]),
    ),
  ]);

describe('decodePgoutput', () => {
  it('decodes begin, commit and relation', () => {
    expect(decodePgoutput(Buffer.concat([tag('B'), u64(0x1_0000_0010n), u64(0n), u32(42)]))).toEqual({
      tag: 'begin',
      finalLsn: 0x1_0000_0010n,
      xid: 42,
    });
    expect(decodePgoutput(Buffer.concat([tag('C'), u8(0), u64(16n), u64(40n), u64(0n)]))).toEqual({
      tag: 'commit',
      commitLsn: 16n,
      endLsn: 40n,
    });
    const rel = Buffer.concat([
      tag('R'),
      u32(16384),
      cstr('public'),
      cstr('docs é'),
      tag('d'),
      u16(2),
      u8(1),
      cstr('id'),
      u32(20),
      u32(0xffffffff),
      u8(0),
      cstr('embedding'),
      u32(99999),
      u32(768),
    ]);
    expect(decodePgoutput(rel)).toEqual({
      tag: 'relation',
      relid: 16384,
      namespace: 'public',
      name: 'docs é',
      identity: 'd',
      columns: [
        { key: true, name: 'id', typeOid: 20, typmod: -1 },
        { key: false, name: 'embedding', typeOid: 99999, typmod: 768 },
      ],
    });
  });

  it('decodes insert, update (with and without an old tuple), delete and truncate', () => {
    expect(decodePgoutput(Buffer.concat([tag('I'), u32(7), tag('N'), tuple(['1', null, 'é☃'])]))).toEqual({
      tag: 'insert',
      relid: 7,
      tuple: ['1', null, 'é☃'],
    });
    expect(decodePgoutput(Buffer.concat([tag('U'), u32(7), tag('N'), tuple(['1', UNCHANGED, 'x'])]))).toEqual({
      tag: 'update',
      relid: 7,
      tuple: ['1', UNCHANGED, 'x'],
    });
    expect(
      decodePgoutput(Buffer.concat([tag('U'), u32(7), tag('O'), tuple(['1', '[1,2]', 'a']), tag('N'), tuple(['1', UNCHANGED, 'b'])])),
    ).toEqual({
      tag: 'update',
      relid: 7,
      old: { kind: 'O', tuple: ['1', '[1,2]', 'a'] },
      tuple: ['1', UNCHANGED, 'b'],
    });
    expect(decodePgoutput(Buffer.concat([tag('D'), u32(7), tag('K'), tuple(['9', null, null])]))).toEqual({
      tag: 'delete',
      relid: 7,
      old: { kind: 'K', tuple: ['9', null, null] },
    });
    expect(decodePgoutput(Buffer.concat([tag('T'), u32(2), u8(1), u32(7), u32(8)]))).toEqual({ tag: 'truncate', relids: [7, 8] });
    expect(decodePgoutput(Buffer.concat([tag('Y'), u32(99999), cstr('public'), cstr('vector')]))).toEqual({ tag: 'other', type: 'Y' });
  });

  it('refuses truncated or unknown messages and binary tuple values', () => {
    expect(() => decodePgoutput(Buffer.concat([tag('B'), u64(1n)]))).toThrow(/truncated/);
    expect(() => decodePgoutput(tag('Z'))).toThrow(/unknown pgoutput message/);
    expect(() => decodePgoutput(Buffer.concat([tag('I'), u32(7), tag('N'), u16(1), tag('b'), u32(0)]))).toThrow(/text mode/);
    expect(() => decodePgoutput(Buffer.concat([tag('R'), u32(1), Buffer.from('public')]))).toThrow(/unterminated/);
  });
});

describe('replication framing', () => {
  it('splits XLogData from keepalives', () => {
    const xlog = parseCopyData(Buffer.concat([tag('w'), u64(10n), u64(20n), u64(0n), tag('B')]));
    expect(xlog).toMatchObject({ kind: 'xlog', start: 10n, end: 20n });
    expect(xlog.kind === 'xlog' && xlog.payload.toString()).toBe('B');
    expect(parseCopyData(Buffer.concat([tag('k'), u64(99n), u64(0n), u8(1)]))).toEqual({
      kind: 'keepalive',
      walEnd: 99n,
      replyRequested: true,
    });
    expect(() => parseCopyData(tag('x'))).toThrow(/unexpected replication message/);
  });

  it('writes a standby status update confirming one position for write, flush and apply', () => {
    const b = standbyStatus(0x1_0000_00ffn, true, Date.UTC(2000, 0, 1, 0, 0, 1));
    expect(b.length).toBe(34);
    expect(b.toString('latin1', 0, 1)).toBe('r');
    expect([b.readBigUInt64BE(1), b.readBigUInt64BE(9), b.readBigUInt64BE(17)]).toEqual([0x1_0000_00ffn, 0x1_0000_00ffn, 0x1_0000_00ffn]);
    expect(b.readBigInt64BE(25)).toBe(1_000_000n); // microseconds since 2000-01-01
    expect(b[33]).toBe(1);
  });
});
