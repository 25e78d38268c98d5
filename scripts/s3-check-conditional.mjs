#!/usr/bin/env node
// Probes the S3 server started by scripts/s3-server.sh (or any endpoint given by VECTORDR_S3_* env)
// for the behaviour vectordr relies on, and prints one line per check:
//
//   eval "$(bash scripts/s3-server.sh env)" && node scripts/s3-check-conditional.mjs
//
// Required (exit 1 if any fails): If-None-Match:* on PutObject (412 when the key exists, 200 when
// absent, exactly one winner under a race), GetObject of a missing key -> NoSuchKey, HeadBucket of a
// missing bucket -> 404, PutObject with ChecksumAlgorithm CRC32/SHA256, multipart upload.
// Informational (printed, never fails the run): If-Match compare-and-swap, If-None-Match on
// CompleteMultipartUpload, list ordering, error codes for a wrong secret, ETag formats.
import {
  S3Client,
  PutObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  HeadBucketCommand,
  DeleteObjectCommand,
  ListObjectsV2Command,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  CompleteMultipartUploadCommand,
  AbortMultipartUploadCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Buffer } from 'node:buffer';
import process from 'node:process';
import { Readable } from 'node:stream';
/* global console */

const endpoint = process.env.VECTORDR_S3_ENDPOINT ?? 'http://127.0.0.1:54330';
const accessKeyId = process.env.VECTORDR_S3_ACCESS_KEY ?? 'vectordr';
const secretAccessKey = process.env.VECTORDR_S3_SECRET_KEY ?? 'vectordr-secret-key';
const region = process.env.VECTORDR_S3_REGION ?? 'us-east-1';
const Bucket = process.env.VECTORDR_S3_BUCKET ?? 'vectordr-test';

const mk = (secret = secretAccessKey) =>
  new S3Client({
    endpoint,
    region,
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey: secret },
    maxAttempts: 1,
  });
const s3 = mk();
const prefix = `check-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}/`;

let failed = 0;
const line = (ok, required, name, detail) => {
  const tag = ok ? 'PASS' : required ? 'FAIL' : 'NOTE';
  if (!ok && required) failed++;
  console.log(`${tag}  ${name}${detail ? `  -- ${detail}` : ''}`);
};
const errInfo = (e) => (e ? `${e.name}/${e.Code ?? e.code ?? '-'} http=${e.$metadata?.httpStatusCode ?? '?'}` : 'no error');
const attempt = async (fn) => {
  try {
    return { res: await fn(), err: undefined };
  } catch (err) {
    return { res: undefined, err };
  }
};
const status = (r) => r.err?.$metadata?.httpStatusCode ?? r.res?.$metadata?.httpStatusCode;
const put = (Key, Body, extra = {}) => s3.send(new PutObjectCommand({ Bucket, Key, Body, ...extra }));

async function main() {
  console.log(`endpoint ${endpoint} bucket ${Bucket} region ${region} prefix ${prefix}`);
  {
    const r = await attempt(() => s3.send(new HeadBucketCommand({ Bucket })));
    if (r.err) await s3.send(new CreateBucketCommand({ Bucket }));
  }

  // --- If-None-Match on PutObject (the core requirement)
  const k1 = `${prefix}inm`;
  {
    const a = await attempt(() => put(k1, 'first', { IfNoneMatch: '*' }));
    line(
      !a.err && status(a) === 200,
      true,
      'PutObject If-None-Match:* on absent key -> 200',
      a.err ? errInfo(a.err) : `etag ${a.res.ETag}`,
    );
    const b = await attempt(() => put(k1, 'second', { IfNoneMatch: '*' }));
    line(
      status(b) === 412 && b.err?.name === 'PreconditionFailed',
      true,
      'PutObject If-None-Match:* on existing key -> 412 PreconditionFailed',
      errInfo(b.err),
    );
    const body = await (await s3.send(new GetObjectCommand({ Bucket, Key: k1 }))).Body.transformToString();
    line(body === 'first', true, 'object unchanged after the rejected write', `body=${JSON.stringify(body)}`);
  }
  {
    const key = `${prefix}race`;
    const n = 8;
    const rs = await Promise.all(Array.from({ length: n }, (_, i) => attempt(() => put(key, `writer-${i}`, { IfNoneMatch: '*' }))));
    const wins = rs.filter((r) => !r.err).length;
    const codes = [...new Set(rs.filter((r) => r.err).map((r) => errInfo(r.err)))].join(', ');
    line(
      wins === 1,
      true,
      `${n} concurrent If-None-Match:* puts on one new key -> exactly one winner`,
      `winners=${wins} losers=[${codes}]`,
    );
  }

  // --- If-Match (compare-and-swap on ETag)
  {
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: k1 }));
    const good = await attempt(() => put(k1, 'swapped', { IfMatch: head.ETag }));
    line(!good.err, false, 'PutObject If-Match:<current etag> -> 200', good.err ? errInfo(good.err) : `new etag ${good.res.ETag}`);
    const stale = await attempt(() => put(k1, 'stale', { IfMatch: head.ETag }));
    line(status(stale) === 412, false, 'PutObject If-Match:<stale etag> -> 412', errInfo(stale.err));
    const absent = await attempt(() => put(`${prefix}no-such`, 'x', { IfMatch: '"0123456789abcdef0123456789abcdef"' }));
    line(
      status(absent) === 404,
      false,
      'PutObject If-Match on a missing key -> 404 NoSuchKey (as AWS; some servers say 412)',
      errInfo(absent.err),
    );
  }

  // --- errors for missing things
  {
    const g = await attempt(() => s3.send(new GetObjectCommand({ Bucket, Key: `${prefix}missing` })));
    line(g.err?.name === 'NoSuchKey', true, 'GetObject missing key -> NoSuchKey', errInfo(g.err));
    const h = await attempt(() => s3.send(new HeadObjectCommand({ Bucket, Key: `${prefix}missing` })));
    line(status(h) === 404, false, 'HeadObject missing key -> 404', errInfo(h.err));
    const hb = await attempt(() => s3.send(new HeadBucketCommand({ Bucket: 'vectordr-no-such-bucket' })));
    line(status(hb) === 404, true, 'HeadBucket missing bucket -> 404', errInfo(hb.err));
    const gb = await attempt(() => s3.send(new GetObjectCommand({ Bucket: 'vectordr-no-such-bucket', Key: 'x' })));
    line(gb.err?.name === 'NoSuchBucket', false, 'GetObject in missing bucket -> NoSuchBucket', errInfo(gb.err));
    const d = await attempt(() => s3.send(new DeleteObjectCommand({ Bucket, Key: `${prefix}missing` })));
    line(status(d) === 204, false, 'DeleteObject missing key -> 204', d.err ? errInfo(d.err) : `http=${status(d)}`);
  }

  // --- checksums
  for (const algo of ['CRC32', 'CRC32C', 'SHA256', 'SHA1', 'CRC64NVME']) {
    const key = `${prefix}sum-${algo}`;
    const r = await attempt(() => put(key, Buffer.from(`checksum ${algo}`), { ChecksumAlgorithm: algo }));
    let detail = r.err ? errInfo(r.err) : `etag ${r.res.ETag} echoed=${r.res[`Checksum${algo}`] ?? '-'}`;
    if (!r.err) {
      const g = await attempt(() => s3.send(new GetObjectCommand({ Bucket, Key: key, ChecksumMode: 'ENABLED' })));
      if (g.err) detail += `; GetObject ChecksumMode=ENABLED: ${errInfo(g.err)}`;
      else {
        await g.res.Body.transformToString();
        detail += `; GetObject returns=${g.res[`Checksum${algo}`] ?? '-'}`;
      }
    }
    line(!r.err, algo === 'CRC32' || algo === 'SHA256', `PutObject ChecksumAlgorithm=${algo} accepted`, detail);
  }
  {
    // A wrong precomputed checksum must be rejected, or the server does not verify them.
    const r = await attempt(() => put(`${prefix}sum-bad`, 'abc', { ChecksumCRC32: 'AAAAAA==' }));
    line(!!r.err, false, 'PutObject with a wrong ChecksumCRC32 is rejected', errInfo(r.err));
  }
  {
    // Body of unknown length through a stream: the SDK sends aws-chunked with a trailing checksum.
    const key = `${prefix}stream`;
    const data = Buffer.alloc(300_000, 7);
    const r = await attempt(() =>
      put(key, Readable.from([data.subarray(0, 100_000), data.subarray(100_000)]), { ContentLength: data.length }),
    );
    let ok = !r.err;
    if (ok) {
      const back = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket, Key: key }))).Body.transformToByteArray());
      ok = back.equals(data);
    }
    line(ok, false, 'PutObject of a stream (aws-chunked, trailing checksum) round-trips', errInfo(r.err));
  }

  // --- multipart
  const part = Buffer.alloc(5 * 1024 * 1024, 1);
  const tail = Buffer.from('tail');
  const multipart = async (Key, completeExtra = {}) => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key, ChecksumAlgorithm: 'CRC32' }));
    try {
      const p1 = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: part, ChecksumAlgorithm: 'CRC32' }));
      const p2 = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 2, Body: tail, ChecksumAlgorithm: 'CRC32' }));
      return await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key,
          UploadId,
          MultipartUpload: {
            Parts: [
              { PartNumber: 1, ETag: p1.ETag, ChecksumCRC32: p1.ChecksumCRC32 },
              { PartNumber: 2, ETag: p2.ETag, ChecksumCRC32: p2.ChecksumCRC32 },
            ],
          },
          ...completeExtra,
        }),
      );
    } catch (e) {
      await attempt(() => s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })));
      throw e;
    }
  };
  {
    const key = `${prefix}mpu`;
    const r = await attempt(() => multipart(key, { IfNoneMatch: '*' }));
    let ok = !r.err;
    let detail = r.err ? errInfo(r.err) : `etag ${r.res.ETag}`;
    if (ok) {
      const h = await s3.send(new HeadObjectCommand({ Bucket, Key: key }));
      ok = h.ContentLength === part.length + tail.length;
      detail += ` size=${h.ContentLength}`;
    }
    line(ok, true, 'multipart upload (5 MiB + 4 B parts, CRC32), CompleteMultipartUpload If-None-Match:* on absent key', detail);
    const again = await attempt(() => multipart(key, { IfNoneMatch: '*' }));
    line(status(again) === 412, false, 'CompleteMultipartUpload If-None-Match:* on existing key -> 412', errInfo(again.err));
    // The key appears while the upload is in flight: the condition is checked at completion.
    const late = `${prefix}mpu-late`;
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: late }));
    const p1 = await s3.send(new UploadPartCommand({ Bucket, Key: late, UploadId, PartNumber: 1, Body: tail }));
    await put(late, 'someone else');
    const lr = await attempt(() =>
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key: late,
          UploadId,
          IfNoneMatch: '*',
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.ETag }] },
        }),
      ),
    );
    if (lr.err) await attempt(() => s3.send(new AbortMultipartUploadCommand({ Bucket, Key: late, UploadId })));
    line(
      status(lr) === 412,
      false,
      'CompleteMultipartUpload If-None-Match:* when the key was written during the upload -> 412',
      errInfo(lr.err),
    );
  }
  {
    const key = `${prefix}lib-storage`;
    const data = Buffer.alloc(11 * 1024 * 1024, 3);
    const r = await attempt(() =>
      new Upload({
        client: s3,
        params: { Bucket, Key: key, Body: Readable.from([data]), ChecksumAlgorithm: 'CRC32' },
        partSize: 5 * 1024 * 1024,
        queueSize: 2,
      }).done(),
    );
    let ok = !r.err;
    if (ok) {
      const back = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket, Key: key }))).Body.transformToByteArray());
      ok = back.equals(data);
    }
    line(ok, true, '@aws-sdk/lib-storage Upload of 11 MiB stream round-trips', r.err ? errInfo(r.err) : `etag ${r.res.ETag}`);
  }

  // --- listing
  {
    const names = ['b', 'a/1', 'a/2', 'A', 'a-', 'a0', 'z'];
    for (const n of names) await put(`${prefix}ls/${n}`, n);
    const all = [];
    let ContinuationToken;
    let pages = 0;
    do {
      const r = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: `${prefix}ls/`, MaxKeys: 3, ContinuationToken }));
      all.push(...(r.Contents ?? []).map((c) => c.Key.slice(`${prefix}ls/`.length)));
      ContinuationToken = r.IsTruncated ? r.NextContinuationToken : undefined;
      pages++;
    } while (ContinuationToken && pages < 20);
    const expected = [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    line(
      JSON.stringify(all) === JSON.stringify(expected),
      false,
      'ListObjectsV2 (MaxKeys=3, paginated) in UTF-8 byte order',
      `got ${JSON.stringify(all)} in ${pages} pages`,
    );
    const d = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: `${prefix}ls/`, Delimiter: '/' }));
    line(
      true,
      false,
      'ListObjectsV2 with Delimiter',
      `keys=${JSON.stringify((d.Contents ?? []).map((c) => c.Key.slice(prefix.length + 3)))} ` +
        `prefixes=${JSON.stringify((d.CommonPrefixes ?? []).map((c) => c.Prefix.slice(prefix.length + 3)))}`,
    );
  }

  // --- credentials
  {
    const bad = mk('wrong-secret');
    const r = await attempt(() => bad.send(new GetObjectCommand({ Bucket, Key: k1 })));
    line(!!r.err, false, 'GetObject with a wrong secret is refused', errInfo(r.err));
    const w = await attempt(() => bad.send(new PutObjectCommand({ Bucket, Key: `${prefix}bad-cred`, Body: 'x' })));
    line(!!w.err, false, 'PutObject with a wrong secret is refused', errInfo(w.err));
    const hb = await attempt(() => bad.send(new HeadBucketCommand({ Bucket })));
    line(!!hb.err, false, 'HeadBucket with a wrong secret is refused', errInfo(hb.err));
    bad.destroy();
    const stranger = new S3Client({
      endpoint,
      region,
      forcePathStyle: true,
      credentials: { accessKeyId: 'no-such-access-key', secretAccessKey },
      maxAttempts: 1,
    });
    const u = await attempt(() => stranger.send(new GetObjectCommand({ Bucket, Key: k1 })));
    line(!!u.err, false, 'GetObject with an unknown access key is refused', errInfo(u.err));
    stranger.destroy();
  }

  // --- clean up our prefix
  const left = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: prefix }));
  for (const c of left.Contents ?? []) await s3.send(new DeleteObjectCommand({ Bucket, Key: c.Key }));
  console.log(failed === 0 ? 'all required checks passed' : `${failed} required check(s) failed`);
  s3.destroy();
  process.exit(failed === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error('check crashed:', e);
  process.exit(1);
});
