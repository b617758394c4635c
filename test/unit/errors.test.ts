import { test } from "node:test";
import assert from "node:assert/strict";
import { z } from "zod";
import { AppError, ERROR_STATUS, toAppError, toErrorResponse, toLoggedAppError } from "../../lib/errors.ts";
import { createLogger, setLogger } from "../../lib/log.ts";

function prismaError(code: string, meta?: Record<string, unknown>) {
  return Object.assign(new Error("\nInvalid `prisma.x.create()` invocation: secret internals"), {
    name: "PrismaClientKnownRequestError",
    code,
    meta,
    clientVersion: "7",
  });
}

test("the code table holds the contract's statuses", () => {
  assert.equal(ERROR_STATUS.bad_request, 400);
  assert.equal(ERROR_STATUS.unauthorized, 401);
  assert.equal(ERROR_STATUS.forbidden, 403);
  assert.equal(ERROR_STATUS.not_found, 404);
  assert.equal(ERROR_STATUS.conflict, 409);
  assert.equal(ERROR_STATUS.method_not_allowed, 405);
  assert.equal(ERROR_STATUS.payload_too_large, 413);
  assert.equal(ERROR_STATUS.range_not_satisfiable, 416);
  assert.equal(ERROR_STATUS.unprocessable_entity, 422);
  assert.equal(ERROR_STATUS.upstream_error, 502);
  assert.equal(ERROR_STATUS.upstream_unavailable, 503);
});

test("AppError keeps its code and status", async () => {
  const res = toErrorResponse(new AppError("forbidden", "needs admin"));
  assert.equal(res.status, 403);
  assert.deepEqual(await res.json(), { error: { code: "forbidden", message: "needs admin" } });
});

test("ZodError becomes 422 naming the field", async () => {
  const err = z.object({ reason: z.string().min(1) }).safeParse({ reason: "" }).error!;
  const res = toErrorResponse(err);
  assert.equal(res.status, 422);
  const body = (await res.json()) as { error: { code: string; message: string } };
  assert.equal(body.error.code, "unprocessable_entity");
  assert.match(body.error.message, /^reason: /);
});

test("Prisma P2002 becomes 409 and P2025 404, by code not message", () => {
  assert.equal(toAppError(prismaError("P2002", { target: ["moduleId", "number"] })).status, 409);
  assert.equal(toAppError(prismaError("P2025")).status, 404);
  assert.equal(toAppError(prismaError("P2003")).status, 500);
});

test("unknown errors are a 500 that leaks nothing", async () => {
  const original = console.error;
  console.error = () => {};
  try {
    const res = toErrorResponse(new Error("password=hunter2 at /srv/secret.ts:12"));
    assert.equal(res.status, 500);
    const text = await res.text();
    assert.equal(text, JSON.stringify({ error: { code: "internal_error", message: "internal error" } }));
    const prismaRes = toErrorResponse(prismaError("P2003"));
    assert.ok(!(await prismaRes.text()).includes("secret internals"));
  } finally {
    console.error = original;
  }
});

test("an error's details (e.g. a version's current status on a 409) go in the body beside code and message", async () => {
  const res = toErrorResponse(
    new AppError("conflict", "google/x/1 is failed: only validated versions can be approved", { status: "failed" }),
  );
  assert.equal(res.status, 409);
  assert.deepEqual(await res.json(), {
    error: {
      code: "conflict",
      message: "google/x/1 is failed: only validated versions can be approved",
      details: { status: "failed" },
    },
  });
});

test("the hub and the API share the mapper; what it cannot map is logged once, with its context", () => {
  const logged: Array<{ level: string; msg: string; err?: { message: string }; requestId: string | null }> = [];
  const destination = { write: (line: string) => void logged.push(JSON.parse(line)) };
  setLogger(createLogger({ format: "json", level: "info", destination }));
  try {
    const known = new AppError("not_found", "no model google/x");
    assert.equal(toLoggedAppError(known, "download failed"), known);
    assert.equal(toLoggedAppError(prismaError("P2025"), "download failed").status, 404);
    assert.equal(logged.length, 0);
    const cause = new Error("disk on fire");
    const mapped = toLoggedAppError(cause, "download failed", "req-7");
    assert.equal(mapped.status, 500);
    assert.equal(mapped.message, "internal error");
    assert.deepEqual(
      logged.map((l) => [l.level, l.msg, l.err?.message, l.requestId]),
      [["error", "hubkeep: download failed", "disk on fire", "req-7"]],
    );
  } finally {
    setLogger(undefined);
  }
});
