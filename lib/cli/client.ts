// CLI commands that talk to a running server (HUBKEEP_URL, HUBKEEP_TOKEN).
import { AppError } from "../errors.ts";
import { parseModelUrl } from "../upstream/handles.ts";

export type ClientConfig = { url: string; token?: string };

export async function call<T>(
  cfg: ClientConfig,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; data: T }> {
  let res: Response;
  try {
    res = await fetch(`${cfg.url}${path}`, {
      method,
      headers: {
        ...(cfg.token ? { authorization: `Bearer ${cfg.token}` } : {}),
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
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

type MirrorView = {
  id: string;
  handle: string;
  version: number;
  status: string;
  bytesDone: number;
  bytesTotal: number | null;
  error?: string;
};

function isUnversioned(url: string): boolean {
  try {
    return parseModelUrl(url).version === "latest";
  } catch {
    return false; // the server says what is wrong with it
  }
}

/** `hubkeep mirror <url>`: requests a mirror and follows it to the end, with a progress bar on a TTY. */
export async function mirrorCommand(
  cfg: ClientConfig,
  url: string,
  opts: { pollMs?: number; out?: NodeJS.WriteStream } = {},
): Promise<number> {
  const out = opts.out ?? process.stderr;
  const tty = Boolean(out.isTTY);
  let { data: m } = await call<MirrorView>(cfg, "POST", "/api/v1/mirrors", { url });
  // An unversioned URL means the upstream's latest: the server pinned it; say which.
  const pinned = isUnversioned(url);
  out.write(
    `mirror ${m.id}: ${m.handle} version ${m.version}${pinned ? " (the upstream's latest, pinned)" : ""} (${m.status})\n`,
  );
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
  out.write(
    `stored: ${m.handle} version ${m.version} (${bar(m.bytesDone, m.bytesTotal)}); it is validated next, then waits for an admin's approval\n`,
  );
  process.stdout.write(`${JSON.stringify(m)}\n`);
  return 0;
}

/**
 * `hubkeep push <handle> <version> <file>`: streams a .tar.gz or .tflite to
 * PUT /api/v1/models/{handle}/versions/{n} with a progress bar on a TTY, then prints the version
 * document (status `pending`: it is validated, then waits for an admin) as JSON on stdout.
 */
export async function pushCommand(
  cfg: ClientConfig,
  handle: string,
  version: number,
  file: string,
  opts: { out?: NodeJS.WriteStream } = {},
): Promise<number> {
  const fs = await import("node:fs");
  const { Readable } = await import("node:stream");
  const out = opts.out ?? process.stderr;
  const tty = Boolean(out.isTTY);
  let size: number;
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) throw new Error("not a regular file");
    size = st.size;
  } catch (err) {
    throw new AppError("bad_request", `cannot read ${file}: ${(err as Error).message}`);
  }
  let sent = 0;
  let lastDraw = 0;
  const draw = (final = false) => {
    if (!tty && !final) return;
    const line = `upload   ${bar(sent, size)}`;
    out.write(tty ? `\r${line}\x1b[K${final ? "\n" : ""}` : `${line}\n`);
  };
  const source = fs.createReadStream(file);
  source.on("data", (c) => {
    sent += c.length;
    if (Date.now() - lastDraw > 100) {
      lastDraw = Date.now();
      draw();
    }
  });
  const h = handle.replace(/^https?:\/\/[^/]+\//, "").replace(/^\/+|\/+$/g, "");
  let res: Response;
  try {
    res = await fetch(`${cfg.url}/api/v1/models/${h}/versions/${version}`, {
      method: "PUT",
      headers: {
        ...(cfg.token ? { authorization: `Bearer ${cfg.token}` } : {}),
        "content-type": "application/octet-stream",
        "content-length": String(size),
      },
      body: Readable.toWeb(source) as ReadableStream,
      duplex: "half",
    } as RequestInit);
  } catch (err) {
    throw new AppError("service_unavailable", `cannot reach ${cfg.url}: ${(err as Error).message}`);
  }
  draw(true);
  const text = await res.text();
  let data: { error?: { message?: string }; status?: string; digest?: string } = {};
  try {
    data = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  if (!res.ok) {
    out.write(`push failed: ${res.status}: ${data.error?.message ?? text.slice(0, 200)}\n`);
    return 1;
  }
  out.write(
    `${res.status === 201 ? "uploaded" : "already there (same bytes)"}: ${h} version ${version}, ${data.digest}; status ${data.status}: it is validated, then waits for an admin's approval\n`,
  );
  process.stdout.write(`${text}\n`);
  return 0;
}
