// CLI commands that talk to a running server (HUBKEEP_URL, HUBKEEP_TOKEN).
import { AppError } from "../errors.ts";

export type ClientConfig = { url: string; token?: string };

export async function call<T>(cfg: ClientConfig, method: string, path: string, body?: unknown): Promise<{ status: number; data: T }> {
  let res: Response;
  try {
    res = await fetch(`${cfg.url}${path}`, {
      method,
      headers: { ...(cfg.token ? { authorization: `Bearer ${cfg.token}` } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new AppError("service_unavailable", `cannot reach ${cfg.url}: ${(err as Error).message}`);
  }
  const text = await res.text();
  let data: unknown = text;
  try {
    data = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  if (!res.ok) {
    const msg = (data as { error?: { message?: string } })?.error?.message ?? `HTTP ${res.status}`;
    throw new AppError("bad_request", `${res.status}: ${msg}`);
  }
  return { status: res.status, data: data as T };
}

function bar(done: number, total: number | null, width = 30): string {
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
  if (!total) return `${mb(done)}`;
  const f = Math.min(1, done / total);
  const filled = Math.round(f * width);
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${(f * 100).toFixed(0).padStart(3)}% ${mb(done)} / ${mb(total)}`;
}

type MirrorView = { id: string; handle: string; version: number; status: string; bytesDone: number; bytesTotal: number | null; error?: string };

/** `hubkeep mirror <url>`: requests a mirror and follows it to the end, with a progress bar on a TTY. */
export async function mirrorCommand(cfg: ClientConfig, url: string, opts: { pollMs?: number; out?: NodeJS.WriteStream } = {}): Promise<number> {
  const out = opts.out ?? process.stderr;
  const tty = Boolean(out.isTTY);
  let { data: m } = await call<MirrorView>(cfg, "POST", "/api/v1/mirrors", { url });
  out.write(`mirror ${m.id}: ${m.handle} version ${m.version} (${m.status})\n`);
  let lastLine = "";
  while (m.status === "queued" || m.status === "fetching") {
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 500));
    ({ data: m } = await call<MirrorView>(cfg, "GET", `/api/v1/mirrors/${m.id}`));
    const line = `${m.status.padEnd(8)} ${bar(m.bytesDone, m.bytesTotal)}`;
    if (tty) out.write(`\r${line}\x1b[K`);
    else if (line !== lastLine && m.status === "fetching") out.write(`${line}\n`);
    lastLine = line;
  }
  if (tty) out.write("\n");
  if (m.status === "failed") {
    out.write(`failed: ${m.error ?? "unknown error"}\n`);
    return 1;
  }
  out.write(`stored: ${m.handle} version ${m.version} (${bar(m.bytesDone, m.bytesTotal)}); it is validated next, then waits for an admin's approval\n`);
  process.stdout.write(`${JSON.stringify(m)}\n`);
  return 0;
}
