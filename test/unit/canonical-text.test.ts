/**
 * isCanonicalPayloadText (verify's check of every stored payload, on the text alone) gives the
 * verdict of the exact route it short-cuts: canonicalPayload(parsePayload(text)) === text.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalPayload, isCanonicalPayloadText, parsePayload } from '../../src/format/canonical-json.js';
import { JsonTooDeepError } from '../../src/format/bounded-json.js';

const exact = (text: string): boolean => canonicalPayload(parsePayload(text)) === text;

describe('isCanonicalPayloadText', () => {
  const cases = [
    '{}',
    '{"a":1,"b":"x"}',
    '{"b":1,"a":2}', // keys out of order
    '{"a": 1}', // whitespace
    '{"a":1.50}', // a trailing zero: exact text kept, not JCS
    '{"a":1.5}',
    '{"a":-0}', // the token -0
    '{"a":0}',
    '{"a":9007199254740993}', // beyond a double: a JsonNumber
    '{"a":1e21}',
    '{"a":1e+21}',
    '{"a":1e-7}',
    '{"10":1,"9":2}', // array-index keys: JS enumerates them numerically
    '{"9":2,"10":1}',
    '{"__proto__":{"x":1},"a":[1,{"b":null}]}',
    '{"a":"\\u00e9"}', // an escape JSON.stringify does not write
    '{"a":"é"}',
    '{"a":"\\u001f"}',
    '{"a":"😀","b":[true,false,null]}',
    '{"a":1,"a":2}', // a duplicate key
    '[1,2]', // a top level that is no object
    '"text"',
    '12',
    'null',
    '{"a":{"c":1,"b":2}}', // nested keys out of order
    '{"a":[{"y":1,"x":2}]}',
  ];

  it('agrees with the exact route on every listed case', () => {
    for (const text of cases) expect(isCanonicalPayloadText(text), text).toBe(exact(text));
  });

  it('agrees with the exact route on generated JSON, canonical and not', () => {
    const value = fc.jsonValue({ maxDepth: 4 });
    fc.assert(
      fc.property(fc.dictionary(fc.string(), value), fc.boolean(), (obj, spaced) => {
        const text = spaced ? JSON.stringify(obj, null, 1) : JSON.stringify(obj);
        expect(isCanonicalPayloadText(text)).toBe(exact(text));
        const canonical = canonicalPayload(parsePayload(text));
        expect(isCanonicalPayloadText(canonical)).toBe(true);
      }),
      { seed: 20261204, numRuns: 300 },
    );
  });

  it('refuses text that is no JSON, and nesting beyond the bound, as the exact route does', () => {
    expect(() => isCanonicalPayloadText('{"a":')).toThrow(SyntaxError);
    expect(() => isCanonicalPayloadText(`${'['.repeat(600)}${']'.repeat(600)}`)).toThrow(JsonTooDeepError);
  });
});
