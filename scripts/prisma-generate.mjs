#!/usr/bin/env node
// Runs `prisma generate` with no network. The CLI insists on a schema engine binary being present
// and otherwise downloads one; generate never calls it, so any existing file satisfies the check.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const env = {
  ...process.env,
  PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? process.execPath,
  PRISMA_HIDE_UPDATE_MESSAGE: "1",
  CHECKPOINT_DISABLE: "1",
  PRISMA_DISABLE_WARNINGS: "1",
};
const cli = require.resolve("prisma/build/index.js");
const r = spawnSync(process.execPath, [cli, "generate"], { stdio: "inherit", env });
process.exit(r.status ?? 1);
