/**
 * What a command runs with: its output, the abort signal of SIGINT/SIGTERM, the settings (flags,
 * environment, config file), and the repository and engine it opens, each closed when the command
 * ends, whatever way it ends.
 */
import { type Repository, type Storage, UnsupportedOperationError, type VectorAdapter, fsStorage, openRepository } from '../index.js';
import { type ConfigFile, loadConfigFile } from './config-file.js';
import { openEngine } from './engines.js';
import type { ExitCode } from './exit-codes.js';
import type { MetricsHook } from './metrics-hook.js';
import { type BackupOperation, type BackupTarget, locationLabel } from '../metrics/index.js';
import type { Output } from './output.js';
import type { Secrets } from './secrets.js';
import {
  type EngineOptions,
  type Env,
  type GlobalOptions,
  type RepositorySettings,
  describeEngine,
  engineSettings,
  repositorySettings,
} from './settings.js';

/** How a command ended (a thrown error is the other way): its exit code, and its report (`--json` shows it). */
export interface CommandOutcome {
  exitCode: ExitCode;
  result?: unknown;
}

export class CommandContext {
  readonly #cleanups: (() => Promise<unknown>)[] = [];
  #config: ConfigFile = {};
  #repository: RepositorySettings | undefined;
  #storage: Storage | undefined;
  #opened: Repository | undefined;
  /** Backup metrics of this run (`--metrics-textfile`, `--metrics-push`), when asked for. */
  metrics: MetricsHook | undefined;

  constructor(
    readonly out: Output,
    readonly secrets: Secrets,
    readonly env: Env,
    readonly globals: GlobalOptions,
    readonly signal: AbortSignal,
  ) {}

  /** Reads the config file, when one is given; call before anything that reads settings. */
  async loadConfig(): Promise<void> {
    if (this.globals.config === undefined) return;
    this.#config = await loadConfigFile(this.globals.config, this.env);
    const c = this.#config;
    for (const v of [c.password, c.s3?.secretAccessKey, c.s3?.sessionToken, c.qdrant?.apiKey, c.milvus?.token, c.weaviate?.apiKey])
      this.secrets.add(v);
    for (const v of [c.repository, c.pgvector?.url, c.qdrant?.url, c.milvus?.address, c.weaviate?.url]) this.secrets.addUrl(v);
    this.out.debug(`config file ${this.globals.config} read`);
  }

  /** Progress events of the running operation, to the output. */
  readonly onProgress = (e: Parameters<Output['status']>[0]): void => this.out.status(e);

  /** Runs `fn` when the command ends (last registered, first run). */
  defer(fn: () => Promise<unknown>): void {
    this.#cleanups.unshift(fn);
  }

  /** Runs the deferred cleanups; a failing one is reported, not thrown (the command's own outcome stands). */
  async close(): Promise<void> {
    for (const fn of this.#cleanups.splice(0)) {
      try {
        await fn();
      } catch (err) {
        this.out.debug(`cleanup failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }

  /** The repository this command opened, if it could. */
  get openedRepository(): Repository | undefined {
    return this.#opened;
  }

  /** The `repository` label of metrics: the storage's location without credentials, or what the settings say. */
  get metricsLabel(): string {
    return this.#storage !== undefined ? locationLabel(this.#storage.location) : (this.#repository?.label ?? 'repository');
  }

  /** Runs one operation of the command; with metrics asked for, records its duration and outcome. */
  track<T>(op: BackupOperation, target: BackupTarget, run: () => Promise<T>): Promise<T> {
    return this.metrics === undefined ? run() : this.metrics.track(op, target, run);
  }

  /** The repository as messages name it, once its settings were read. */
  get repositoryLabel(): string | undefined {
    return this.#repository?.label;
  }

  async repositorySettings(): Promise<RepositorySettings> {
    this.#repository ??= await repositorySettings(this.globals, this.env, this.#config, this.secrets);
    return this.#repository;
  }

  /** The repository's storage (S3 loads @aws-sdk/client-s3, an optional peer, only now). */
  async storage(): Promise<Storage> {
    this.#storage ??= await this.#openStorage();
    return this.#storage;
  }

  async #openStorage(): Promise<Storage> {
    const s = await this.repositorySettings();
    const l = s.location;
    let storage: Storage;
    if (l.kind === 'fs') storage = fsStorage({ path: l.path });
    else {
      const { s3Storage } = await import('../storage/s3-storage.js').catch((err: unknown) => {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw err;
        throw new UnsupportedOperationError(
          'S3 repositories need the packages @aws-sdk/client-s3 and @aws-sdk/lib-storage: npm install @aws-sdk/client-s3 @aws-sdk/lib-storage',
          { plugin: 'cli' },
        );
      });
      const { kind: _kind, ...options } = l;
      storage = s3Storage({ ...options, logger: this.out.logger() });
    }
    this.defer(async () => storage.close?.());
    return storage;
  }

  /** Opens the repository (`create`: initialise it when absent), with the password when one is given. */
  async repository(options: { create?: boolean } = {}): Promise<Repository> {
    const s = await this.repositorySettings();
    const storage = await this.storage();
    const repo = await openRepository({
      storage,
      create: options.create ?? false,
      logger: this.out.logger(),
      signal: this.signal,
      ...(s.password === undefined ? {} : { encryption: { passphrase: s.password } }),
    });
    this.out.debug(`repository ${s.label} (${repo.encrypted ? 'encrypted' : 'unencrypted'}, id ${repo.config.id})`);
    this.#opened = repo;
    return repo;
  }

  /** Connects the engine the options (and environment, config file) name. */
  async engine(options: EngineOptions): Promise<VectorAdapter> {
    const s = await engineSettings(options, this.env, this.#config, this.secrets);
    this.out.debug(`engine ${describeEngine(s)}`);
    const opened = await openEngine(s, this.out.logger());
    this.defer(() => opened.close());
    return opened.adapter;
  }
}
