/** The change-field arithmetic both Qdrant and Milvus use (src/change-field.ts): values, the lag window, checkpoints. */
import { describe, expect, it } from 'vitest';
import { fieldCheckpoint, fieldValue, lowerBound, maxFieldValue, sinceOf } from '../../src/change-field.js';
import type { VectordrError } from '../../src/errors.js';
import { expectError } from '../helpers/errors.js';

const state = { field: 'updated_at', type: 'integer', indexed: true } as const;

describe('change field', () => {
  it('keeps integers exact as decimal text and datetimes as UTC instants to the millisecond', () => {
    expect(fieldValue('integer', 1733000000123)).toBe('1733000000123');
    expect(fieldValue('integer', '9223372036854775807')).toBe('9223372036854775807');
    expect(fieldValue('integer', 9223372036854775807n)).toBe('9223372036854775807');
    expect(fieldValue('integer', 1.5)).toBeUndefined();
    expect(fieldValue('integer', 2 ** 60)).toBeUndefined(); // already rounded by JSON.parse
    expect(fieldValue('datetime', '2024-01-02T00:00:00.123456+02:00')).toBe('2024-01-01T22:00:00.123Z');
    expect(fieldValue('datetime', 'yesterday')).toBeUndefined();
    expect(fieldValue('datetime', 1733000000123)).toBeUndefined();
  });

  it('reads from since minus the lag (records at since itself again), and keeps the larger value', () => {
    expect(lowerBound('integer', '1000', 5000)).toBe('-4000');
    expect(lowerBound('integer', '9223372036854775807', 0)).toBe('9223372036854775807');
    expect(lowerBound('datetime', '2024-01-01T00:00:05.000Z', 5000)).toBe('2024-01-01T00:00:00.000Z');
    expect(lowerBound('integer', null, 5000)).toBeNull();
    expect(maxFieldValue('integer', '9', '10')).toBe('10');
    expect(maxFieldValue('integer', null, '3')).toBe('3');
    expect(maxFieldValue('datetime', '2024-01-02T00:00:00.000Z', '2024-01-01T00:00:00.000Z')).toBe('2024-01-02T00:00:00.000Z');
  });

  it('continues only its own kind of checkpoint, for the same field and type; else CHAIN_BROKEN no-feed', async () => {
    const cp = fieldCheckpoint('milvus', state, '42');
    expect(cp).toMatchObject({ engine: 'milvus', kind: 'milvus-field', value: { field: 'updated_at', type: 'integer', since: '42' } });
    expect(sinceOf('milvus', cp, state)).toBe('42');
    expect(sinceOf('milvus', fieldCheckpoint('milvus', state, null), state)).toBeNull();
    const cases = [
      { ...cp, kind: 'qdrant-field' },
      { ...cp, kind: 'pgoutput' },
      { ...cp, value: { ...cp.value, field: 'version' } },
      { ...cp, value: { ...cp.value, type: 'datetime' } },
      { ...cp, value: { ...cp.value, since: 'soon' } },
    ];
    for (const c of cases) {
      const err = await expectError(
        Promise.resolve().then(() => sinceOf('milvus', c, state)),
        'CHAIN_BROKEN',
      );
      expect((err as VectordrError).details.reason).toBe('no-feed');
      expect(err.message).toMatch(/fingerprint diff/);
    }
  });
});
