// The first path segments that are never a handle: Next's own `/_next`, and every top-level segment
// the app/ tree routes, read from the checkout the server runs from (lib/server/main.ts serves the
// same directory with Next). A hub path starting with one of them is left to the web app.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The project's root: the directory holding app/ (and public/, when there is one). */
export const PROJECT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

const ROUTE_FILE = /^(page|route)\.(js|jsx|ts|tsx|md|mdx)$/;
const SOURCE_FILE = /\.(js|jsx|ts|tsx|mjs|cjs|md|mdx|css|scss|sass)$/;

function holdsRoute(dir: string): boolean {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.isFile() && ROUTE_FILE.test(e.name)) return true;
    if (e.isDirectory() && !e.name.startsWith("_") && holdsRoute(path.join(dir, e.name))) return true;
  }
  return false;
}

function addTopLevel(dir: string, out: Set<string>): void {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const name = e.name;
    if (e.isDirectory()) {
      // `[slug]` is a parameter, `_x` is private (not routed); `(group)` and `@slot` add no segment.
      if (name.startsWith("[") || name.startsWith("_")) continue;
      if (name.startsWith("(") || name.startsWith("@")) addTopLevel(path.join(dir, name), out);
      else if (holdsRoute(path.join(dir, name))) out.add(name);
    } else if (!SOURCE_FILE.test(name)) {
      out.add(name); // a metadata file Next serves by its name: favicon.ico, robots.txt, ...
    }
  }
}

/**
 * The reserved first segments for the project at `projectDir`: `_next`, each top-level folder of
 * app/ that holds a page or route (through groups), app/'s static root files, and public/'s entries.
 */
export function readReservedSegments(projectDir = PROJECT_DIR): Set<string> {
  const out = new Set(["_next"]);
  addTopLevel(path.join(projectDir, "app"), out);
  const publicDir = path.join(projectDir, "public");
  if (fs.existsSync(publicDir)) for (const name of fs.readdirSync(publicDir)) out.add(name);
  return out;
}
