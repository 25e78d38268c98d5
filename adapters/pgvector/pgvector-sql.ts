/** SQL text helpers. Identifiers are always quoted; nothing from outside is interpolated raw. */
import { InvalidInputError } from '../../src/errors.js';

const NAMEDATALEN = 63;

/**
 * Quotes an identifier ("a""b"). Refuses NUL bytes and names PostgreSQL would silently truncate
 * (over 63 bytes), which could otherwise make two distinct names collide.
 */
export function quoteIdent(name: string): string {
  if (name.length === 0 || name.includes('\0')) {
    throw new InvalidInputError('INVALID_IDENTIFIER', `Identifier ${JSON.stringify(name)} is empty or contains a NUL byte.`, {
      plugin: 'pgvector',
    });
  }
  if (Buffer.byteLength(name, 'utf8') > NAMEDATALEN) {
    throw new InvalidInputError(
      'INVALID_IDENTIFIER',
      `Identifier ${JSON.stringify(name)} is longer than PostgreSQL's 63-byte limit; choose a ` +
        `shorter name (PostgreSQL would truncate it).`,
      { plugin: 'pgvector' },
    );
  }
  return `"${name.replaceAll('"', '""')}"`;
}

/** Quotes a string literal ('it''s'); standard_conforming_strings is on in every supported version. */
export function quoteLiteral(value: string): string {
  if (value.includes('\0'))
    throw new InvalidInputError('INVALID_IDENTIFIER', 'String literal contains a NUL byte.', { plugin: 'pgvector' });
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * The schema and table a collection name addresses: `schema.table` when the name holds a dot, else
 * `defaultSchema`'s table. A name with more than one dot is refused by `checkCollectionName`
 * (a table whose own name contains a dot cannot be addressed).
 */
export function collectionRef(name: string, defaultSchema: string): [schema: string, table: string] {
  const dot = name.indexOf('.');
  return dot < 0 ? [defaultSchema, name] : [name.slice(0, dot), name.slice(dot + 1)];
}

// What PostgreSQL accepts unquoted (any case kept: vectordr always quotes): a letter or underscore,
// then letters, digits, underscores and dollar signs.
const NEW_IDENT = /^[\p{L}_][\p{L}\p{N}_$]*$/u;

/**
 * Refuses a collection name the adapter cannot address (`use: 'read'`) or should not create
 * (`use: 'create'`: `docs/v2` would become a table literally named so), saying what to do.
 */
export function checkCollectionName(name: string, use: 'read' | 'create'): void {
  const parts = name.split('.');
  const suggestion = parts
    .map((p) => p.replace(/[^\p{L}\p{N}_$]/gu, '_').replace(/^([\p{N}$])/u, '_$1') || '_')
    .join('_')
    .slice(0, 63);
  const refuse = (why: string): never => {
    throw new InvalidInputError(
      'INVALID_IDENTIFIER',
      `${JSON.stringify(name)} cannot name a pgvector collection: ${why}. A collection is a ` +
        `table (\`table\`, in the adapter's schema) or \`schema.table\`, each part a PostgreSQL ` +
        `identifier of at most 63 ` +
        `bytes${use === 'create' ? ' (a letter or _, then letters, digits, _ or $)' : ''}. ` +
        (use === 'create'
          ? `Restore with target: ${JSON.stringify(suggestion)} (or another valid name); nothing was created.`
          : 'Pass the name of an existing table.'),
      { plugin: 'pgvector', details: { collection: name } },
    );
  };
  if (parts.length > 2) refuse('it has more than one "." (a dot separates the schema from the table)');
  for (const part of parts) {
    if (part.length === 0 || part.includes('\0')) refuse('a part is empty or contains a NUL byte');
    if (Buffer.byteLength(part, 'utf8') > NAMEDATALEN)
      refuse(`${JSON.stringify(part)} is longer than 63 bytes (PostgreSQL would truncate it)`);
    if (use === 'create' && !NEW_IDENT.test(part)) refuse(`${JSON.stringify(part)} is not a plain identifier`);
  }
}

export function qualified(schema: string, table: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(table)}`;
}

// Type names as format_type() prints them, and nothing else: one identifier with an optional (n) or
// (p,s) modifier, or one of the multi-word names SQL has, then optional [] suffixes. A free sequence
// of words (`boolean default f()`, `text references t on delete cascade`) is never a type.
const INTERVAL_FIELDS =
  '(year|month|day|hour|minute|second|year to month|day to hour|day to minute|day to second|hour to minute|hour to second|minute to second)';
const BASE_TYPES = [
  '[a-z_][a-z0-9_]*(\\(\\d{1,5}(,-?\\d{1,5})?\\))?',
  '(character|bit) varying(\\(\\d{1,5}\\))?',
  'double precision',
  '(timestamp|time)(\\(\\d\\))? with(out)? time zone',
  `interval( ${INTERVAL_FIELDS})?(\\(\\d\\))?`,
  // The one-byte internal type "char", which format_type() prints quoted (unquoted, char is character(1)).
  '"char"',
];
const NATIVE_TYPE = new RegExp(`^(${BASE_TYPES.join('|')})(\\[\\])*$`);

/**
 * A type declaration read from a manifest is untrusted input: accept only the shape format_type()
 * produces (e.g. `character varying(64)`, `timestamp(3) with time zone`, `numeric(10,2)`, `text[]`).
 * A restore also checks it on the target (`to_regtype`, `checkTypesOnTarget`).
 */
export function checkNativeType(type: string): string {
  if (!NATIVE_TYPE.test(type) || type.length > 100) {
    throw new InvalidInputError(
      'INVALID_IDENTIFIER',
      `Refusing column type ${JSON.stringify(type)} from the snapshot: it is not a plain ` + `PostgreSQL type name.`,
      { plugin: 'pgvector', details: { type: type.slice(0, 100) } },
    );
  }
  return type;
}
