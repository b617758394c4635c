#!/usr/bin/env node
// The `hubkeep` CLI (package.json bin). The commands live in lib/cli/; tsx loads them as TypeScript.
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { register } from "tsx/esm/api";

register();
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const { main } = await import(pathToFileURL(path.join(root, "lib/cli/main.ts")).href);
process.exitCode = await main(process.argv.slice(2));
