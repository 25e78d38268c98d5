/** Prune beside running snapshots on the real S3 server (the same cases as test/unit/prune-safety.test.ts). */
import { describe } from 'vitest';
import { S3Storage } from '../../src/storage/s3-storage.js';
import { randomName } from '../helpers/engines.js';
import { testPruneSafety } from '../helpers/prune-safety-suite.js';
import { s3Available, s3Config } from '../helpers/s3.js';

describe.runIf(s3Available)('s3', () => {
  testPruneSafety('s3', async () => {
    const c = s3Config();
    if (!c) throw new Error('S3 test server not configured');
    const options = {
      endpoint: c.endpoint,
      bucket: c.bucket,
      region: c.region,
      credentials: c.credentials,
      prefix: randomName('prune'),
      maxAttempts: 3,
    };
    const storage = new S3Storage(options);
    return {
      storage,
      spec: { kind: 's3', ...options },
      cleanup: async () => {
        for await (const o of storage.list('')) await storage.delete(o.key);
        await storage.close();
      },
    };
  });
});
