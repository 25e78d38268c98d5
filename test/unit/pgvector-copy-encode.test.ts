/**
 * The COPY field writers (adapters/pgvector/pgvector-copy-encode.ts) write exactly the bytes of the
 * general path they shortcut: the value's text (`toText`) through the column's `binaryEncoder`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { idWriter, payloadWriter } from '../../adapters/pgvector/pgvector-copy-encode.js';
import { ByteSink, binaryEncoder } from '../../adapters/pgvector/pgvector-copy.js';
import { toText } from '../../adapters/pgvector/pgvector-types.js';
import type { PayloadField, PayloadValue } from '../../src/model.js';

type Field = Pick<PayloadField, 'type' | 'array'>;

/** What the general path writes, or the error it throws. */
function general(typname: string, field: Field, v: PayloadValue | undefined): Buffer | string {
  try {
    const t = toText(v, { typname }, field);
    const sink = new ByteSink(16);
    sink.field(t === null ? null : (binaryEncoder(typname) as (t: string) => Uint8Array)(t));
    return Buffer.concat(sink.finish());
  } catch (err) {
    return `throws ${(err as Error).name}`;
  }
}

function fast(typname: string, field: Field, v: PayloadValue | undefined): Buffer | string {
  try {
    const sink = new ByteSink(16);
    (payloadWriter({ typname }, field) as NonNullable<ReturnType<typeof payloadWriter>>)(sink, v);
    return Buffer.concat(sink.finish());
  } catch (err) {
    return `throws ${(err as Error).name}`;
  }
}

const CASES: [typname: string, field: Field, values: (PayloadValue | undefined)[]][] = [
  ['text', { type: 'string', array: false }, ['', 'abc', 'é ü 日本', '\u{1F600}', 'lone \ud800', null, undefined, 5, true]],
  ['varchar', { type: 'string', array: false }, ['x'.repeat(5000), 'a\nb']],
  ['json', { type: 'string', array: false }, ['{"b":1, "a":[1.50]}', null]],
  ['jsonb', { type: 'json', array: false }, [{ b: 1, a: [1.5, 'x'] }, null, 'str', 3, undefined]],
  ['_text', { type: 'string', array: true }, [['a', 'b'], [], ['é', null, ''], [1, 'a'], [null], null, undefined]],
  ['_varchar', { type: 'string', array: true }, [['tag1', 'topic-7']]],
  ['float8', { type: 'float64', array: false }, [0, -0, 1.5, -1e-300, 1e308, 123456789.123, 'NaN', 'Infinity', '-0', null]],
  ['float4', { type: 'float32', array: false }, [0.1, 3.4e38, 1e39, -2.5, 'NaN', -0]],
  ['int4', { type: 'int32', array: false }, [0, -1, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 1.5, null]],
  [
    'int8',
    { type: 'int64', array: false },
    [0, -1, 2 ** 53 - 1, -(2 ** 53) + 1, 4294967296, -4294967297, '9223372036854775807', '-9223372036854775808'],
  ],
  ['bool', { type: 'bool', array: false }, [true, false, null, undefined]],
  [
    'timestamptz',
    { type: 'datetime', array: false },
    [
      '2024-01-01T00:00:00.000000Z',
      '2026-12-03T18:15:54.123456Z',
      '1800-01-01T00:00:00.000001Z',
      '2200-12-31T23:59:59.999999Z',
      '1999-12-31T23:59:59.999999Z',
      '1799-12-31T23:59:59.999999Z',
      '2024-02-29T12:00:00.000000Z',
      '2023-02-29T12:00:00.000000Z',
      '2024-13-01T00:00:00.000000Z',
      '2024-01-01T24:00:00.000000Z',
      '2024-01-01T00:00:00.00000aZ',
      '2024-01-01T00:00:00+01:00',
      '0044-03-15T00:00:00.000000Z BC',
      'infinity',
      null,
    ],
  ],
  ['timestamp', { type: 'datetime', array: false }, ['2024-06-30T01:02:03.000004Z', '2024-06-30 01:02:03']],
];

describe('binary COPY field writers', () => {
  for (const [typname, field, values] of CASES) {
    it(`${typname}: the same bytes as the general path`, () => {
      for (const v of values) expect(fast(typname, field, v), `${typname} ${JSON.stringify(v)}`).toEqual(general(typname, field, v));
    });
  }

  it('random strings, numbers and timestamps: the same bytes as the general path', () => {
    const iso = fc
      .date({ min: new Date('1700-01-01T00:00:00Z'), max: new Date('2300-01-01T00:00:00Z'), noInvalidDate: true })
      .chain((d) => fc.integer({ min: 0, max: 999 }).map((us) => `${d.toISOString().slice(0, 23)}${String(us).padStart(3, '0')}Z`));
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.double(), fc.integer(), iso, fc.array(fc.option(fc.string())), (s, d, n, t, arr) => {
        expect(fast('text', { type: 'string', array: false }, s)).toEqual(general('text', { type: 'string', array: false }, s));
        expect(fast('float8', { type: 'float64', array: false }, d)).toEqual(general('float8', { type: 'float64', array: false }, d));
        expect(fast('float4', { type: 'float32', array: false }, d)).toEqual(general('float4', { type: 'float32', array: false }, d));
        expect(fast('int4', { type: 'int32', array: false }, n)).toEqual(general('int4', { type: 'int32', array: false }, n));
        expect(fast('int8', { type: 'int64', array: false }, n * 65_537)).toEqual(
          general('int8', { type: 'int64', array: false }, n * 65_537),
        );
        expect(fast('timestamptz', { type: 'datetime', array: false }, t)).toEqual(
          general('timestamptz', { type: 'datetime', array: false }, t),
        );
        expect(fast('_text', { type: 'string', array: true }, arr)).toEqual(general('_text', { type: 'string', array: true }, arr));
      }),
      { numRuns: 500 },
    );
  });

  it('ids: an int8 key from a bigint, any other through its text', () => {
    const write = (typname: string, id: bigint | string): Buffer => {
      const sink = new ByteSink(16);
      idWriter({ typname })(sink, id);
      return Buffer.concat(sink.finish());
    };
    for (const id of [0n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 4294967296n]) {
      expect(write('int8', id)).toEqual(general('int8', { type: 'string', array: false }, String(id)));
    }
    expect(write('text', 'doc-1')).toEqual(general('text', { type: 'string', array: false }, 'doc-1'));
    expect(write('int4', 7n)).toEqual(general('int4', { type: 'string', array: false }, '7'));
  });

  it('a field never spans two chunks, and take() hands over only completed chunks', () => {
    const sink = new ByteSink(32);
    const w = payloadWriter({ typname: 'text' }, { type: 'string', array: false }) as NonNullable<ReturnType<typeof payloadWriter>>;
    for (let i = 0; i < 20; i++) w(sink, 'x'.repeat(i));
    const taken = sink.take();
    const rest = sink.finish();
    const all = Buffer.concat([...taken, ...rest]);
    let p = 0;
    for (let i = 0; i < 20; i++) {
      expect(all.readInt32BE(p)).toBe(i);
      p += 4 + i;
    }
    expect(p).toBe(all.length);
  });
});
