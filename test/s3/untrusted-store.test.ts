/** The storage side of the hostile-repository cases (issue 22) on the real S3-compatible server (MinIO). */
import { describe } from 'vitest';
import { s3Available, s3TestStorage } from '../helpers/s3.js';
import { testUntrustedStore } from '../helpers/untrusted-store-suite.js';

describe.runIf(s3Available)('s3', () => {
  testUntrustedStore({
    name: 's3',
    create: async () => {
      const storage = s3TestStorage();
      return {
        storage,
        cleanup: async () => {
          for await (const o of storage.list('')) await storage.delete(o.key);
          await storage.close();
        },
      };
    },
  });
});
