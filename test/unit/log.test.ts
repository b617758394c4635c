// The logger (lib/log.ts): one JSON object per line, credential fields redacted, every line scrubbed
// of URL query strings, S3 signing parameters and API tokens; X-Request-Id accepted only when sane;
// the request context that carries the id into error bodies; and the environment's log block.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import {
  captureConsole,
  createLogger,
  currentRequest,
  decideRequestId,
  defaultLogFormat,
  runInRequest,
  scrubSecrets,
  setRequestPrincipal,
  stripQuery,
} from "../../lib/log.ts";
import { AppError, errorBody, toErrorResponse } from "../../lib/errors.ts";
import { EnvError, parseEnv } from "../../lib/env.ts";

function capture(format: "json" | "pretty" = "json", level: "info" | "debug" | "error" = "info") {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  const logger = createLogger({ format, level, destination, colorize: false });
  const text = () => chunks.join("");
  const lines = () =>
    text()
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { logger, text, lines };
}

const PRESIGNED =
  "http://127.0.0.1:9000/bucket/blobs/sha256/ab/abcd?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=0123456789abcdef&response-content-disposition=attachment";
const TOKEN = `hk_${"A1b2_C3d4-".repeat(4)}xyz`;

test("stripQuery drops the query string and fragment of URLs and paths", () => {
  assert.equal(stripQuery(PRESIGNED), "http://127.0.0.1:9000/bucket/blobs/sha256/ab/abcd");
  assert.equal(stripQuery("/google/x/1?tf-hub-format=compressed"), "/google/x/1");
  assert.equal(stripQuery("/a#frag"), "/a");
  assert.equal(stripQuery("/plain/path"), "/plain/path");
});

test("scrubSecrets removes URL queries, S3 signing parameters and API tokens, and leaves prose alone", () => {
  const scrubbed = scrubSecrets(`redirect to ${PRESIGNED} for ${TOKEN}`);
  assert.doesNotMatch(scrubbed, /X-Amz-Signature|X-Amz-Credential|0123456789abcdef|AKIDEXAMPLE/);
  assert.ok(!scrubbed.includes(TOKEN));
  assert.match(scrubbed, /http:\/\/127\.0\.0\.1:9000\/bucket\/blobs\/sha256\/ab\/abcd\?\[query removed\]/);
  assert.match(scrubbed, /hk_\[redacted\]/);
  assert.equal(scrubSecrets("GET /a/b?token=1&x=2 failed"), "GET /a/b?[query removed] failed");
  assert.equal(scrubSecrets("X-Amz-Signature=abc&other=1"), "X-Amz-Signature=[redacted]&other=1");
  for (const prose of ["is it ready? yes", "ready: http://localhost:3000  (health: /healthz)", "a_hk_b"])
    assert.equal(scrubSecrets(prose), prose);
});

test("JSON lines: level names, the hubkeep prefix, credential fields redacted, queries scrubbed everywhere", () => {
  const { logger, text, lines } = capture();
  logger.info(
    {
      headers: {
        authorization: `Bearer ${TOKEN}`,
        cookie: "next-auth.session-token=cookie-value-77",
        "set-cookie": ["s=1"],
      },
      password: "hunter2-password",
      body: { token: "raw-token", secret: "raw-secret", note: "kept" },
      location: PRESIGNED,
    },
    `redirected to ${PRESIGNED}`,
  );
  logger.error({ err: new Error(`GET ${PRESIGNED} failed with ${TOKEN}`) }, "upload failed");
  const [first, second] = lines();
  assert.equal(first!.level, "info");
  assert.match(
    String(first!.msg),
    /^hubkeep: redirected to http:\/\/127\.0\.0\.1:9000\/bucket\/blobs\/sha256\/ab\/abcd\?/,
  );
  assert.deepEqual(first!.headers, { authorization: "[redacted]", cookie: "[redacted]", "set-cookie": "[redacted]" });
  assert.equal(first!.password, "[redacted]");
  assert.deepEqual(first!.body, { token: "[redacted]", secret: "[redacted]", note: "kept" });
  assert.equal(second!.level, "error");
  assert.match(String((second!.err as { message: string }).message), /^GET http:\/\/127\.0\.0\.1:9000\/bucket/);
  for (const secret of [
    TOKEN,
    "hunter2-password",
    "cookie-value-77",
    "raw-token",
    "raw-secret",
    "X-Amz-Signature",
    "AKIDEXAMPLE",
  ])
    assert.ok(!text().includes(secret), `${secret} was written: ${text()}`);
});

test("the level filters, and the pretty format writes readable, scrubbed lines", () => {
  const quiet = capture("json", "error");
  quiet.logger.info("not shown");
  quiet.logger.error("shown");
  assert.deepEqual(
    quiet.lines().map((l) => l.msg),
    ["hubkeep: shown"],
  );
  const pretty = capture("pretty");
  pretty.logger.info({ route: "/{handle}/{n}" }, `GET ${PRESIGNED}`);
  assert.match(
    pretty.text(),
    /INFO.*hubkeep: GET http:\/\/127\.0\.0\.1:9000\/bucket\/blobs\/sha256\/ab\/abcd\?\[query removed\]/,
  );
  assert.match(pretty.text(), /route: "\/\{handle\}\/\{n\}"/);
  assert.doesNotMatch(pretty.text(), /X-Amz-Signature/);
  assert.throws(() => JSON.parse(pretty.text().split("\n")[0]!));
  assert.equal(defaultLogFormat(true), "pretty");
  assert.equal(defaultLogFormat(false), "json");
});

test("captureConsole sends console output through the logger (an Error as err)", () => {
  const { logger, lines } = capture("json", "debug");
  const saved = {
    log: console.log,
    info: console.info,
    debug: console.debug,
    warn: console.warn,
    error: console.error,
  };
  try {
    captureConsole(logger);
    console.log("✓ Running %s took %dms", "next.config.js", 60);
    console.warn("hubkeep: careful");
    console.error("hubkeep: server action failed:", new Error(`boom at ${PRESIGNED}`));
    console.error("(node:123) Warning: NodeVersionSupportWarning: upgrade");
  } finally {
    Object.assign(console, saved);
  }
  const [a, b, c, d] = lines();
  assert.deepEqual([d!.level, d!.msg], ["warn", "hubkeep: (node:123) Warning: NodeVersionSupportWarning: upgrade"]);
  assert.deepEqual([a!.level, a!.msg], ["info", "hubkeep: ✓ Running next.config.js took 60ms"]);
  assert.deepEqual([b!.level, b!.msg], ["warn", "hubkeep: careful"]);
  assert.deepEqual([c!.level, c!.msg], ["error", "hubkeep: server action failed:"]);
  assert.match(
    String((c!.err as { message: string }).message),
    /^boom at http:\/\/127\.0\.0\.1:9000\/bucket\/blobs\/sha256\/ab\/abcd\?\[query removed\]$/,
  );
});

test("X-Request-Id: a sane token is kept, anything else is replaced by a new UUID", () => {
  for (const ok of ["abc", "req-1.2_3:4", "A".repeat(128), "0f8fad5b-d9cb-469f-a165-70867728950e"])
    assert.equal(decideRequestId(ok), ok);
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  for (const bad of [undefined, "", "A".repeat(129), "has space", "line\nbreak", "semi;colon", "a,b", ["x", "y"]])
    assert.match(decideRequestId(bad), uuid, JSON.stringify(bad));
  assert.notEqual(decideRequestId(undefined), decideRequestId(undefined));
});

test("the request context carries the id into error bodies and the principal to the request line", async () => {
  assert.equal(currentRequest(), undefined);
  setRequestPrincipal("ignored outside a request");
  const ctx = { requestId: "req-42", principalId: null as string | null };
  await runInRequest(ctx, async () => {
    await new Promise((r) => setTimeout(r, 1));
    setRequestPrincipal("user-1");
    const res = toErrorResponse(new AppError("not_found", "no model x/y"));
    assert.equal(res.status, 404);
    assert.deepEqual(await res.json(), { error: { code: "not_found", message: "no model x/y", requestId: "req-42" } });
    const given = toErrorResponse(new AppError("conflict", "taken"), "given-id");
    assert.equal(((await given.json()) as { error: { requestId: string } }).error.requestId, "given-id");
  });
  assert.equal(ctx.principalId, "user-1");
  assert.deepEqual(errorBody(new AppError("bad_request", "nope")), { error: { code: "bad_request", message: "nope" } });
  assert.deepEqual(errorBody(new AppError("bad_request", "nope"), "r1").error.requestId, "r1");
});

test("HUBKEEP_LOG_FORMAT and HUBKEEP_LOG_LEVEL: defaults, accepted values, and errors naming the variable", () => {
  assert.deepEqual(parseEnv({}).log, { format: undefined, level: "info" });
  assert.deepEqual(parseEnv({ HUBKEEP_LOG_FORMAT: "JSON", HUBKEEP_LOG_LEVEL: " debug " }).log, {
    format: "json",
    level: "debug",
  });
  assert.deepEqual(parseEnv({ HUBKEEP_LOG_FORMAT: "pretty", HUBKEEP_LOG_LEVEL: "silent" }).log, {
    format: "pretty",
    level: "silent",
  });
  assert.deepEqual(parseEnv({ HUBKEEP_LOG_FORMAT: "", HUBKEEP_LOG_LEVEL: "" }).log, {
    format: undefined,
    level: "info",
  });
  const bad: Array<[Record<string, string>, string, RegExp]> = [
    [{ HUBKEEP_LOG_FORMAT: "xml" }, "HUBKEEP_LOG_FORMAT", /expected "json" or "pretty" \(got "xml"\)/],
    [
      { HUBKEEP_LOG_LEVEL: "loud" },
      "HUBKEEP_LOG_LEVEL",
      /expected one of fatal, error, warn, info, debug, trace, silent/,
    ],
  ];
  for (const [source, variable, reason] of bad) {
    assert.throws(
      () => parseEnv(source),
      (err: unknown) => err instanceof EnvError && err.variable === variable && reason.test(err.message),
      variable,
    );
  }
});
