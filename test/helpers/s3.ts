// S3 for tests: s3rver (in a child process) on 127.0.0.1 (random port) for the quick run, or the real
// S3-protocol server named by S3_ENDPOINT (Ceph radosgw in CI). Each user gets a fresh, uniquely
// named bucket, emptied and deleted afterwards.
import fs from "node:fs";
import { spawn } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import {
  AbortMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  type S3Client,
} from "@aws-sdk/client-s3";
import { S3BlobStore, type S3BlobStoreOptions, type S3Options } from "../../lib/storage/s3-store.ts";

export type S3Connection = S3Options & { endpoint: string; accessKeyId: string; secretAccessKey: string };
export type S3rverHandle = S3Connection & { stop(): Promise<void> };

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

/**
 * Starts s3rver (credentials S3RVER/S3RVER) on a random loopback port with its own temp directory,
 * in a child process (test/helpers/s3rver-child.mjs says why).
 */
export async function startS3rver(): Promise<S3rverHandle> {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "hubkeep-s3rver-"));
  const child = spawn(process.execPath, [path.join(import.meta.dirname, "s3rver-child.mjs"), directory], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString("utf8");
      const line = out.split("\n")[0];
      if (out.includes("\n")) resolve((JSON.parse(line!) as { port: number }).port);
    });
    child.once("exit", (code) => reject(new Error(`s3rver exited (${code}) before it listened`)));
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    region: "us-east-1",
    forcePathStyle: true,
    accessKeyId: "S3RVER",
    secretAccessKey: "S3RVER",
    async stop() {
      child.kill("SIGTERM");
      await exited;
      fs.rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** The real S3 server from S3_ENDPOINT / AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, if set (loopback only). */
export function realS3FromEnv(): S3Connection | undefined {
  const endpoint = process.env.S3_ENDPOINT?.trim();
  if (!endpoint) return undefined;
  if (!LOOPBACK.has(new URL(endpoint).hostname))
    throw new Error(`tests only talk to loopback; S3_ENDPOINT is ${endpoint}`);
  return {
    endpoint,
    region: process.env.S3_REGION || "us-east-1",
    forcePathStyle: true,
    accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? "",
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? "",
  };
}

export function uniqueBucketName(): string {
  return `hk-test-${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`;
}

export type TestBucket = { store: S3BlobStore; bucket: string; url: string; destroy(): Promise<void> };

/** Creates a fresh bucket and a store on it (key prefix `prefix`); destroy() empties and deletes both. */
export async function createTestBucket(
  conn: S3Connection,
  opts: { prefix?: string } & Partial<Pick<S3BlobStoreOptions, "multipartCopyThreshold" | "copyPartSize">> = {},
): Promise<TestBucket> {
  const bucket = uniqueBucketName();
  const url = `s3://${bucket}/${opts.prefix ?? "hubkeep"}`;
  const store = new S3BlobStore({
    ...conn,
    url,
    multipartCopyThreshold: opts.multipartCopyThreshold,
    copyPartSize: opts.copyPartSize,
  });
  await store.ensureBucket();
  return {
    store,
    bucket,
    url,
    async destroy() {
      try {
        await emptyAndDeleteBucket(store.client, bucket);
      } finally {
        store.destroy();
      }
    },
  };
}

/** Aborts incomplete multipart uploads (where the server can list them), deletes every object, then the bucket. */
export async function emptyAndDeleteBucket(client: S3Client, bucket: string): Promise<void> {
  for (const u of await listMultipartUploads(client, bucket).catch(() => [])) {
    await client
      .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.key, UploadId: u.uploadId }))
      .catch(() => {});
  }
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    // One by one: DeleteObjects needs a Content-MD5/checksum header that not every server accepts.
    await Promise.all(
      (page.Contents ?? []).map((o) => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key! }))),
    );
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  await client.send(new DeleteBucketCommand({ Bucket: bucket }));
}

/** Incomplete multipart uploads in the bucket; throws where the server does not implement the call (s3rver). */
export async function listMultipartUploads(
  client: S3Client,
  bucket: string,
  prefix?: string,
): Promise<{ key: string; uploadId: string }[]> {
  const found: { key: string; uploadId: string }[] = [];
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (;;) {
    const res = await client.send(
      new ListMultipartUploadsCommand({
        Bucket: bucket,
        Prefix: prefix,
        KeyMarker: keyMarker,
        UploadIdMarker: uploadIdMarker,
      }),
    );
    for (const u of res.Uploads ?? []) found.push({ key: u.Key!, uploadId: u.UploadId! });
    if (!res.IsTruncated) return found;
    keyMarker = res.NextKeyMarker;
    uploadIdMarker = res.NextUploadIdMarker;
  }
}

/**
 * Environment for a server under test that should use S3: a fresh bucket on S3_ENDPOINT if set,
 * otherwise on an s3rver. cleanup() deletes the bucket (and stops s3rver).
 */
export async function s3TestEnv(): Promise<{ env: Record<string, string>; cleanup(): Promise<void> }> {
  const real = realS3FromEnv();
  const local = real ? undefined : await startS3rver();
  const conn = (real ?? local)!;
  const bucket = await createTestBucket(conn);
  return {
    env: {
      BLOB_STORE_URL: bucket.url,
      S3_ENDPOINT: conn.endpoint,
      S3_REGION: conn.region,
      S3_FORCE_PATH_STYLE: "true",
      AWS_ACCESS_KEY_ID: conn.accessKeyId,
      AWS_SECRET_ACCESS_KEY: conn.secretAccessKey,
    },
    async cleanup() {
      try {
        await bucket.destroy();
      } finally {
        await local?.stop();
      }
    },
  };
}
