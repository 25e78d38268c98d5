import { expect } from 'vitest';
import { isVectordrError } from '../../src/errors.js';

/** Awaits `p` and asserts it rejects with a VectordrError of `code`; returns the error. */
export async function expectError(p: Promise<unknown>, code: string): Promise<Error> {
  try {
    await p;
  } catch (err) {
    if (!isVectordrError(err)) throw err;
    expect(err.code, err.message).toBe(code);
    return err;
  }
  throw new Error(`expected error ${code}, but the call succeeded`);
}
