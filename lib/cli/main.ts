// `npx hubkeep <command>`. Server-host commands (user, token) open the configured database directly
// and print only their result on stdout; messages go to stderr.
import { parseArgs } from "node:util";
import { getEnv, EnvError } from "../env.ts";
import { AppError } from "../errors.ts";
import { parseVersionNumber } from "../handle-path.ts";
import { bootDatabase } from "../server/boot.ts";
import { createApiToken } from "../auth/tokens.ts";
import { createUser } from "../models/users.ts";
import { generatePassword } from "../auth/password.ts";
import { collectGarbage } from "../models/gc.ts";
import { call, mirrorCommand, pushCommand } from "./client.ts";
import { CLI, ROLES, SCOPES, type Role, type TokenScope } from "../auth/principal.ts";

const USAGE = `usage: hubkeep <command>

Server-host commands (use the configured database: DATABASE_URL, or the embedded one in HUBKEEP_DATA_DIR,
through the running server's socket when npm start holds it):
  token create --email <email> --scope <read|publish|admin> [--expires <days>] [--name <name>]
      Creates an API token (creating the user if missing) and prints only the token.
  user create --email <email> --role <viewer|publisher|admin> [--password <pw>]
      Creates a user or changes its role; prints a generated password when none is given.
  mirror <url>
      Asks the server (HUBKEEP_URL, with HUBKEEP_TOKEN) to mirror a tfhub.dev or Kaggle model version
      (a URL without a version: the upstream's latest, and it prints which version that pinned),
      and follows it with a progress bar; prints the final mirror request as JSON on stdout.
  push <handle> <version> <file>
      Uploads a .tar.gz of a SavedModel, TF1 Hub module or TF.js model, or a .tflite, to the server
      (HUBKEEP_URL, HUBKEEP_TOKEN) with a progress bar; prints the new version as JSON.
  approve <handle> <version> [--note <text>] [--override <reason>]
      Approves a validated version (a quarantined one needs --override with a reason); prints the
      result as JSON. Needs an admin token.
  reject <handle> <version> --reason <text>
      Rejects a version, with the reason recorded in the audit log. Needs an admin token.
  gc [--apply] [--grace-hours <h>] [--json]
      Finds blobs no version references and staging leftovers older than the grace period
      (default 24 h). A dry run unless --apply is given (npm run gc -- --apply).
`;

class UsageError extends Error {}

function need<T extends string>(value: string | undefined, name: string, allowed?: readonly T[]): T {
  if (!value) throw new UsageError(`--${name} is required`);
  if (allowed && !allowed.includes(value as T))
    throw new UsageError(`--${name} must be one of ${allowed.join(", ")}, got "${value}"`);
  return value as T;
}

async function withDatabase<T>(fn: () => Promise<T>): Promise<T> {
  const env = getEnv();
  const booted = await bootDatabase(env, { holder: "hubkeep CLI", checkStore: false, share: true });
  try {
    return await fn();
  } finally {
    await booted.db.close();
    booted.release();
  }
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, sub, ...rest] = argv;
  try {
    if (cmd === "token" && sub === "create") {
      const { values } = parseArgs({
        args: rest,
        options: {
          email: { type: "string" },
          scope: { type: "string" },
          expires: { type: "string" },
          name: { type: "string" },
        },
      });
      const email = need(values.email, "email");
      const scope = need<TokenScope>(values.scope, "scope", SCOPES);
      const expires = values.expires === undefined ? undefined : Number(values.expires);
      if (expires !== undefined && !(expires > 0))
        throw new UsageError(`--expires must be a positive number of days, got "${values.expires}"`);
      const created = await withDatabase(() =>
        createApiToken({
          email,
          scope,
          expiresInDays: expires,
          name: values.name,
          createUserIfMissing: true,
          actor: CLI,
        }),
      );
      process.stdout.write(`${created.token}\n`);
      return 0;
    }
    if (cmd === "user" && sub === "create") {
      const { values } = parseArgs({
        args: rest,
        options: { email: { type: "string" }, role: { type: "string" }, password: { type: "string" } },
      });
      const email = need(values.email, "email");
      const role = need<Role>(values.role, "role", ROLES);
      const password = values.password ?? generatePassword();
      const user = await withDatabase(() => createUser({ email, role, password, actor: CLI }));
      process.stderr.write(`user ${user.email} (${user.role})\n`);
      if (!values.password) process.stdout.write(`${password}\n`);
      return 0;
    }
    if (cmd === "mirror") {
      if (!sub || rest.length) throw new UsageError("usage: hubkeep mirror <url>");
      const env = getEnv();
      if (!env.client.url)
        throw new UsageError("set HUBKEEP_URL to the server's base URL (and HUBKEEP_TOKEN to an API token)");
      return mirrorCommand({ url: env.client.url, token: env.client.token }, sub);
    }
    if (cmd === "push") {
      const [handle, version, file, ...extra] = argv.slice(1);
      if (!handle || !version || !file || extra.length || parseVersionNumber(version) === null)
        throw new UsageError("usage: hubkeep push <handle> <version> <file>");
      const env = getEnv();
      if (!env.client.url)
        throw new UsageError("set HUBKEEP_URL to the server's base URL (and HUBKEEP_TOKEN to a publish API token)");
      return pushCommand({ url: env.client.url, token: env.client.token }, handle, Number(version), file);
    }
    if (cmd === "approve" || cmd === "reject") {
      const { values, positionals } = parseArgs({
        args: argv.slice(1),
        allowPositionals: true,
        options: { note: { type: "string" }, override: { type: "string" }, reason: { type: "string" } },
      });
      const [handle, version, ...extra] = positionals;
      if (!handle || !version || extra.length || parseVersionNumber(version) === null)
        throw new UsageError(`usage: hubkeep ${cmd} <handle> <version>${cmd === "reject" ? " --reason <text>" : ""}`);
      if (cmd === "reject" && !values.reason?.trim())
        throw new UsageError("--reason is required: say why the version is rejected");
      const env = getEnv();
      if (!env.client.url)
        throw new UsageError("set HUBKEEP_URL to the server's base URL (and HUBKEEP_TOKEN to an admin API token)");
      const body =
        cmd === "approve"
          ? {
              ...(values.note ? { note: values.note } : {}),
              ...(values.override ? { overrideReason: values.override } : {}),
            }
          : { reason: values.reason };
      const h = handle.replace(/^https?:\/\/[^/]+\//, "").replace(/^\/+|\/+$/g, "");
      const { data } = await call<unknown>(
        { url: env.client.url, token: env.client.token },
        "POST",
        `/api/v1/models/${h}/versions/${version}/${cmd}`,
        body,
      );
      process.stdout.write(`${JSON.stringify(data)}\n`);
      return 0;
    }
    if (cmd === "gc") {
      const { values } = parseArgs({
        args: argv.slice(1),
        options: { apply: { type: "boolean" }, "grace-hours": { type: "string" }, json: { type: "boolean" } },
      });
      const graceHours = values["grace-hours"] === undefined ? 24 : Number(values["grace-hours"]);
      if (!(graceHours >= 0))
        throw new UsageError(`--grace-hours must be a number of hours >= 0, got "${values["grace-hours"]}"`);
      const env = getEnv();
      const booted = await bootDatabase(env, { holder: "hubkeep gc", share: true });
      try {
        const report = await collectGarbage({
          apply: Boolean(values.apply),
          graceSeconds: graceHours * 3600,
          actor: CLI,
        });
        if (values.json) {
          process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        } else {
          const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
          const orphanBytes =
            report.orphanBlobs.reduce((a, b) => a + b.size, 0) +
            report.reclaimable.reduce((a, b) => a + b.size, 0) +
            report.stagingLeftovers.reduce((a, b) => a + b.size, 0);
          process.stdout.write(
            `${report.apply ? "deleted" : "would delete (dry run; pass --apply)"}: ${report.orphanBlobs.length} unreferenced blob(s), ` +
              `${report.orphanRows.length} unreferenced blob row(s), ${report.reclaimable.length} blob(s) only deleted versions held, ` +
              `${report.stagingLeftovers.length} staging leftover(s), ${mb(orphanBytes)}; ` +
              `${report.skippedYoung} younger than ${graceHours} h kept\n`,
          );
          for (const b of report.orphanBlobs)
            process.stdout.write(`  blob    ${b.digest}  ${b.size} bytes  ${b.lastModified}\n`);
          for (const b of report.reclaimable) process.stdout.write(`  deleted ${b.digest}  ${b.size} bytes\n`);
          for (const st of report.stagingLeftovers)
            process.stdout.write(`  staging ${st.id}  ${st.size} bytes  ${st.lastModified}\n`);
        }
      } finally {
        await booted.db.close();
        booted.release();
      }
      return 0;
    }
    if (!cmd || cmd === "help" || cmd === "--help" || cmd === "-h") {
      process.stdout.write(USAGE);
      return cmd ? 0 : 2;
    }
    throw new UsageError(`unknown command "${[cmd, sub].filter(Boolean).join(" ")}"`);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`hubkeep: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    if (err instanceof EnvError || err instanceof AppError || err instanceof Error) {
      process.stderr.write(`hubkeep: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
