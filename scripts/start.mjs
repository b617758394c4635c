#!/usr/bin/env node
// `npm start`: builds the web app if needed, then runs the server entry (lib/server/main.ts) in this
// process. Nothing is downloaded.
import path from "node:path";
import { pathToFileURL } from "node:url";
import { buildIfNeeded, root } from "./build-if-needed.mjs";

process.env.NEXT_TELEMETRY_DISABLED = "1";
buildIfNeeded();
const { register } = await import("tsx/esm/api");
register();
await import(pathToFileURL(path.join(root, "lib/server/main.ts")).href);
