#!/usr/bin/env node
// `npm start`: builds the web app when its sources changed since the last build (or it was never
// built), then runs the server entry (lib/server/main.ts) in this process. Nothing is downloaded.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
process.env.NEXT_TELEMETRY_DISABLED = "1";

const INPUTS = ["app", "lib", "public", "next.config.js", "tsconfig.json", "package-lock.json", "prisma/schema.prisma"];
const SKIP = new Set(["generated", "node_modules"]);

function hashInputs() {
  const h = createHash("sha256");
  const walk = (rel) => {
    const abs = path.join(root, rel);
    if (!fs.existsSync(abs)) return;
    const st = fs.statSync(abs);
    if (st.isDirectory()) {
      for (const name of fs.readdirSync(abs).sort()) if (!SKIP.has(name)) walk(path.join(rel, name));
    } else {
      h.update(`${rel}\0${st.size}\0`).update(fs.readFileSync(abs));
    }
  };
  INPUTS.forEach(walk);
  return h.digest("hex");
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit", env: process.env });
  if (r.status !== 0) {
    process.stderr.write(`hubkeep: ${path.basename(args[0] ?? cmd)} ${args.slice(1).join(" ")} failed\n`);
    process.exit(r.status ?? 1);
  }
}

if (!fs.existsSync(path.join(root, "lib/db/generated/client.ts"))) {
  run(process.execPath, [path.join(root, "scripts/prisma-generate.mjs")]);
}
const stampFile = path.join(root, ".next", "hubkeep-build-hash");
const want = hashInputs();
const have = fs.existsSync(stampFile) ? fs.readFileSync(stampFile, "utf8") : "";
if (want !== have || !fs.existsSync(path.join(root, ".next", "BUILD_ID"))) {
  process.stdout.write("hubkeep: building the web app (first start or sources changed)\n");
  run(process.execPath, [path.join(root, "node_modules/next/dist/bin/next"), "build"]);
  fs.writeFileSync(stampFile, want);
}

const { register } = await import("tsx/esm/api");
register();
await import(pathToFileURL(path.join(root, "lib/server/main.ts")).href);
