import { describe, expect, it } from 'vitest';
import { ProtobufWriter, lenFieldSize, varint64Size, varintSize } from '../../src/wire/protobuf-writer.js';

describe('ProtobufWriter', () => {
  it('writes a nested field in place exactly as with its length known up front, across length-byte boundaries', () => {
    for (const len of [0, 1, 127, 128, 300, 16_383, 16_384, 70_000]) {
      const body = Uint8Array.from({ length: len }, (_, i) => i & 0xff);
      const inPlace = new ProtobufWriter(16).nested(7, (w) => w.bytes(1, body)).finish();
      const known = new ProtobufWriter(16).lenHeader(7, lenFieldSize(1, len)).bytes(1, body).finish();
      expect(Buffer.from(inPlace).equals(Buffer.from(known))).toBe(true);
      expect(inPlace.length).toBe(lenFieldSize(7, lenFieldSize(1, len)));
    }
  });

  it('writes strings as UTF-8 and int64 as two’s complement varints', () => {
    const s = 'é€😀'.repeat(50);
    const w = new ProtobufWriter(8).string(1, s);
    expect(Buffer.from(w.finish()).equals(Buffer.concat([Buffer.from([10, 0xc2, 0x03]) /* 450 bytes */, Buffer.from(s, 'utf8')]))).toBe(
      true,
    );
    expect([...new ProtobufWriter().int64(-1).finish()]).toEqual([255, 255, 255, 255, 255, 255, 255, 255, 255, 1]);
    expect([...new ProtobufWriter().int64(300).finish()]).toEqual([0xac, 0x02]);
    expect(varint64Size(-1n)).toBe(10);
    expect(varintSize(2 ** 53)).toBe(8);
  });
});
