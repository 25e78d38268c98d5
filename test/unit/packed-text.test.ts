import { describe, expect, it } from 'vitest';
import { concatPacked, packText, packedCount, slicePacked, textAt } from '../../src/format/packed-text.js';
import { hashRecords } from '../../src/format/rows.js';
import { decodeSegment, encodeSegment, segmentLayout } from '../../src/format/segment-codec.js';

const texts = ['{}', '{"a":"é€😀"}', '{"e":""}', '{"t":"' + 'x'.repeat(300) + '"}', '{"n":-0}'];

describe('packed text', () => {
  it('packs, slices and concatenates UTF-8 texts', () => {
    const p = packText(texts);
    expect(packedCount(p)).toBe(texts.length);
    expect(texts.map((_, i) => textAt(p, i))).toEqual(texts);
    const s = slicePacked(p, 1, 4);
    expect([0, 1, 2].map((i) => textAt(s, i))).toEqual(texts.slice(1, 4));
    const c = concatPacked(
      [s, p],
      [
        [1, 3],
        [0, 2],
      ],
    );
    expect([0, 1, 2, 3].map((i) => textAt(c, i))).toEqual([texts[2], texts[3], texts[0], texts[1]]);
    expect(c.bytes.buffer).not.toBe(p.bytes.buffer);
  });

  it('hashes and encodes exactly as the same texts as strings', () => {
    const n = texts.length;
    const batch = {
      length: n,
      ids: BigInt64Array.from({ length: n }, (_, i) => BigInt(i)),
      vectors: { e: { dims: 2, data: new Float32Array(n * 2).fill(0.5) } },
    };
    const a = hashRecords('int64', ['e'], batch, texts, 16);
    const b = hashRecords('int64', ['e'], batch, packText(texts), 16);
    expect(Buffer.from(b.digests).equals(Buffer.from(a.digests))).toBe(true);
    expect([...b.buckets]).toEqual([...a.buckets]);
    const layout = segmentLayout({ idType: 'int64', vectors: [{ name: 'e', dims: 2 }] as never });
    const ops = new Array(n).fill('upsert');
    const rows = { batch: { ...batch, payloads: [] }, digests: a.digests, ops };
    const fromStrings = encodeSegment(layout, { ...rows, payloadJson: texts });
    const fromPacked = encodeSegment(layout, { ...rows, payloadJson: packText(texts) });
    expect(Buffer.from(fromPacked).equals(Buffer.from(fromStrings))).toBe(true);
    expect(decodeSegment(layout, fromPacked).payloadJson).toEqual(texts);
  });
});
