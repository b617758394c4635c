import { checkHealth } from "@/lib/health.ts";
import { json } from "@/lib/http/api.ts";

export const dynamic = "force-dynamic";

// GET /healthz: 200 when the database and the blob store answer, 503 naming what is down.
export async function GET() {
  const health = await checkHealth();
  return json(health, { status: health.status === "ok" ? 200 : 503, headers: { "cache-control": "no-store" } });
}
