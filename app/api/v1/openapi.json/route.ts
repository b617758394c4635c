import { apiRoute, json } from "@/lib/http/api.ts";
import { openApiDocument } from "@/lib/http/openapi.ts";
import { getEnv } from "@/lib/env.ts";

export const dynamic = "force-dynamic";

// GET /api/v1/openapi.json: the JSON API, generated from the zod schemas the routes use.
export const GET = apiRoute(null, async () => json(openApiDocument(getEnv().publicUrl)));
