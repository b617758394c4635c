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
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" } });
  if (r.status !== 0) {
    process.stderr.write(`hubkeep: ${path.basename(args[0])} ${args.slice(1).join(" ")} failed\n`);
    process.exit(r.status ?? 1);
  }
}

export function buildIfNeeded() {
  if (!fs.existsSync(path.join(root, "lib/db/generated/client.ts"))) run([path.join(root, "scripts/prisma-generate.mjs")]);
  const stampFile = path.join(root, ".next", "hubkeep-build-hash");
  const want = hashInputs();
  const have = fs.existsSync(stampFile) ? fs.readFileSync(stampFile, "utf8") : "";
  if (want === have && fs.existsSync(path.join(root, ".next", "BUILD_ID"))) return false;
  process.stdout.write("hubkeep: building the web app (first start, or its sources changed)\n");
  run([path.join(root, "node_modules/next/dist/bin/next"), "build"]);
  fs.writeFileSync(stampFile, want);
  return true;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) buildIfNeeded();
