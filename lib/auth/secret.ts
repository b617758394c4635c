// The sign-in secret: AUTH_SECRET (or NEXTAUTH_SECRET) when configured; otherwise one generated on
// first use and kept in the data dir (mode 0600), so sessions survive restarts. Replicas sharing a
// database must be given the same AUTH_SECRET.
import fs from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { getEnv } from "../env.ts";

export const SECRET_FILE = "auth-secret";

const cache = globalThis as { __hubkeepAuthSecret?: string };

export function authSecret(): string {
  if (cache.__hubkeepAuthSecret) return cache.__hubkeepAuthSecret;
  const env = getEnv();
  cache.__hubkeepAuthSecret = env.authSecret ?? readOrCreateSecret(env.dataDir);
  return cache.__hubkeepAuthSecret;
}

/** Reads the data dir's secret, creating it atomically (O_EXCL) if it does not exist yet. */
export function readOrCreateSecret(dataDir: string): string {
  const file = path.join(dataDir, SECRET_FILE);
  try {
    const existing = fs.readFileSync(file, "utf8").trim();
    if (existing.length >= 32) return existing;
    throw new Error(`${file} holds a secret shorter than 32 characters; delete it to generate a new one`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  fs.mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString("base64url");
  try {
    fs.writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: "wx" });
    return secret;
  } catch (err) {
    // Another process created it first: use theirs.
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return fs.readFileSync(file, "utf8").trim();
    throw err;
  }
}
