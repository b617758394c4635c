"use client";
// Live progress of one mirror request: polls GET /api/v1/mirrors/{id} (the same JSON API scripts use)
// while it downloads, then the version's validation until a decision can be made.
import { isSettled } from "@/lib/models/version-status.ts";
import { useEffect, useState } from "react";

type Mirror = {
  id: string;
  handle: string;
  version: number | null;
  status: string;
  bytesDone: number;
  bytesTotal: number | null;
  error?: string;
};
type Version = {
  status: string;
  validation: { status: string; level: string | null; error?: string } | null;
  benchmark: { batches: Array<{ batch: number; p50Ms: number }> } | null;
};

function size(n: number) {
  return n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`;
}

export function MirrorProgress({ id }: { id: string }) {
  const [mirror, setMirror] = useState<Mirror | null>(null);
  const [version, setVersion] = useState<Version | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let stop = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      try {
        const r = await fetch(`/api/v1/mirrors/${encodeURIComponent(id)}`, { cache: "no-store" });
        const body = await r.json();
        if (!r.ok) throw new Error(body?.error?.message ?? `HTTP ${r.status}`);
        if (stop) return;
        setMirror(body);
        setError(null);
        let finished = body.status === "failed";
        if (body.status === "stored" && body.version !== null) {
          const vr = await fetch(`/api/v1/models/${body.handle}/versions/${body.version}`, { cache: "no-store" });
          if (vr.ok) {
            const v = (await vr.json()) as Version;
            if (stop) return;
            setVersion(v);
            finished = isSettled(v.status);
          }
        }
        if (!finished) timer = setTimeout(() => void tick(), 700);
      } catch (err) {
        if (stop) return;
        setError((err as Error).message);
        timer = setTimeout(() => void tick(), 2000);
      }
    };
    void tick();
    return () => {
      stop = true;
      if (timer) clearTimeout(timer);
    };
  }, [id]);

  const pct = mirror?.bytesTotal ? Math.min(100, Math.round((mirror.bytesDone / mirror.bytesTotal) * 100)) : null;
  return (
    <section
      className="card progress-card"
      aria-live="polite"
      aria-busy={!version || !isSettled(version.status)}
      data-testid="mirror-progress"
    >
      <h2>
        {mirror ? (
          <>
            {mirror.handle}
            {mirror.version !== null ? ` v${mirror.version}` : ""}
          </>
        ) : (
          "Loading…"
        )}
      </h2>
      {error && (
        <p className="error-text" role="alert">
          Could not read progress: {error} (retrying)
        </p>
      )}
      {mirror && (
        <>
          <p>
            Download: <strong data-testid="mirror-status">{mirror.status}</strong> · {size(mirror.bytesDone)}
            {mirror.bytesTotal ? ` of ${size(mirror.bytesTotal)}` : ""}
          </p>
          <progress
            max={100}
            value={mirror.status === "stored" ? 100 : (pct ?? undefined)}
            aria-label="Download progress"
          >
            {pct ?? 0}%
          </progress>
          {mirror.error && <p className="error-text">{mirror.error}</p>}
        </>
      )}
      {version && (
        <p>
          Validation: <strong data-testid="version-status">{version.status}</strong>
          {version.validation?.level ? ` (level ${version.validation.level})` : ""}
          {version.benchmark?.batches[0]
            ? ` · p50 ${version.benchmark.batches[0].p50Ms.toFixed(2)} ms at batch ${version.benchmark.batches[0].batch}`
            : ""}
          {version.validation?.error ? ` · ${version.validation.error}` : ""}
          {isSettled(version.status) && (
            <>
              {" "}
              · <a href="/admin">Go to the review queue</a>
            </>
          )}
        </p>
      )}
    </section>
  );
}
