// Small shared pieces of the UI (server components).
import type { ReactNode } from "react";
import type { OpRow } from "@/lib/models/signatures.ts";

export type SearchParams = Promise<Record<string, string | string[] | undefined>>;

export function param(sp: Record<string, string | string[] | undefined>, key: string): string | undefined {
  const v = sp[key];
  return Array.isArray(v) ? v[0] : v;
}

/** The outcome of the last action (?notice= / ?error=), announced to screen readers. */
export function Flash({ notice, error }: { notice?: string; error?: string }) {
  if (error) {
    return (
      <div className="flash flash-error" role="alert">
        {error}
      </div>
    );
  }
  if (notice) {
    return (
      <div className="flash flash-ok" role="status">
        {notice}
      </div>
    );
  }
  return null;
}

export function Forbidden({ message }: { message: string }) {
  return (
    <div className="card empty" role="alert">
      <h1>Not allowed</h1>
      <p>{message}</p>
      <p>
        <a href="/">Back to the catalogue</a>
      </p>
    </div>
  );
}

const STATUS_TONE: Record<string, string> = {
  approved: "ok",
  validated: "ok",
  passed: "ok",
  stored: "ok",
  active: "ok",
  quarantined: "warn",
  pending: "info",
  validating: "info",
  queued: "info",
  fetching: "info",
  running: "info",
  failed: "bad",
  rejected: "bad",
  deleted: "bad",
  error: "bad",
  denied: "bad",
  revoked: "bad",
  expired: "warn",
  ok: "ok",
};

export function Status({ value }: { value: string | null | undefined }) {
  const v = value ?? "none";
  return <span className={`status status-${STATUS_TONE[v] ?? "info"}`}>{v}</span>;
}

export function When({ at }: { at: Date | string | null | undefined }) {
  if (!at) return <span className="muted">never</span>;
  const d = typeof at === "string" ? new Date(at) : at;
  const iso = d.toISOString();
  return <time dateTime={iso}>{iso.replace("T", " ").slice(0, 19)} UTC</time>;
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="card empty">
      <p className="empty-title">{title}</p>
      {children}
    </div>
  );
}

/** The ops that keep a model from running in TF.js, each emphasised with why (model page and review queue). */
export function BlockingOps({ ops }: { ops: OpRow[] }) {
  return (
    <>
      {ops.map((o, i) => (
        <span key={o.op}>
          {i > 0 ? ", " : ""}
          <strong className="blocking-op">
            <code>{o.op}</code>
          </strong>{" "}
          ({o.support === "custom" ? "custom op, not TensorFlow core" : "not in TF.js"})
        </span>
      ))}
    </>
  );
}
