/** SQL text helpers. Identifiers are always quoted; nothing from outside is interpolated raw. */
import { InvalidInputError } from '../../src/errors.js';

const NAMEDATALEN = 63;

/**
 * Quotes an identifier ("a""b"). Refuses NUL bytes and names PostgreSQL would silently truncate
 * (over 63 bytes), which could otherwise make two distinct names collide.
 */
export function quoteIdent(name: string): string {
  if (name.length === 0 || name.includes('\0')) {
    throw new InvalidInputError('INVALID_IDENTIFIER', `Identifier ${JSON.stringify(name)} is empty or contains a NUL byte.`, { plugin: 'pgvector' });
  }
  if (Buffer.byteLength(name, 'utf8') > NAMEDATALEN) {
    throw new InvalidInputError('INVALID_IDENTIFIER', `Identifier ${JSON.stringify(name)} is longer than PostgreSQL's 63-byte limit; choose a shorter name (PostgreSQL would truncate it).`, { plugin: 'pgvector' });
  }
  return `"${name.replaceAll('"', '""')}"`;
}

/** Quotes a string literal ('it''s'); standard_conforming_strings is on in every supported version. */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) throw new InvalidInputError('INVALID_IDENTIFIER', 'String literal contains a NUL byte.', { plugin: 'pgvector' });
  return `'${value.replaceAll("'", "''")}'`;
}

export function qualified(schema: string, table: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(table)}`;
}

// Type names as format_type() prints them: words, optional (n[,m]) modifier, optional [] suffixes.
const NATIVE_TYPE = /^[a-z][a-z0-9_]*( [a-z][a-z0-9_]*)*( ?\(\d{1,5}(,\d{1,5})?\))?( [a-z][a-z0-9_]*)*(\[\])*$/;
// The one-byte internal type "char", which format_type() prints quoted (unquoted, char is character(1)).
const QUOTED_CHAR = /^"char"(\[\])*$/;

/**
 * A type declaration read from a manifest is untrusted input: accept only the shape format_type()
 * produces (e.g. `character varying(64)`, `timestamp(3) with time zone`, `numeric(10,2)`, `text[]`).
 */
export function checkNativeType(type: string): string {
  if (!(NATIVE_TYPE.test(type) || QUOTED_CHAR.test(type)) || type.length > 100) {
    throw new InvalidInputError('INVALID_IDENTIFIER', `Refusing column type ${JSON.stringify(type)} from the snapshot: it is not a plain PostgreSQL type name.`, { plugin: 'pgvector' });
  }
  return type;
}
