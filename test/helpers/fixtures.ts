// The real model fixtures live outside the repo, in ../shared/fixtures (never copied in).
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const FIXTURES = process.env.HUBKEEP_FIXTURES ?? path.resolve(ROOT, "../shared/fixtures");

export function fixturePath(...parts: string[]): string {
  const p = path.join(FIXTURES, ...parts);
  if (!fs.existsSync(p))
    throw new Error(`fixture ${p} is missing: ../shared/fixtures must sit beside the repo (or set HUBKEEP_FIXTURES)`);
  return p;
}

/** Every regular file under a fixture folder, as paths relative to it, sorted. */
export function listFixtureFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else if (e.isFile()) out.push(r);
    }
  };
  walk("");
  return out.sort();
}
