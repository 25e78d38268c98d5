/**
 * The S3-compatible test server started by scripts/s3-server.sh (settings in VECTORDR_S3_*), and
 * the toxiproxy started by scripts/toxiproxy.sh (VECTORDR_TOXIPROXY_URL).
 */
import { S3Storage, type S3StorageOptions } from '../../src/storage/s3-storage.js';
import { engineAvailable, randomName } from './engines.js';

export interface S3TestConfig {
  endpoint: string;
  bucket: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

export function s3Config(): S3TestConfig | undefined {
  const endpoint = process.env.VECTORDR_S3_ENDPOINT;
  const accessKeyId = process.env.VECTORDR_S3_ACCESS_KEY;
  const secretAccessKey = process.env.VECTORDR_S3_SECRET_KEY;
  if (!endpoint || !accessKeyId || !secretAccessKey) return undefined;
  return {
    endpoint,
    bucket: process.env.VECTORDR_S3_BUCKET ?? 'vectordr-test',
    region: process.env.VECTORDR_S3_REGION ?? 'us-east-1',
    credentials: { accessKeyId, secretAccessKey },
  };
}

export const s3Available = engineAvailable('s3', s3Config() !== undefined);

/** Storage under a fresh random prefix of the test bucket, so tests never see each other's objects. */
export function s3TestStorage(overrides: Partial<S3StorageOptions> = {}): S3Storage {
  const c = s3Config();
  if (!c) throw new Error('S3 test server not configured (VECTORDR_S3_ENDPOINT); run scripts/s3-server.sh start');
  return new S3Storage({
    endpoint: c.endpoint,
    bucket: c.bucket,
    region: c.region,
    credentials: c.credentials,
    prefix: randomName('t'),
    maxAttempts: 3,
    ...overrides,
  });
}

export const toxiproxyUrl = process.env.VECTORDR_TOXIPROXY_URL;
export const toxiproxyAvailable = engineAvailable('toxiproxy', toxiproxyUrl !== undefined);

/** Temporary credentials limited to `actions` on the test bucket (STS AssumeRole with a session policy, as AWS and MinIO do it). */
export async function restrictedCredentials(
  actions: string[],
): Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken: string }> {
  const c = s3Config();
  if (!c) throw new Error('S3 test server not configured');
  const { STSClient, AssumeRoleCommand } = await import('@aws-sdk/client-sts');
  const sts = new STSClient({ endpoint: c.endpoint, region: c.region, credentials: c.credentials });
  const Policy = JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: actions, Resource: [`arn:aws:s3:::${c.bucket}`, `arn:aws:s3:::${c.bucket}/*`] }],
  });
  const r = await sts.send(
    new AssumeRoleCommand({
      RoleArn: 'arn:aws:iam::000000000000:role/vectordr-test',
      RoleSessionName: 'vectordr-test',
      Policy,
      DurationSeconds: 900,
    }),
  );
  sts.destroy();
  const cred = r.Credentials;
  if (!cred?.AccessKeyId || !cred.SecretAccessKey || !cred.SessionToken) throw new Error('STS answered without credentials');
  return { accessKeyId: cred.AccessKeyId, secretAccessKey: cred.SecretAccessKey, sessionToken: cred.SessionToken };
}
