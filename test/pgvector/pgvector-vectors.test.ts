/**
 * pgvector's vector types without a server: the binary COPY fields (checked byte for byte against
 * what PostgreSQL 18.4 / pgvector 0.8.5 sends for the same values), the text literals, the version
 * capability, and the expression-index patterns and template.
 */
import { describe, expect, it } from 'vitest';
import { ByteSink } from '../../adapters/pgvector/pgvector-copy.js';
import { matchIndexExpression, parseIndexExpression, renderIndexExpression } from '../../adapters/pgvector/pgvector-expression-index.js';
import {
  bitLiteral,
  columnType,
  distanceOperator,
  halfToNumber,
  halfvecLiteral,
  sparsevecLiteral,
  vectorKindsOf,
  versionAtLeast,
} from '../../adapters/pgvector/pgvector-vectors.js';

const hex = (sink: ByteSink): string => Buffer.concat(sink.finish()).toString('hex');

describe('binary COPY fields', () => {
  // The expected bytes are `encode(halfvec_send('[1,2,-0.5]'), 'hex')` etc. on the real server, after the int32 field length.
  it('halfvec: int16 dims, int16 0, float16 big-endian', () => {
    const sink = new ByteSink();
    sink.halfvec(new Uint16Array([0x3c00, 0x4000, 0xb800]), 0, 3);
    expect(hex(sink)).toBe('0000000a' + '000300003c004000b800');
  });
  it('sparsevec: int32 dims, nnz, 0, 0-based indices, float4 values', () => {
    const sink = new ByteSink();
    sink.sparsevec(new Uint32Array([0, 2]), new Float32Array([1.5, 2]), 5);
    expect(hex(sink)).toBe('0000001c' + '00000005000000020000000000000000000000023fc0000040000000');
  });
  it('bit: int32 bit count, bytes most significant bit first', () => {
    const sink = new ByteSink();
    sink.bits(new Uint8Array([0xb0, 0xc0]), 10);
    expect(hex(sink)).toBe('00000006' + '0000000ab0c0');
  });
});

describe('text literals', () => {
  it('halfvec from float16 bits, exactly (-0, subnormal, 65504)', () => {
    expect(halfvecLiteral(new Uint16Array([0x8000, 0x0001, 0x7bff, 0x3555]))).toBe('[-0,5.960464477539063e-8,65504,0.333251953125]');
    expect(halfToNumber(0x7c00)).toBe(Infinity);
    expect(halfToNumber(0xfc00)).toBe(-Infinity);
    expect(halfToNumber(0x7e00)).toBeNaN();
  });
  it('sparsevec 1-based, bit as 0/1', () => {
    expect(sparsevecLiteral(new Uint32Array([0, 9]), new Float32Array([1.5, -2]), 10)).toBe('{1:1.5,10:-2}/10');
    expect(sparsevecLiteral(new Uint32Array([]), new Float32Array([]), 3)).toBe('{}/3');
    expect(bitLiteral(new Uint8Array([0xb0, 0xc0]), 10)).toBe('1011000011');
  });
  it('column types from validated integers only', () => {
    expect(columnType('halfvec', 768)).toBe('halfvec(768)');
    expect(columnType('sparsevec', undefined)).toBe('sparsevec(1000000000)');
    expect(() => columnType('vector', 16_001)).toThrow(/1 to 16000/);
    expect(() => columnType('bit', 0)).toThrow();
  });
  it('distance operators per type and metric', () => {
    expect(distanceOperator('halfvec', 'l1')).toBe('<+>');
    expect(distanceOperator('sparsevec', 'unspecified')).toBe('<#>');
    expect(distanceOperator('bit', 'unspecified')).toBe('<~>');
    expect(distanceOperator('bit', 'jaccard')).toBe('<%>');
    expect(distanceOperator('bit', 'cosine')).toBeUndefined();
  });
});

describe('vectorKinds by pgvector version', () => {
  it('0.7.0 added halfvec, sparsevec and the bit operators', () => {
    expect(vectorKindsOf('0.6.2')).toEqual({ dense: ['float32'], sparse: false, multi: [] });
    expect(vectorKindsOf('0.7.0')).toEqual({ dense: ['float32', 'float16', 'binary'], sparse: true, multi: [] });
    expect(vectorKindsOf('0.10.1')).toEqual(vectorKindsOf('0.8.5'));
    expect(versionAtLeast('0.10.0', '0.7.0')).toBe(true);
    expect(versionAtLeast('0.6.9', '0.7.0')).toBe(false);
  });
});

describe('expression indexes', () => {
  const columns = new Map([
    ['e', { type: 'vector' as const, dims: 8 }],
    ['Emb "x"', { type: 'halfvec' as const, dims: 16 }],
    ['s', { type: 'sparsevec' as const, dims: 100 }],
  ]);
  it('reads the three pgvector documents from PostgreSQL rendering, quoted names too', () => {
    expect(parseIndexExpression('((binary_quantize(e))::bit(8))', 'bit_hamming_ops', columns)).toEqual({
      expression: { expression: 'binary_quantize', column: 'e', dims: 8 },
      metric: 'hamming',
    });
    expect(parseIndexExpression('((e)::halfvec(8))', 'halfvec_ip_ops', columns)?.metric).toBe('dot');
    expect(parseIndexExpression('((subvector("Emb ""x""", 3, 4))::halfvec(4))', 'halfvec_l1_ops', columns)).toEqual({
      expression: { expression: 'subvector', column: 'Emb "x"', start: 3, dims: 4 },
      metric: 'l1',
    });
  });
  it('anything else is not one of them', () => {
    const no = (expr: string, opclass = 'vector_l2_ops'): void => expect(parseIndexExpression(expr, opclass, columns)).toBeUndefined();
    no('((binary_quantize(e))::bit(4))', 'bit_hamming_ops'); // another size than the column
    no('((e)::halfvec(8))', 'vector_l2_ops'); // the operator class of another type
    no('((subvector(e, 6, 4))::vector(4))'); // beyond the column
    no('((subvector(e, 1, 4))::vector(3))'); // the cast says another size
    no('((subvector(e, 1, 4))::halfvec(4))', 'halfvec_l2_ops'); // a cast to another type
    no('((e)::halfvec(8)) ; DROP TABLE x', 'halfvec_l2_ops');
    no('((binary_quantize(s))::bit(100))', 'bit_hamming_ops');
    no('((public.binary_quantize(e))::bit(8))', 'bit_hamming_ops');
    no('((x)::halfvec(8))', 'halfvec_l2_ops'); // no such column
    expect(matchIndexExpression('(lower(note))')).toBeUndefined();
  });
  it('renders from the fixed template, or says why not', () => {
    expect(renderIndexExpression({ expression: 'binary_quantize', column: 'e', dims: 8 }, 'jaccard', columns)).toEqual({
      sql: '(binary_quantize("e")::bit(8)) bit_jaccard_ops',
      opclass: 'bit_jaccard_ops',
    });
    expect(renderIndexExpression({ expression: 'subvector', column: 'Emb "x"', start: 1, dims: 2 }, 'cosine', columns)).toEqual({
      sql: '(subvector("Emb ""x""", 1, 2)::halfvec(2)) halfvec_cosine_ops',
      opclass: 'halfvec_cosine_ops',
    });
    // A manifest's numbers are checked again: no text of it reaches the statement.
    const forged = { expression: 'subvector', column: 'e', start: '1); DROP TABLE t; --', dims: 2 } as never;
    expect(renderIndexExpression(forged, 'l2', columns)).toEqual({
      reason: 'expression index not recreated: a subvector outside the column',
    });
    expect(renderIndexExpression({ expression: 'halfvec', column: 'e', dims: 8 }, 'hamming', columns)).toEqual({
      reason: 'pgvector has no operator class for hamming on halfvec',
    });
  });
});
