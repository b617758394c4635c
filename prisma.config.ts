// Prisma CLI configuration. DATABASE_URL is read with a default because `env()` throws when it
// is unset, and the embedded default (PGlite) runs without it. Migrations are applied by
// lib/db/migrate.ts through the Wasm schema engine, not by the native CLI engine.
import { defineConfig } from "prisma/config";

export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  datasource: { url: process.env.DATABASE_URL ?? "postgresql://localhost:5432/hubkeep" },
});
