/**
 * vectordr — disaster recovery for vector databases, as a library.
 *
 * @example
 * ```ts
 * import { openRepository, fsStorage } from 'vectordr';
 * import { pgvectorAdapter } from 'vectordr/adapters/pgvector';
 *
 * const repo = await openRepository({ storage: fsStorage({ path: './backups' }), create: true });
 * const adapter = pgvectorAdapter({ pool });
 * const { manifest } = await repo.snapshot(adapter, 'documents');
 * await repo.restore(adapter, { collection: 'documents', snapshot: manifest.id, ifExists: 'replace' });
 * const parity = await repo.verifyParity(adapter, { collection: 'documents' });
 * ```
 */
export * from './errors.js';
export * from './model.js';
export type * from './adapter.js';
export { DEFAULT_CAPABILITIES, defineCapabilities, denseQuery } from './adapter.js';
export type { Logger } from './logger.js';
export { silentLogger } from './logger.js';
export type { ProgressCallback, ProgressEvent } from './progress.js';
export type { JsonForm, Report } from './report.js';
export { Repository, openRepository, OpenRepositoryOptionsSchema } from './repository/repository.js';
export type { HeadFinding, InvalidSnapshot, OpenRepositoryOptions, SnapshotInfo, SnapshotListing } from './repository/repository.js';
export { SnapshotOptionsSchema } from './snapshot/snapshot.js';
export type { SnapshotOptions, SnapshotResult } from './snapshot/snapshot.js';
export { CommitSnapshotOptionsSchema, PlanSnapshotOptionsSchema, SnapshotPartOptionsSchema } from './snapshot/distributed-options.js';
export type {
  CommitSnapshotOptions,
  PlanSnapshotOptions,
  SnapshotPartOptions,
  SnapshotPartResult,
} from './snapshot/distributed-options.js';
export type { SnapshotCoordinator, SnapshotPart, SnapshotPlan } from './snapshot/distributed.js';
export { CommitRestoreOptionsSchema, PlanRestoreOptionsSchema, RestorePartOptionsSchema } from './restore/distributed-restore-plan.js';
export type {
  CommitRestoreOptions,
  PlanRestoreOptions,
  RestorePartOptions,
  RestorePartResult,
} from './restore/distributed-restore-plan.js';
export type { RestoreCoordinator, RestorePart, RestorePlan } from './restore/distributed-restore.js';
export { RestoreOptionsSchema } from './restore/restore.js';
export type { NotCarriedOver, RestoreOptions, RestoreResult } from './restore/restore.js';
export { CompactOptionsSchema } from './chain/compact.js';
export type { CompactOptions } from './chain/compact.js';
export { VerifyIntegrityOptionsSchema } from './verify/verify-integrity.js';
export type { IntegrityProblem, IntegrityReport, SnapshotIntegrity, VerifyIntegrityOptions } from './verify/verify-integrity.js';
export { ParityOptionsSchema } from './verify/verify-parity.js';
export type { ParityOptions, ParityReport } from './verify/verify-parity.js';
export { RecallOptionsSchema } from './verify/verify-recall.js';
export type { RecallOptions, RecallReport } from './verify/verify-recall.js';
export { DiffOptionsSchema } from './verify/snapshot-diff.js';
export type { DiffOptions, DiffReport } from './verify/snapshot-diff.js';
export type { Storage, StorageObjectInfo, GetOptions, PutOptions } from './storage/storage.js';
export { assertValidKey } from './storage/storage.js';
export { FsStorage, fsStorage, FsStorageOptionsSchema } from './storage/fs-storage.js';
export type { FsStorageOptions } from './storage/fs-storage.js';
export { MemoryStorage, memoryStorage } from './storage/memory-storage.js';
export { EncryptionOptionsSchema, EncryptionConfigSchema, ScryptParamsSchema } from './format/encryption.js';
export type { EncryptionOptions, EncryptionConfig, KeyWrapper } from './format/encryption.js';
export { LockOptionsSchema, RepositoryLock } from './repository/locks.js';
export type { LockOptions, LockInfo, UnlockOptions, UnlockReport } from './repository/locks.js';
export { RetentionPolicySchema, applyRetention } from './repository/retention.js';
export type { RetentionPolicy, RetentionCandidate, RetentionDecision } from './repository/retention.js';
export { ForgetByIdOptionsSchema, ForgetOptionsSchema, PruneOptionsSchema } from './repository/prune.js';
export type { ForgetByIdOptions, ForgetOptions, ForgetReport, PruneOptions, PruneReport } from './repository/prune.js';
export { FORMAT_VERSION, ManifestSchema, RepositoryConfigSchema } from './format/manifest.js';
export type { Manifest, RepositoryConfig, SegmentRef } from './format/manifest.js';
export { validateBatchVectors } from './validate.js';
export { VECTORDR_ID_NAMESPACE, idToUuid, isUuid, uuidV5 } from './id-mapping.js';
export { FailoverRouter, ProbeError } from './router/router.js';
export type {
  EndpointObservation,
  EndpointStatus,
  FenceReason,
  PrimaryChangeCause,
  ProbeFailureKind,
  RouterDriver,
  RouterEvent,
  RouterStatus,
} from './router/router.js';
export type { EndpointHealth } from './router/endpoint-health.js';
export { RouterCoreOptionsSchema, EndpointNameSchema } from './router/router-options.js';
export type { RouterCoreOptions } from './router/router-options.js';
export { memoryLease } from './router/lease.js';
export type { Lease, LeaseGrant } from './router/lease.js';
export { withRetry, RetryOptionsSchema } from './router/retry.js';
export type { RetryOptions } from './router/retry.js';
export { registerRouterMetrics } from './router/router-metrics.js';
export type { RouterMetricsOptions } from './router/router-metrics.js';
export type { PromClientLike } from './metrics/prom-client-like.js';
