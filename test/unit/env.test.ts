import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { parseEnv, EnvError } from "../../lib/env.ts";

test("no variables at all gives the embedded defaults", () => {
  const env = parseEnv({}, "/srv/hk");
  assert.equal(env.dataDir, "/srv/hk/.data");
  assert.equal(env.port, 3000);
  assert.equal(env.publicUrl, "http://localhost:3000");
  assert.equal(env.databaseUrl, undefined);
  assert.equal(env.blobStoreUrl, `file://${path.join("/srv/hk/.data", "blobs")}`);
  assert.equal(env.blobStoreKind, "file");
  assert.equal(env.s3Redirect, false);
  assert.equal(env.upstreamTfhub, "https://tfhub.dev");
  assert.deepEqual(env.upstreamHosts, ["tfhub.dev", "www.kaggle.com", "storage.googleapis.com"]);
  assert.equal(env.allowPrivateUpstream, false);
  assert.deepEqual(env.allowlist, ["google/*"]);
  assert.equal(env.anonymousRead, true);
  assert.equal(env.oidc, undefined);
});

test("PORT feeds the public URL; s3 stores redirect by default", () => {
  const env = parseEnv(
    { PORT: "8080", BLOB_STORE_URL: "s3://models-bucket/hub", S3_ENDPOINT: "http://127.0.0.1:7480" },
    "/x",
  );
  assert.equal(env.publicUrl, "http://localhost:8080");
  assert.equal(env.blobStoreKind, "s3");
  assert.equal(env.s3Redirect, true);
  assert.equal(env.s3.forcePathStyle, true);
  assert.equal(
    parseEnv({ BLOB_STORE_URL: "s3://models-bucket", S3_REGION: "eu-west-1", HUBKEEP_S3_REDIRECT: "false" }).s3Redirect,
    false,
  );
});

test("lists are split and trimmed", () => {
  const env = parseEnv({
    HUBKEEP_ALLOWLIST: " google/* , !google/experimental/* ,tensorflow/tfjs-model/*",
    HUBKEEP_UPSTREAM_HOSTS: "a.example, B.example:8443",
  });
  assert.deepEqual(env.allowlist, ["google/*", "!google/experimental/*", "tensorflow/tfjs-model/*"]);
  assert.deepEqual(env.upstreamHosts, ["a.example", "b.example:8443"]);
});

const bad: Array<[Record<string, string>, string, RegExp]> = [
  [{ PORT: "abc" }, "PORT", /port number/],
  [{ PORT: "70000" }, "PORT", /port number/],
  [{ DATABASE_URL: "mysql://x" }, "DATABASE_URL", /postgresql:\/\//],
  [{ BLOB_STORE_URL: "ftp://x" }, "BLOB_STORE_URL", /file:\/\/\/absolute/],
  [{ BLOB_STORE_URL: "s3://Ab" }, "BLOB_STORE_URL", /bucket/],
  [{ BLOB_STORE_URL: "s3://models" }, "S3_REGION", /S3_REGION/],
  [{ HUBKEEP_ANONYMOUS_READ: "maybe" }, "HUBKEEP_ANONYMOUS_READ", /true or false/],
  [{ HUBKEEP_ALLOW_PRIVATE_UPSTREAM: "2" }, "HUBKEEP_ALLOW_PRIVATE_UPSTREAM", /true or false/],
  [{ HUBKEEP_S3_REDIRECT: "sometimes" }, "HUBKEEP_S3_REDIRECT", /true or false/],
  [{ HUBKEEP_PUBLIC_URL: "localhost:3000" }, "HUBKEEP_PUBLIC_URL", /http\(s\) URL/],
  [{ HUBKEEP_UPSTREAM_TFHUB: "ftp://tfhub.dev" }, "HUBKEEP_UPSTREAM_TFHUB", /http\(s\) URL/],
  [{ HUBKEEP_UPSTREAM_HOSTS: "good.example,bad host" }, "HUBKEEP_UPSTREAM_HOSTS", /not a host name/],
  [{ HUBKEEP_ALLOWLIST: "google/*,rm -rf" }, "HUBKEEP_ALLOWLIST", /rule "rm -rf"/],
  [{ HUBKEEP_ADMIN_EMAIL: "root" }, "HUBKEEP_ADMIN_EMAIL", /email/],
  [{ HUBKEEP_ADMIN_PASSWORD: "short" }, "HUBKEEP_ADMIN_PASSWORD", /at least 8/],
  [{ HUBKEEP_OIDC_ISSUER: "https://sso.example" }, "HUBKEEP_OIDC_CLIENT_ID", /set together/],
  [{ HUBKEEP_MAX_UPLOAD_BYTES: "-5" }, "HUBKEEP_MAX_UPLOAD_BYTES", /positive/],
];

for (const [source, variable, reason] of bad) {
  test(`bad ${variable}=${JSON.stringify(Object.values(source)[0])} names the variable`, () => {
    assert.throws(
      () => parseEnv(source),
      (err: unknown) => {
        assert.ok(err instanceof EnvError, `expected EnvError, got ${String(err)}`);
        assert.equal(err.variable, variable);
        assert.match(err.message, reason);
        assert.match(err.message, new RegExp(`^invalid configuration: ${variable}: `));
        assert.ok(!err.message.includes("\n"), "one line");
        return true;
      },
    );
  });
}

test("secrets are not echoed in errors", () => {
  assert.throws(
    () => parseEnv({ HUBKEEP_ADMIN_PASSWORD: "abc" }),
    (err: Error) => !err.message.includes("abc"),
  );
});
