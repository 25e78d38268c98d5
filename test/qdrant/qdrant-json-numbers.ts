/**
 * How Qdrant 1.18 turns the numbers of a JSON payload into stored values, reproduced for the test
 * server. Measured on the real server (scripts/qdrant-server.sh): of 29,032 payload numbers sent
 * as text (random doubles in their shortest form, every exponent, long digit strings, subnormals,
 * integers beyond u64), every stored value equals `parse(format(parse(text)))` below, and every
 * response prints it as `format` does.
 *
 * - `parse` is serde_json's number parser without its `float_roundtrip` feature: an integer literal
 *   that fits u64 (or i64 when negative) stays an exact integer; anything else keeps at most the
 *   first 19 significant digits as a u64, converts that to f64 and multiplies or divides it by a
 *   power of ten in f64 (`f64_from_parts`). Two roundings: about 16% of random doubles come out one
 *   or two ulps off (`0.48914389545097947` becomes `0.4891438954509794`).
 * - Qdrant keeps a payload as JSON text and parses it again whenever it reads it: the stored value
 *   is the lossy parse of the shortest text of the first one. Each time an optimizer rewrites a
 *   segment it does so once more, so a value can move a few more ulps later (measured: 3,000 values
 *   that the model says move on a third parse, in a collection whose segments were then merged and
 *   indexed: 2,332 had moved again). The test server has no optimizer and stops after two parses.
 * - `format` is the shortest round-trip digits in ryu's layout with a signed exponent: `1.0`,
 *   `0.0001`, `1e-7`, `1.2e+17`, `-0.0`.
 */
import { LosslessNumber, isLosslessNumber } from 'lossless-json';

const POW10 = Array.from({ length: 309 }, (_, i) => Number(`1e${i}`));
const U64_MAX = (1n << 64n) - 1n;

export type SerdeNumber = { kind: 'int'; value: bigint } | { kind: 'float'; value: number };

/** serde_json's `parse_integer` / `parse_decimal` / `parse_exponent` / `f64_from_parts`, for valid JSON number text. */
export function serdeParse(text: string): SerdeNumber {
  let i = 0;
  const positive = text[0] !== '-';
  if (!positive) i++;
  const digit = (): number => text.charCodeAt(i) - 48;
  const isDigit = (): boolean => i < text.length && digit() >= 0 && digit() <= 9;
  let significand = 0n;
  let exponent = 0;
  let float = false;
  let full = false; // the u64 is full: later digits are dropped (integer digits still scale)
  while (isDigit()) {
    const next = significand * 10n + BigInt(digit());
    if (full || next > U64_MAX) {
      full = true;
      float = true;
      exponent++;
    } else significand = next;
    i++;
  }
  if (text[i] === '.') {
    float = true;
    i++;
    while (isDigit()) {
      const next = significand * 10n + BigInt(digit());
      if (full || next > U64_MAX) full = true;
      else {
        significand = next;
        exponent--;
      }
      i++;
    }
  }
  if (text[i] === 'e' || text[i] === 'E') {
    float = true;
    i++;
    const sign = text[i] === '-' ? -1 : 1;
    if (text[i] === '-' || text[i] === '+') i++;
    let e = 0;
    while (isDigit()) {
      e = Math.min(e * 10 + digit(), 2 ** 31); // serde: an i32 overflow is zero (negative) or out of range
      i++;
    }
    if (e >= 2 ** 31) {
      if (sign < 0 || significand === 0n) return { kind: 'float', value: positive ? 0 : -0 };
      throw new RangeError('number out of range');
    }
    exponent += sign * e;
  }
  if (!float) {
    if (positive) return { kind: 'int', value: significand };
    if (significand <= 1n << 63n && significand !== 0n) return { kind: 'int', value: -significand };
    return { kind: 'float', value: -Number(significand) }; // below i64, or -0
  }
  let f = Number(significand);
  for (;;) {
    const pow = POW10[Math.abs(exponent)];
    if (pow !== undefined) {
      if (exponent >= 0) {
        f *= pow;
        if (!Number.isFinite(f)) throw new RangeError('number out of range');
      } else f /= pow;
      break;
    }
    if (f === 0) break;
    if (exponent >= 0) throw new RangeError('number out of range');
    f /= 1e308;
    exponent += 308;
  }
  return { kind: 'float', value: positive ? f : -f };
}

/** Qdrant's text for a stored f64: shortest round-trip digits, ryu's layout, exponent with a sign. */
export function qdrantFloatText(x: number): string {
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mantissa, e] = Math.abs(x).toExponential().split('e') as [string, string];
  const digits = mantissa.replace('.', '');
  const length = digits.length;
  const kk = Number(e) + 1; // 10^(kk-1) <= |x| < 10^kk
  const k = kk - length; // exponent of the last digit
  let s: string;
  if (k >= 0 && kk <= 16) s = `${digits}${'0'.repeat(k)}.0`;
  else if (kk > 0 && kk <= 16) s = `${digits.slice(0, kk)}.${digits.slice(kk)}`;
  else if (kk > -5 && kk <= 0) s = `0.${'0'.repeat(-kk)}${digits}`;
  else s = `${digits[0]}${length > 1 ? `.${digits.slice(1)}` : ''}e${kk - 1 < 0 ? '-' : '+'}${Math.abs(kk - 1)}`;
  return x < 0 ? `-${s}` : s;
}

/** The value Qdrant stores (and answers) for a payload number sent as `text`. */
export function storedNumber(text: string): LosslessNumber {
  const first = serdeParse(text);
  if (first.kind === 'int') return new LosslessNumber(first.value.toString());
  const second = serdeParse(qdrantFloatText(first.value)) as { kind: 'float'; value: number };
  return new LosslessNumber(qdrantFloatText(second.value));
}

/** A payload (lossless-json tree) as Qdrant stores it: every number through `storedNumber`. */
export function storedPayload<T>(v: T): T {
  if (isLosslessNumber(v)) return storedNumber(v.value) as T;
  if (Array.isArray(v)) return v.map((x: unknown) => storedPayload(x)) as T;
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, storedPayload(x)])) as T;
  return v;
}
