// `npm run db:migrate` applies pending migrations to the configured database (embedded when
// DATABASE_URL is unset). `npm run db:diff -- <name>` creates the next migration from schema.prisma;
// `npm run db:diff -- --check` exits 1 when schema.prisma has changes no migration holds.
import path from "node:path";
import { getEnvOrExit } from "../lib/env.ts";
import { openDatabase } from "../lib/db/client.ts";
import { applyMigrations, createMigration, hasPendingSchemaChange } from "../lib/db/migrate.ts";

const [cmd, arg] = process.argv.slice(2);

if (cmd === "migrate") {
  const env = getEnvOrExit();
  try {
    const handle = await openDatabase({ databaseUrl: env.databaseUrl, pgliteDir: path.join(env.dataDir, "pgdata") });
    const applied = await applyMigrations(handle.adapterFactory);
    console.log(
      applied.length
        ? `applied ${applied.length} migration(s) to ${handle.describe}: ${applied.join(", ")}`
        : `${handle.describe} is up to date`,
    );
    await handle.close();
  } catch (err) {
    console.error(`hubkeep: migrate failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
} else if (cmd === "diff") {
  if (arg === "--check") {
    const pending = await hasPendingSchemaChange();
    console.log(
      pending
        ? "schema.prisma has changes without a migration: run npm run db:diff -- <name>"
        : "migrations match schema.prisma",
    );
    process.exit(pending ? 1 : 0);
  }
  if (!arg) {
    console.error("usage: npm run db:diff -- <migration_name> | --check");
    process.exit(2);
  }
  const dir = await createMigration(arg);
  console.log(
    dir ? `created ${path.relative(process.cwd(), dir)}/migration.sql` : "no schema changes: nothing to create",
  );
} else {
  console.error("usage: tsx scripts/db.ts migrate | diff <name> | diff --check");
  process.exit(2);
}
