// The pure parts of webhooks: Standard Webhooks signing (checked against the spec's published test
// vector and the `standardwebhooks` library), secrets, the target URL rule (the metadata address in
// every spelling), the contract's retry schedule, and the event vocabulary.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Webhook } from "standardwebhooks";
import { generateWebhookSecret, secretKey, signWebhook, webhookHeaders } from "../../lib/webhooks/signing.ts";
import { checkResolvedHost, parseTargetUrl } from "../../lib/webhooks/target-url.ts";
import {
  MAX_ATTEMPTS,
  RETRY_DELAYS_SECONDS,
  nextAttemptAt,
  retryDelayMs,
  scaleRetryScheduleForTests,
} from "../../lib/webhooks/retry.ts";
import {
  WEBHOOK_EVENT_TYPES,
  serializePayload,
  subscribesTo,
  versionEventFor,
  isWebhookSubscription,
} from "../../lib/webhooks/events.ts";
import { createWebhookSchema } from "../../lib/webhooks/schemas.ts";

test("signatures match the Standard Webhooks test vector and verify with the standardwebhooks library", () => {
  // The vector the spec's reference libraries test against.
  const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  const vector = { id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1614265330, body: '{"test": 2432232314}', secret };
  assert.equal(signWebhook(vector), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");

  const fresh = generateWebhookSecret();
  const body = serializePayload({ type: "version.approved", timestamp: new Date().toISOString(), data: { a: 1 } });
  const headers = webhookHeaders({ id: "evt_1", timestamp: Math.floor(Date.now() / 1000), body, secret: fresh });
  assert.match(headers["webhook-signature"], /^v1,[A-Za-z0-9+/]{43}=$/);
  assert.deepEqual(new Webhook(fresh).verify(body, headers), JSON.parse(body));
  // A changed body, id or timestamp no longer verifies.
  assert.throws(() => new Webhook(fresh).verify(body.replace("1", "2"), headers));
  assert.throws(() => new Webhook(fresh).verify(body, { ...headers, "webhook-id": "evt_2" }));
  assert.throws(() => new Webhook(generateWebhookSecret()).verify(body, headers));
});

test("secrets are whsec_ + base64 of 32 random bytes, and the key is the decoded part", () => {
  const a = generateWebhookSecret();
  const b = generateWebhookSecret();
  assert.match(a, /^whsec_[A-Za-z0-9+/]{43}=$/);
  assert.notEqual(a, b);
  assert.equal(secretKey(a).length, 32);
  assert.throws(() => secretKey("not-a-secret"), /whsec_/);
});

test("the body's top-level keys are in the contract's order: type, timestamp, data", () => {
  const text = serializePayload({ data: { handle: "x" }, timestamp: "t", type: "version.created" } as never);
  assert.equal(text, '{"type":"version.created","timestamp":"t","data":{"handle":"x"}}');
});

test("target URLs: http(s) only; loopback and private allowed; the metadata address refused in every spelling", () => {
  for (const ok of [
    "http://127.0.0.1:8080/hook",
    "https://hooks.example.com/x?y=1",
    "http://10.1.2.3/h",
    "http://192.168.1.5/h",
    "http://[::1]:9000/h",
    "http://localhost/h",
    "http://169.254.169.253/h",
    "http://[::ffff:7f00:1]/h",
    "http://[2001:db8::a9fe:a9fe]/h",
  ]) {
    const r = parseTargetUrl(ok);
    assert.ok("url" in r, `${ok}: ${"reason" in r ? r.reason : ""}`);
  }
  const refused: Array<[string, RegExp]> = [
    ["ftp://example.com/x", /only http and https/],
    ["javascript:alert(1)", /only http and https/],
    ["not a url", /not an absolute URL/],
    ["/relative/path", /not an absolute URL/],
    ["http://user:pw@example.com/", /credentials/],
    ["http://169.254.169.254/latest/meta-data/", /169\.254\.169\.254 is a cloud metadata/],
    ["http://169.254.169.254./", /cloud metadata/],
    ["http://2852039166/", /cloud metadata/], // decimal
    ["http://0xa9fea9fe/", /cloud metadata/], // hex
    ["http://0251.0376.0251.0376/", /cloud metadata/], // octal
    ["http://169.254.43518/", /cloud metadata/], // a.b.c with a 16-bit tail
    ["http://[::ffff:169.254.169.254]/", /cloud metadata/], // IPv4-mapped IPv6
    ["http://[0:0:0:0:0:ffff:a9fe:a9fe]/", /cloud metadata/],
    ["http://[::169.254.169.254]/", /cloud metadata/], // IPv4-compatible IPv6
    ["http://[::ffff:0:169.254.169.254]/", /cloud metadata/], // IPv4-translated IPv6
    ["http://[64:ff9b::a9fe:a9fe]/", /cloud metadata/], // NAT64
    ["http://[fd00:ec2::254]/", /cloud metadata/], // AWS's IPv6 metadata address
    ["http://0.0.0.0:8080/", /unspecified/],
  ];
  for (const [url, why] of refused) {
    const r = parseTargetUrl(url);
    assert.ok("reason" in r, `${url} must be refused`);
    assert.match(r.reason, why, url);
  }
});

test("a host name that resolves to the metadata address is refused at creation; one that does not resolve is not", async () => {
  const table: Record<string, string[]> = {
    "metadata.attacker.test": ["169.254.169.254"],
    "mixed.test": ["127.0.0.1", "::ffff:169.254.169.254"],
    "fine.test": ["10.0.0.7", "fd12::1"],
  };
  const resolve = async (host: string) =>
    (table[host] ?? []).map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  const why = await checkResolvedHost(new URL("http://metadata.attacker.test/x"), resolve);
  assert.match(why ?? "", /metadata\.attacker\.test resolves to 169\.254\.169\.254: .*cloud metadata/);
  assert.match((await checkResolvedHost(new URL("http://mixed.test/"), resolve)) ?? "", /cloud metadata/);
  assert.equal(await checkResolvedHost(new URL("http://fine.test/"), resolve), null);
  assert.equal(await checkResolvedHost(new URL("http://unknown.test/"), resolve), null);
  const never = () => new Promise<never>(() => {});
  assert.equal(await checkResolvedHost(new URL("http://slow.test/"), never, 50), null, "a stuck lookup times out");
});

test("the default retry schedule is the contract's: <=10 s, then <=60 s, then growing, <=1 h apart, for >=24 h", () => {
  assert.equal(RETRY_DELAYS_SECONDS[0], 5, "the second attempt 5 s after the first");
  assert.ok(RETRY_DELAYS_SECONDS[0]! <= 10);
  assert.equal(RETRY_DELAYS_SECONDS[1], 30, "the third 30 s after the second");
  assert.ok(RETRY_DELAYS_SECONDS[1]! <= 60);
  for (let i = 1; i < RETRY_DELAYS_SECONDS.length; i++) {
    assert.ok(RETRY_DELAYS_SECONDS[i]! >= RETRY_DELAYS_SECONDS[i - 1]!, "delays never shrink");
    assert.ok(RETRY_DELAYS_SECONDS[i]! <= 3600, "never more than an hour apart");
  }
  assert.deepEqual(RETRY_DELAYS_SECONDS.slice(0, 7), [5, 30, 120, 300, 900, 1800, 3600]);
  const total = RETRY_DELAYS_SECONDS.reduce((a, b) => a + b, 0);
  assert.ok(total >= 24 * 3600, `retried for ${total} s`);
  assert.equal(total, 89_555, "the last attempt 24 h 52 min 35 s after the first");
  // Dropping the last delay would end before 24 h: the schedule is no longer than it must be.
  assert.ok(total - RETRY_DELAYS_SECONDS.at(-1)! < 24 * 3600);
  assert.equal(MAX_ATTEMPTS, 31);
  assert.equal(retryDelayMs(1), 5000);
  assert.equal(retryDelayMs(2), 30_000);
  assert.equal(retryDelayMs(30), 3_600_000);
  assert.equal(retryDelayMs(31), null, "after the 31st attempt: failed");

  // Each delay counts from the start of the attempt before it, and never before that attempt ended.
  const start = new Date("2030-01-01T00:00:00Z");
  const quick = nextAttemptAt(1, { startedAt: start, endedAt: new Date(start.getTime() + 200) });
  assert.equal(quick?.getTime(), start.getTime() + 5000);
  const timedOut = nextAttemptAt(1, { startedAt: start, endedAt: new Date(start.getTime() + 10_000) });
  assert.equal(timedOut?.getTime(), start.getTime() + 10_000, "a 10 s timeout: the second attempt at once");
  assert.equal(nextAttemptAt(MAX_ATTEMPTS, { startedAt: start, endedAt: start }), null);

  const restore = scaleRetryScheduleForTests(0.1);
  try {
    assert.equal(retryDelayMs(1), 500);
  } finally {
    restore();
  }
  assert.equal(retryDelayMs(1), 5000, "restored");
  assert.throws(() => scaleRetryScheduleForTests(2));
});

test("event types: the contract's list, '*' for all, version statuses mapped to their events", () => {
  assert.deepEqual(
    [...WEBHOOK_EVENT_TYPES],
    [
      "version.created",
      "version.validated",
      "version.failed",
      "version.quarantined",
      "version.approved",
      "version.rejected",
      "version.deleted",
      "alias.moved",
      "mirror.failed",
      "upstream.drift",
      "quota.warning",
      "quota.exceeded",
    ],
  );
  assert.ok(isWebhookSubscription("*"));
  assert.ok(!isWebhookSubscription("version.*"));
  assert.ok(subscribesTo(["*"], "quota.warning"));
  assert.ok(subscribesTo(["version.approved"], "version.approved"));
  assert.ok(!subscribesTo(["version.approved"], "version.rejected"));
  assert.equal(versionEventFor("approved"), "version.approved");
  assert.equal(versionEventFor("deleted"), "version.deleted");
  assert.equal(versionEventFor("validating"), null);
  assert.equal(versionEventFor("pending"), null);
});

test("the create schema names the field that is wrong", () => {
  const issues = (input: unknown) => {
    const r = createWebhookSchema.safeParse(input);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  };
  assert.deepEqual(issues({ url: "http://127.0.0.1/x", events: ["*"] }), []);
  assert.match(issues({ url: "http://127.0.0.1/x", events: [] }).join(), /^events: subscribe to at least one/);
  assert.match(
    issues({ url: "http://127.0.0.1/x", events: ["version.nope"] }).join(),
    /^events\.0: unknown event type "version\.nope"/,
  );
  assert.match(issues({ url: "gopher://x", events: ["*"] }).join(), /^url: only http and https/);
  assert.match(issues({ url: "http://169.254.169.254/", events: ["*"] }).join(), /^url: .*cloud metadata/);
  assert.match(issues({ events: ["*"] }).join(), /^url: /);
  const dedup = createWebhookSchema.parse({ url: "http://127.0.0.1/x", events: ["*", "*"] });
  assert.deepEqual(dedup.events, ["*"]);
});
