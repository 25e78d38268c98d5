/**
 * Where the repository and the engine come from: a flag, else an environment variable, else the
 * config file (restic's order). Every secret read here is registered with `Secrets` before anything
 * can print it.
 */
import { readFile } from 'node:fs/promises';
import { InvalidInputError } from '../index.js';
import { type ConfigFile, ENGINES, type EngineName } from './config-file.js';
import { Secrets } from './secrets.js';

export type Env = Readonly<Record<string, string | undefined>>;

/** Options every verb has (docs/cli.md, "Global options"). */
export interface GlobalOptions {
  repo?: string;
  passwordFile?: string;
  config?: string;
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  progress: boolean;
  s3Endpoint?: string;
  s3ForcePathStyle?: boolean;
}

/** Options of the verbs that touch an engine. */
export interface EngineOptions {
  engine?: string;
  pgUrl?: string;
  qdrantUrl?: string;
  qdrantApiKeyFile?: string;
  milvusAddress?: string;
  weaviateUrl?: string;
  weaviateGrpc?: string;
}

export type RepositoryLocation =
  | { kind: 'fs'; path: string }
  | {
      kind: 's3';
      bucket: string;
      prefix: string;
      endpoint?: string;
      forcePathStyle?: boolean;
      region?: string;
      credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
    };

export interface RepositorySettings {
  location: RepositoryLocation;
  /** What `--verbose` and messages call it (no secrets). */
  label: string;
  /** Absent: an unencrypted repository. */
  password?: string;
}

export type EngineSettings =
  | { engine: 'pgvector'; url: string; schema?: string }
  | { engine: 'qdrant'; url: string; apiKey?: string }
  | { engine: 'milvus'; address: string; token?: string; database?: string }
  | { engine: 'weaviate'; url: string; grpc?: string; apiKey?: string };

const usage = (message: string): InvalidInputError => new InvalidInputError('INVALID_ARGUMENT', message, { plugin: 'cli' });

/** The first defined value (an empty string counts as not given). */
const first = (...values: (string | undefined)[]): string | undefined => values.find((v) => v !== undefined && v !== '');

/** A secret file's content without its trailing line break; empty is an error (never "no password"). */
async function readSecretFile(file: string, what: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw usage(`cannot read the ${what} file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const value = text.replace(/\r?\n$/, '');
  if (value === '') throw usage(`the ${what} file ${file} is empty`);
  return value;
}

/** Parses `fs:/path`, a plain path, or `s3://bucket/prefix`. */
export function parseRepositoryUrl(url: string): { kind: 'fs'; path: string } | { kind: 's3'; bucket: string; prefix: string } {
  if (url.startsWith('s3://')) {
    const rest = url.slice('s3://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    const prefix = slash < 0 ? '' : rest.slice(slash + 1).replace(/^\/+|\/+$/g, '');
    if (bucket === '') throw usage(`repository ${url}: no bucket (expected s3://bucket/prefix)`);
    return { kind: 's3', bucket, prefix };
  }
  if (url.startsWith('fs:')) {
    const path = url.slice('fs:'.length);
    if (path === '') throw usage('repository fs: names no path (expected fs:/path/to/repository)');
    return { kind: 'fs', path };
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
  if (scheme) {
    throw usage(`repository ${Secrets.safeUrl(url)}: unsupported scheme ${scheme[1]}:// (use a path, fs:/path or s3://bucket/prefix)`);
  }
  return { kind: 'fs', path: url };
}

export async function repositorySettings(g: GlobalOptions, env: Env, config: ConfigFile, secrets: Secrets): Promise<RepositorySettings> {
  const url = first(g.repo, env.VECTORDR_REPOSITORY, config.repository);
  if (url === undefined) {
    throw usage(
      'no repository given: pass -r/--repo <path|s3://bucket/prefix>, set VECTORDR_REPOSITORY, or set repository in the config file',
    );
  }
  secrets.addUrl(url);
  const s3 = config.s3 ?? {};
  for (const v of [s3.secretAccessKey, s3.sessionToken]) secrets.add(v);
  for (const v of [env.AWS_SECRET_ACCESS_KEY, env.AWS_SESSION_TOKEN]) secrets.add(v);

  const parsed = parseRepositoryUrl(url);
  let location: RepositoryLocation = parsed;
  if (parsed.kind === 's3') {
    const endpoint = first(g.s3Endpoint, env.VECTORDR_S3_ENDPOINT, s3.endpoint);
    const forcePathStyle = g.s3ForcePathStyle ?? s3.forcePathStyle;
    const region = first(s3.region);
    const credentials =
      s3.accessKeyId !== undefined && s3.secretAccessKey !== undefined
        ? {
            accessKeyId: s3.accessKeyId,
            secretAccessKey: s3.secretAccessKey,
            ...(s3.sessionToken ? { sessionToken: s3.sessionToken } : {}),
          }
        : undefined;
    if ((s3.accessKeyId === undefined) !== (s3.secretAccessKey === undefined)) {
      throw usage('config file: s3.accessKeyId and s3.secretAccessKey go together (or leave both out to use AWS_* variables)');
    }
    location = {
      ...parsed,
      ...(endpoint === undefined ? {} : { endpoint }),
      ...(forcePathStyle === undefined ? {} : { forcePathStyle }),
      ...(region === undefined ? {} : { region }),
      ...(credentials === undefined ? {} : { credentials }),
    };
  }
  const label = Secrets.safeUrl(url);

  const passwordFile = first(g.passwordFile, env.VECTORDR_PASSWORD_FILE);
  let password: string | undefined;
  if (passwordFile !== undefined) password = await readSecretFile(passwordFile, 'password');
  else if (first(env.VECTORDR_PASSWORD) !== undefined) password = env.VECTORDR_PASSWORD;
  else if (config.passwordFile !== undefined) password = await readSecretFile(config.passwordFile, 'password');
  else password = config.password;
  secrets.add(password);
  return { location, label, ...(password === undefined ? {} : { password }) };
}

function isEngine(name: string): name is EngineName {
  return (ENGINES as readonly string[]).includes(name);
}

/**
 * The engine and its connection. `--engine` (or `engine:` in the config file) picks it; without
 * one, the engine whose settings are given, when exactly one is (DATABASE_URL alone means pgvector).
 */
export async function engineSettings(o: EngineOptions, env: Env, config: ConfigFile, secrets: Secrets): Promise<EngineSettings> {
  const pgUrl = first(o.pgUrl, env.VECTORDR_PG_URL, config.pgvector?.url);
  const qdrantUrl = first(o.qdrantUrl, env.VECTORDR_QDRANT_URL, config.qdrant?.url);
  const milvusAddress = first(o.milvusAddress, env.VECTORDR_MILVUS_ADDRESS, config.milvus?.address);
  const weaviateUrl = first(o.weaviateUrl, env.VECTORDR_WEAVIATE_URL, config.weaviate?.url);
  for (const url of [pgUrl, qdrantUrl, milvusAddress, weaviateUrl, env.DATABASE_URL]) secrets.addUrl(url);
  const given: Record<EngineName, string | undefined> = {
    pgvector: pgUrl,
    qdrant: qdrantUrl,
    milvus: milvusAddress,
    weaviate: weaviateUrl,
  };

  const named = first(o.engine, config.engine);
  if (named !== undefined && !isEngine(named)) throw usage(`unknown engine ${JSON.stringify(named)} (one of ${ENGINES.join(', ')})`);
  let engine: EngineName | undefined = named;
  if (engine === undefined) {
    const configured = ENGINES.filter((e) => given[e] !== undefined);
    if (configured.length > 1) throw usage(`settings for several engines are given (${configured.join(', ')}): pick one with --engine`);
    engine = configured[0] ?? (first(env.DATABASE_URL) === undefined ? undefined : 'pgvector');
  }
  const missing = (what: string): InvalidInputError => usage(`the ${engine ?? 'engine'} engine needs ${what}`);
  switch (engine) {
    case undefined:
      throw usage(
        `this command needs an engine: pass --engine (${ENGINES.join(', ')}) with its connection, e.g. --pg-url or VECTORDR_PG_URL`,
      );
    case 'pgvector': {
      const url = pgUrl ?? first(env.DATABASE_URL);
      if (url === undefined) throw missing('a connection URL: --pg-url, VECTORDR_PG_URL or DATABASE_URL');
      return { engine, url, ...(config.pgvector?.schema ? { schema: config.pgvector.schema } : {}) };
    }
    case 'qdrant': {
      if (qdrantUrl === undefined) throw missing('a URL: --qdrant-url or VECTORDR_QDRANT_URL');
      const apiKey =
        o.qdrantApiKeyFile !== undefined
          ? await readSecretFile(o.qdrantApiKeyFile, 'Qdrant API key')
          : first(env.VECTORDR_QDRANT_API_KEY, config.qdrant?.apiKey);
      secrets.add(apiKey);
      return { engine, url: qdrantUrl, ...(apiKey === undefined ? {} : { apiKey }) };
    }
    case 'milvus': {
      if (milvusAddress === undefined) throw missing('an address: --milvus-address or VECTORDR_MILVUS_ADDRESS');
      const token = first(env.VECTORDR_MILVUS_TOKEN, config.milvus?.token);
      secrets.add(token);
      return {
        engine,
        address: milvusAddress,
        ...(token === undefined ? {} : { token }),
        ...(config.milvus?.database ? { database: config.milvus.database } : {}),
      };
    }
    case 'weaviate': {
      if (weaviateUrl === undefined) throw missing('a URL: --weaviate-url or VECTORDR_WEAVIATE_URL');
      const grpc = first(o.weaviateGrpc, env.VECTORDR_WEAVIATE_GRPC, config.weaviate?.grpc);
      const apiKey = first(env.VECTORDR_WEAVIATE_API_KEY, config.weaviate?.apiKey);
      secrets.add(apiKey);
      return { engine, url: weaviateUrl, ...(grpc === undefined ? {} : { grpc }), ...(apiKey === undefined ? {} : { apiKey }) };
    }
  }
}

/** The engine and where it is, for `--verbose` (no secrets). */
export function describeEngine(s: EngineSettings): string {
  const where = s.engine === 'milvus' ? s.address : s.url;
  return `${s.engine} at ${Secrets.safeUrl(where)}`;
}
