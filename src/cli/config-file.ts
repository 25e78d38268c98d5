/**
 * The optional config file (`-c, --config`): YAML or JSON (JSON is YAML), validated strictly with
 * zod, `${NAME}` expanded from the environment in every string value after parsing (so a value
 * never changes the document's structure). An unknown key is refused with its path: a typo'd
 * `pasword:` must not silently mean "unencrypted".
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { InvalidInputError } from '../index.js';

export const ENGINES = ['pgvector', 'qdrant', 'milvus', 'weaviate'] as const;
export type EngineName = (typeof ENGINES)[number];

const text = z.string().min(1);

export const ConfigFileSchema = z.strictObject({
  /** `fs:/path`, a plain path, or `s3://bucket/prefix` (flag `-r`, env VECTORDR_REPOSITORY win). */
  repository: text.optional(),
  /** Repository password; prefer `passwordFile` or `${VECTORDR_PASSWORD}`. */
  password: text.optional(),
  /** File holding the repository password (a trailing newline is ignored). */
  passwordFile: text.optional(),
  s3: z
    .strictObject({
      endpoint: text.optional(),
      forcePathStyle: z.boolean().optional(),
      region: text.optional(),
      accessKeyId: text.optional(),
      secretAccessKey: text.optional(),
      sessionToken: text.optional(),
    })
    .optional(),
  engine: z.enum(ENGINES).optional(),
  pgvector: z.strictObject({ url: text.optional(), schema: text.optional() }).optional(),
  qdrant: z.strictObject({ url: text.optional(), apiKey: text.optional() }).optional(),
  milvus: z.strictObject({ address: text.optional(), token: text.optional(), database: text.optional() }).optional(),
  weaviate: z.strictObject({ url: text.optional(), grpc: text.optional(), apiKey: text.optional() }).optional(),
});
export type ConfigFile = z.infer<typeof ConfigFileSchema>;

/** Replaces `${NAME}` with the variable's value; `$${` stays a literal `${`. An unset variable is an error, not "". */
export function expandEnv(value: string, env: Readonly<Record<string, string | undefined>>, where: string): string {
  return value.replace(/\$(\$?)\{([^}]*)\}/g, (whole, escaped: string, name: string) => {
    if (escaped) return whole.slice(1);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw usage(`${where}: \${${name}} is not a variable name`);
    const v = env[name];
    if (v === undefined) throw usage(`${where}: \${${name}} is not set in the environment`);
    return v;
  });
}

function expandAll(value: unknown, env: Readonly<Record<string, string | undefined>>, where: string): unknown {
  if (typeof value === 'string') return expandEnv(value, env, where);
  if (Array.isArray(value)) return value.map((v, i) => expandAll(v, env, `${where}[${i}]`));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandAll(v, env, where === '' ? k : `${where}.${k}`)]));
  }
  return value;
}

const usage = (message: string): InvalidInputError => new InvalidInputError('INVALID_OPTIONS', message, { plugin: 'cli' });

/** The known keys at `path` of the schema, for the message about an unknown one. */
function knownKeysAt(path: readonly PropertyKey[]): string[] {
  let schema: z.ZodType = ConfigFileSchema;
  for (const key of path) {
    const shape = (schema as unknown as { shape?: Record<string, z.ZodType> }).shape;
    const next = shape?.[String(key)];
    if (!next) return [];
    schema = next instanceof z.ZodOptional ? (next.unwrap() as z.ZodType) : next;
  }
  const shape = (schema as unknown as { shape?: Record<string, unknown> }).shape;
  return shape ? Object.keys(shape) : [];
}

/** Parses and validates a config document (its text); `file` names it in messages. */
export function parseConfigFile(source: string, file: string, env: Readonly<Record<string, string | undefined>>): ConfigFile {
  let raw: unknown;
  try {
    raw = parseYaml(source);
  } catch (err) {
    // The parser's message quotes the offending line, which may hold a secret: say where, not what.
    const pos = (err as { linePos?: { line: number; col: number }[] }).linePos?.[0];
    throw usage(`config file ${file} is not valid YAML or JSON${pos ? ` (line ${pos.line}, column ${pos.col})` : ''}`);
  }
  if (raw === null || raw === undefined) raw = {};
  const parsed = ConfigFileSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const at = issue.path.length > 0 ? issue.path.join('.') : 'the top level';
      if (issue.code === 'unrecognized_keys') {
        const where = issue.path.length > 0 ? `under ${at}` : 'at the top level';
        const keys = issue.keys.map((k) => JSON.stringify(k)).join(', ');
        return `unknown key${issue.keys.length > 1 ? 's' : ''} ${keys} ${where} (known: ${knownKeysAt(issue.path).join(', ')})`;
      }
      // zod's messages name the expected type, never the value given.
      return `${at}: ${issue.message}`;
    });
    throw usage(`config file ${file}: ${problems.join('; ')}`);
  }
  return ConfigFileSchema.parse(expandAll(parsed.data, env, ''));
}

/** Reads, parses and validates the config file at `file`. */
export async function loadConfigFile(file: string, env: Readonly<Record<string, string | undefined>>): Promise<ConfigFile> {
  let source: string;
  try {
    source = await readFile(file, 'utf8');
  } catch (err) {
    throw usage(`cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return parseConfigFile(source, file, env);
}
