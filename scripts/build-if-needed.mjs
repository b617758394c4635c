// Builds the web app when its sources changed since the last build, or it was never built.
// Used by `npm start` and `npm test`. Generates the Prisma client first if it is missing.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const INPUTS = ["app", "lib", "public", "next.config.js", "tsconfig.json", "package-lock.json", "prisma/schema.prisma"];
const SKIP = new Set(["generated", "node_modules"]);

function hashInputs() {
  const h = createHash("sha256");
  const walk = (rel) => {
    const abs = path.join(root, rel);
    if (!fs.existsSync(abs)) return;
    if (fs.statSync(abs).isDirectory()) {
      for (const name of fs.readdirSync(abs).sort()) if (!SKIP.has(name)) walk(path.join(rel, name));
    } else {
      h.update(`${rel}\0`).update(fs.readFileSync(abs)).update("\0");
    }
  };
  INPUTS.forEach(walk);
  return h.digest("hex");
}

function run(args) {
  const r = spawnSync(process.execPath, args, {
    cwd: root,
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" },
  });
  if (r.status !== 0) {
    process.stderr.write(`hubkeep: ${path.basename(args[0])} ${args.slice(1).join(" ")} failed\n`);
    process.exit(r.status ?? 1);
  }
}

// Two processes started together on a fresh clone (two `npm start`s, or a server test beside
// another) must not run `next build` into one .next folder at once: the first takes a lock (a
// folder holding its pid), the others wait for it and then find the build current.
const LOCK = path.join(root, ".next-build.lock");

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === "EPERM";
  }
}

function sleep(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function takeBuildLock() {
  let told = false;
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    try {
      fs.mkdirSync(LOCK);
      fs.writeFileSync(path.join(LOCK, "pid"), String(process.pid));
      return () => fs.rmSync(LOCK, { recursive: true, force: true });
    } catch (err) {
      if (err.code !== "EEXIST") throw err;
    }
    let pid = 0;
    try {
      pid = Number(fs.readFileSync(path.join(LOCK, "pid"), "utf8"));
    } catch {
      /* being written or removed */
    }
    const age = (() => {
      try {
        return Date.now() - fs.statSync(LOCK).mtimeMs;
      } catch {
        return 0;
      }
    })();
    // A lock whose holder died (or that never got its pid written within 10 s) is stale.
    if ((pid && !alive(pid)) || (!pid && age > 10_000)) {
      fs.rmSync(LOCK, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) {
      process.stderr.write(
        `hubkeep: another process (pid ${pid}) has been building the web app for 15 minutes; remove ${LOCK} if it is gone\n`,
      );
      process.exit(1);
    }
    if (!told) {
      process.stdout.write(`hubkeep: waiting for another process (pid ${pid}) to finish building the web app\n`);
      told = true;
    }
    sleep(250);
  }
}

function current(want) {
  const stampFile = path.join(root, ".next", "hubkeep-build-hash");
  const have = fs.existsSync(stampFile) ? fs.readFileSync(stampFile, "utf8") : "";
  return want === have && fs.existsSync(path.join(root, ".next", "BUILD_ID"));
}

export function buildIfNeeded() {
  if (!fs.existsSync(path.join(root, "lib/db/generated/client.ts")))
    run([path.join(root, "scripts/prisma-generate.mjs")]);
  const want = hashInputs();
  if (current(want)) return false;
  const release = takeBuildLock();
  try {
    if (current(hashInputs())) return false;
    process.stdout.write("hubkeep: building the web app (first start, or its sources changed)\n");
    const building = hashInputs();
    run([path.join(root, "node_modules/next/dist/bin/next"), "build"]);
    fs.writeFileSync(path.join(root, ".next", "hubkeep-build-hash"), building);
    return true;
  } finally {
    release();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) buildIfNeeded();
