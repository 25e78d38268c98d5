/**
 * JSON read from a repository is untrusted (docs/security.md): its nesting is bounded before anything
 * recursive touches it. V8's `JSON.parse` itself is iterative, but `JSON.stringify`, the canonical
 * writer, zod and lossless-json recurse once per level, and a document nested a few thousand levels
 * deep overflows the stack with a `RangeError` that names nothing. `jsonDepthExceeds` answers in one
 * linear scan, without recursion and without allocating, so the caller refuses such a text with its
 * own typed error naming the object.
 */
import { MAX_JSON_DEPTH } from './limits.js';

/**
 * Deepest nesting of a document vectordr writes itself (config, manifest, lock, plan object,
 * head): `MAX_JSON_DEPTH` of limits.ts (64; a manifest's deepest field is about 10 levels).
 */
export const MAX_DOCUMENT_DEPTH = MAX_JSON_DEPTH;

/**
 * Deepest nesting of a stored payload (a record's JSON object, its top level counting as 1). Payloads
 * are user data (a jsonb value may be nested deeply), so the bound is far above any schema's and still
 * far below the ~5,000 levels at which `JSON.stringify` overflows Node's default stack.
 */
export const MAX_PAYLOAD_DEPTH = 512;

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * True when `text` nests arrays and objects deeper than `limit` (brackets inside strings do not
 * count). Linear in the text, no recursion; meant to run before `JSON.parse` of untrusted text.
 */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
      continue;
    }
    if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > limit) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
  }
  return false;
}

/** `text` nests deeper than its bound: the caller turns it into its own typed error. */
export class JsonTooDeepError extends Error {
  constructor(readonly limit: number) {
    super(`JSON nested deeper than ${limit} levels`);
  }
}

/** `JSON.parse` of untrusted text whose nesting must not exceed `limit` (JsonTooDeepError otherwise; SyntaxError as JSON.parse). */
export function parseBoundedJson(text: string, limit: number = MAX_DOCUMENT_DEPTH): unknown {
  if (jsonDepthExceeds(text, limit)) throw new JsonTooDeepError(limit);
  return JSON.parse(text) as unknown;
}
