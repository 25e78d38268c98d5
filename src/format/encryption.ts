/**
 * Client-side encryption of a repository (format v1, "encryption" section of docs/format.md).
 *
 * A random 64-byte master key is made when the repository is created: 32 bytes of AES-256-GCM data
 * key and 32 bytes of HMAC-SHA256 id key. It is stored only wrapped: AES-256-GCM under a key derived
 * from a passphrase (scrypt, salt and cost stored in the config), under a caller-supplied 32-byte
 * key, or by a caller's KMS hook. The config also holds a key check (an HMAC of the repository id
 * under the master key), so a wrong key fails at open, before anything is read.
 *
 * Every segment and manifest is sealed: "VDRE" | version 1 | 12-byte random nonce | ciphertext | 16-byte
 * tag, with the object's storage key as associated data so sealed objects cannot be swapped around.
 * Segments are addressed by HMAC(id key, plaintext) instead of SHA-256(plaintext): equal content still
 * deduplicates inside the repository, but nobody without the key can test for known content.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  randomBytes,
  scrypt as scryptCb,
  timingSafeEqual,
  type ScryptOptions,
} from 'node:crypto';
import { z } from 'zod';
import { AbortedError, InvalidInputError, throwIfAborted } from '../errors.js';

const MAGIC = Buffer.from('VDRE', 'ascii');
const VERSION = 1;
const NONCE = 12;
const TAG = 16;
const HEADER = MAGIC.length + 1 + NONCE;
/** Bytes a sealed object adds to its plaintext. */
export const SEAL_OVERHEAD = HEADER + TAG;

/** A key-management hook: wraps and unwraps the repository's master key (AWS KMS, Vault transit, ...). */
export interface KeyWrapper {
  /** Stable, non-secret name of the wrapping key (e.g. a KMS key ARN); recorded in the config. */
  readonly keyId: string;
  wrap(plaintextKey: Uint8Array): Promise<Uint8Array>;
  unwrap(wrappedKey: Uint8Array): Promise<Uint8Array>;
}

/**
 * The bounds of scrypt's cost (docs/format.md, decision 8). The config is unauthenticated, so a
 * reader checks them before it derives anything: N, r and p each, and together at most 1 GiB of
 * memory (128·N·r) and 2^24 of N·r·p (16 times the default's work, a few seconds).
 */
export const SCRYPT_LIMITS = { minN: 2 ** 14, maxN: 2 ** 20, maxR: 32, maxP: 16, maxMemory: 2 ** 30, maxWork: 2 ** 24 } as const;

const scryptN = z
  .number()
  .int()
  .min(SCRYPT_LIMITS.minN, `scrypt N must be at least 2^14 (${SCRYPT_LIMITS.minN})`)
  .max(SCRYPT_LIMITS.maxN, `scrypt N must be at most 2^20 (${SCRYPT_LIMITS.maxN})`)
  .refine((n) => (n & (n - 1)) === 0, 'scrypt N must be a power of two');
const scryptR = z.number().int().min(1).max(SCRYPT_LIMITS.maxR, `scrypt r must be at most ${SCRYPT_LIMITS.maxR}`);
const scryptP = z.number().int().min(1).max(SCRYPT_LIMITS.maxP, `scrypt p must be at most ${SCRYPT_LIMITS.maxP}`);

function scryptCostIssues(c: { N: number; r: number; p: number }, ctx: z.RefinementCtx): void {
  if (128 * c.N * c.r > SCRYPT_LIMITS.maxMemory) {
    ctx.addIssue({ code: 'custom', message: `scrypt memory 128·N·r must be at most 1 GiB (${SCRYPT_LIMITS.maxMemory} bytes)` });
  }
  if (c.N * c.r * c.p > SCRYPT_LIMITS.maxWork) {
    ctx.addIssue({ code: 'custom', message: `scrypt work N·r·p must be at most 2^24 (${SCRYPT_LIMITS.maxWork})` });
  }
}

export const ScryptParamsSchema = z
  .object({
    /** CPU/memory cost, a power of two, 2^14 to 2^20. @default 131072 (2^17, ~128 MiB, OWASP's recommendation) */
    N: scryptN.default(2 ** 17),
    /** Block size, 1 to 32. @default 8 */
    r: scryptR.default(8),
    /** Parallelism, 1 to 16. @default 1 */
    p: scryptP.default(1),
  })
  .superRefine(scryptCostIssues);

export const EncryptionOptionsSchema = z.union([
  z.object({ passphrase: z.string().min(1), scrypt: ScryptParamsSchema.optional() }).strict(),
  // Any Uint8Array: z.instanceof would type it Uint8Array<ArrayBuffer> (TypeScript 5.7+), which a plain `Uint8Array` is not.
  z
    .object({
      key: z
        .custom<Uint8Array>((k) => k instanceof Uint8Array, 'a Uint8Array')
        .refine((k) => k.length === 32, 'key must be 32 bytes (AES-256)'),
    })
    .strict(),
  z
    .object({
      kms: z.custom<KeyWrapper>((v) => typeof v === 'object' && v !== null && 'wrap' in v && 'unwrap' in v && 'keyId' in v, 'a KeyWrapper'),
    })
    .strict(),
]);
/** How to open (or create) an encrypted repository: a passphrase, a raw 32-byte key, or a KMS hook. */
export type EncryptionOptions = z.input<typeof EncryptionOptionsSchema>;

const b64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/);

export const EncryptionConfigSchema = z.strictObject({
  algorithm: z.literal('aes-256-gcm'),
  /** Segment addresses: HMAC-SHA256 of the plaintext under the id key. */
  segmentIds: z.literal('hmac-sha256'),
  /** How the master key is wrapped. Never the key itself. */
  wrap: z.discriminatedUnion('kind', [
    z
      .strictObject({ kind: z.literal('scrypt'), N: scryptN, r: scryptR, p: scryptP, salt: b64.min(16).max(128) })
      .superRefine(scryptCostIssues),
    z.strictObject({ kind: z.literal('key') }),
    z.strictObject({ kind: z.literal('kms'), keyId: z.string() }),
  ]),
  /** The master key, sealed under the wrapping key (or the KMS blob). */
  wrappedKey: b64,
  /** HMAC-SHA256(master key, "vectordr key check " + repository id), base64. */
  keyCheck: b64,
});
export type EncryptionConfig = z.infer<typeof EncryptionConfigSchema>;

/** The unwrapped keys of one repository. Holds secrets: never log or serialise it. */
export class RepositoryCipher {
  readonly #dataKey: Buffer;
  readonly #idKey: Buffer;

  constructor(master: Uint8Array) {
    this.#dataKey = Buffer.from(master.subarray(0, 32));
    this.#idKey = Buffer.from(master.subarray(32, 64));
  }

  /** Content address of a plaintext segment: HMAC-SHA256 under the id key, hex. */
  segmentId(plaintext: Uint8Array): string {
    return createHmac('sha256', this.#idKey).update(plaintext).digest('hex');
  }

  seal(plaintext: Uint8Array, key: string): Uint8Array {
    return sealWith(this.#dataKey, plaintext, key);
  }

  /** Decrypts and authenticates; undefined when the bytes were altered, truncated or sealed under another key or storage key. */
  open(sealed: Uint8Array, key: string): Uint8Array | undefined {
    return openWith(this.#dataKey, sealed, key);
  }

  toJSON(): string {
    return '[RepositoryCipher]';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'RepositoryCipher [keys hidden]';
  }
}

function sealWith(key: Buffer, plaintext: Uint8Array, aad: string): Uint8Array {
  const nonce = randomBytes(NONCE);
  const header = Buffer.concat([MAGIC, Buffer.of(VERSION), nonce]);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.concat([header, Buffer.from(aad, 'utf8')]));
  const body = cipher.update(plaintext);
  const final = cipher.final();
  return Buffer.concat([header, body, final, cipher.getAuthTag()]);
}

/** Undefined when the bytes are not a sealed object or fail authentication. */
function openWith(key: Buffer, sealed: Uint8Array, aad: string): Uint8Array | undefined {
  if (sealed.length < SEAL_OVERHEAD) return undefined;
  const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  if (!buf.subarray(0, MAGIC.length).equals(MAGIC) || buf[MAGIC.length] !== VERSION) return undefined;
  const header = buf.subarray(0, HEADER);
  const nonce = buf.subarray(MAGIC.length + 1, HEADER);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce);
    decipher.setAAD(Buffer.concat([header, Buffer.from(aad, 'utf8')]));
    decipher.setAuthTag(buf.subarray(buf.length - TAG));
    const out = decipher.update(buf.subarray(HEADER, buf.length - TAG));
    decipher.final();
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch {
    return undefined;
  }
}

/** True when the bytes start like a sealed object (used to give a clear error for a config/key mix-up). */
export function looksSealed(bytes: Uint8Array): boolean {
  return bytes.length >= MAGIC.length && Buffer.from(bytes.subarray(0, MAGIC.length)).equals(MAGIC);
}

/**
 * The async scrypt (thread pool, so the event loop and an AbortSignal keep working), with its
 * memory limit set from the parameters, which the schemas have bounded before this is called. An
 * abort stops the wait, not the thread-pool task: that one finishes within the bounded cost.
 */
function scrypt(passphrase: string, salt: Buffer, p: { N: number; r: number; p: number }, signal?: AbortSignal): Promise<Buffer> {
  throwIfAborted(signal);
  const options: ScryptOptions = { N: p.N, r: p.r, p: p.p, maxmem: 128 * p.r * (p.N + p.p + 2) + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(new AbortedError('The key derivation was aborted.', { cause: signal?.reason }));
    signal?.addEventListener('abort', onAbort, { once: true });
    scryptCb(passphrase.normalize('NFKC'), salt, 32, options, (err, key) => {
      signal?.removeEventListener('abort', onAbort);
      if (err) reject(new InvalidInputError('CONFIG_INVALID', `scrypt refused its parameters: ${err.message}`, { cause: err }));
      else resolve(key);
    });
  });
}

function keyCheck(master: Uint8Array, repositoryId: string): string {
  return createHmac('sha256', master).update(`vectordr key check ${repositoryId}`).digest('base64');
}

function wrapAad(repositoryId: string): string {
  return `vectordr/v1 master key ${repositoryId}`;
}

function parseOptions(options: EncryptionOptions): z.output<typeof EncryptionOptionsSchema> {
  const parsed = EncryptionOptionsSchema.safeParse(options);
  if (!parsed.success) {
    throw new InvalidInputError(
      'INVALID_OPTIONS',
      `Invalid encryption options: give exactly one of { passphrase }, { key: 32 bytes } or { ` + `kms }. ${z.prettifyError(parsed.error)}`,
    );
  }
  return parsed.data;
}

/** Makes a new master key and the config section that wraps it. */
export async function createEncryption(
  repositoryId: string,
  options: EncryptionOptions,
  signal?: AbortSignal,
): Promise<{ config: EncryptionConfig; cipher: RepositoryCipher }> {
  const o = parseOptions(options);
  const master = randomBytes(64);
  let wrap: EncryptionConfig['wrap'];
  let wrapped: Uint8Array;
  if ('passphrase' in o) {
    if (o.passphrase.length < 8) throw new InvalidInputError('INVALID_OPTIONS', 'A repository passphrase must have at least 8 characters.');
    const params = ScryptParamsSchema.parse(o.scrypt ?? {});
    const salt = randomBytes(32);
    wrap = { kind: 'scrypt', ...params, salt: salt.toString('base64') };
    wrapped = sealWith(await scrypt(o.passphrase, salt, params, signal), master, wrapAad(repositoryId));
  } else if ('key' in o) {
    wrap = { kind: 'key' };
    wrapped = sealWith(Buffer.from(o.key), master, wrapAad(repositoryId));
  } else {
    wrap = { kind: 'kms', keyId: o.kms.keyId };
    wrapped = await o.kms.wrap(new Uint8Array(master));
  }
  const config: EncryptionConfig = {
    algorithm: 'aes-256-gcm',
    segmentIds: 'hmac-sha256',
    wrap,
    wrappedKey: Buffer.from(wrapped).toString('base64'),
    keyCheck: keyCheck(master, repositoryId),
  };
  return { config, cipher: new RepositoryCipher(master) };
}

/** Unwraps the master key of an existing repository; WRONG_KEY when the key check fails. */
export async function openEncryption(
  repositoryId: string,
  config: EncryptionConfig,
  options: EncryptionOptions | undefined,
  location: string,
  signal?: AbortSignal,
): Promise<RepositoryCipher> {
  const how =
    config.wrap.kind === 'scrypt' ? 'a passphrase' : config.wrap.kind === 'key' ? 'a 32-byte key' : `the KMS key ${config.wrap.keyId}`;
  if (options === undefined) {
    throw new InvalidInputError(
      'KEY_REQUIRED',
      `Repository ${location} is encrypted; pass { encryption: ` +
        `${config.wrap.kind === 'scrypt' ? '{ passphrase }' : config.wrap.kind === 'key' ? '{ key }' : '{ kms }'} ` +
        `} (it was created with ${how}).`,
    );
  }
  const o = parseOptions(options);
  const wrong = (): never => {
    throw new InvalidInputError(
      'WRONG_KEY',
      `The ${'passphrase' in o ? 'passphrase' : 'key' in o ? 'key' : 'KMS key'} does not open ` +
        `repository ${location} (key check failed; it was created with ${how}). Nothing was read ` +
        `or changed.`,
    );
  };
  const wrapped = Buffer.from(config.wrappedKey, 'base64');
  let master: Uint8Array | undefined;
  if (config.wrap.kind === 'scrypt') {
    if (!('passphrase' in o)) wrong();
    const w = config.wrap;
    const kek = await scrypt((o as { passphrase: string }).passphrase, Buffer.from(w.salt, 'base64'), w, signal);
    master = openWith(kek, wrapped, wrapAad(repositoryId));
  } else if (config.wrap.kind === 'key') {
    if (!('key' in o)) wrong();
    master = openWith(Buffer.from((o as { key: Uint8Array }).key), wrapped, wrapAad(repositoryId));
  } else {
    if (!('kms' in o)) wrong();
    try {
      master = await (o as { kms: KeyWrapper }).kms.unwrap(new Uint8Array(wrapped));
    } catch (err) {
      throw new InvalidInputError(
        'WRONG_KEY',
        `The KMS hook could not unwrap the key of repository ${location}: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }
  if (master === undefined || master.length !== 64) return wrong();
  const expected = Buffer.from(config.keyCheck, 'base64');
  const actual = Buffer.from(keyCheck(master, repositoryId), 'base64');
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return wrong();
  return new RepositoryCipher(master);
}
