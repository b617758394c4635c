"use client";
// Drag-and-drop upload with a real progress bar (XMLHttpRequest reports upload progress; fetch does
// not), then the validation result as it arrives (polling the version document).
import { isSettled } from "@/lib/models/version-status.ts";
import { useEffect, useRef, useState } from "react";
import { formText } from "@/lib/http/form-field.ts";

type VersionDoc = {
  handle: string;
  version: number;
  format: string;
  status: string;
  digest: string;
  validation: {
    status: string;
    level: string | null;
    runtime: string | null;
    error?: string;
    findings: Array<{ message?: string }>;
  } | null;
  benchmark: { batches: Array<{ batch: number; p50Ms: number; p95Ms: number }> } | null;
};

function human(n: number): string {
  return n < 1024
    ? `${n} B`
    : n < 1048576
      ? `${(n / 1024).toFixed(1)} KiB`
      : n < 1073741824
        ? `${(n / 1048576).toFixed(1)} MiB`
        : `${(n / 1073741824).toFixed(2)} GiB`;
}

export function UploadForm({
  suggestion,
  namespaces,
  maxBytes,
}: {
  suggestion: string;
  namespaces: string[];
  maxBytes: string;
}) {
  const [file, setFile] = useState<File | null>(null);
  const [dragging, setDragging] = useState(false);
  const [sent, setSent] = useState<{ loaded: number; total: number } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [doc, setDoc] = useState<VersionDoc | null>(null);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (!doc || isSettled(doc.status)) return;
    const poll = async () => {
      const r = await fetch(`/api/v1/models/${doc.handle}/versions/${doc.version}`, { cache: "no-store" });
      if (r.ok) setDoc(await r.json());
    };
    const t = setTimeout(() => void poll().catch(() => {}), 700);
    return () => clearTimeout(t);
  }, [doc]);

  const submit = (e: React.FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const handle = formText(form, "handle")
      .trim()
      .replace(/^\/+|\/+$/g, "")
      .toLowerCase();
    const version = formText(form, "version").trim();
    if (!file) return setError("Choose a file first.");
    setError(null);
    setDoc(null);
    setBusy(true);
    const xhr = new XMLHttpRequest();
    xhr.open(
      "PUT",
      `/api/v1/models/${handle.split("/").map(encodeURIComponent).join("/")}/versions/${encodeURIComponent(version)}`,
    );
    xhr.setRequestHeader("content-type", "application/octet-stream");
    xhr.upload.onprogress = (ev) => setSent({ loaded: ev.loaded, total: ev.lengthComputable ? ev.total : file.size });
    xhr.onerror = () => {
      setBusy(false);
      setError("The upload did not reach the server (connection closed). Is the file over the size limit?");
    };
    xhr.onload = () => {
      setBusy(false);
      let body: { error?: { message?: string } } & Partial<VersionDoc> = {};
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        /* not JSON */
      }
      if (xhr.status === 200 || xhr.status === 201) setDoc(body as VersionDoc);
      else setError(`${xhr.status}: ${body.error?.message ?? xhr.statusText}`);
    };
    setSent({ loaded: 0, total: file.size });
    xhr.send(file);
  };

  const pct = sent && sent.total ? Math.round((sent.loaded / sent.total) * 100) : 0;
  return (
    <div className="stack">
      <form className="card stack" onSubmit={submit}>
        <div className="row-form tight">
          <label className="grow">
            Handle
            <input
              name="handle"
              required
              defaultValue={suggestion}
              placeholder="internal/team/model-name"
              pattern="[A-Za-z0-9._\-]+(/[A-Za-z0-9._\-]+)+"
            />
          </label>
          <label>
            Version
            <input name="version" type="number" min={1} step={1} required defaultValue={1} />
          </label>
        </div>
        <p className="meta">
          Your namespaces: {namespaces.join(", ")}. Limit: {maxBytes}.
        </p>
        <div
          className={`dropzone${dragging ? " dragging" : ""}`}
          role="button"
          tabIndex={0}
          aria-label="Choose a model file, or drop one here"
          onClick={() => input.current?.click()}
          onKeyDown={(e) => (e.key === "Enter" || e.key === " ") && (e.preventDefault(), input.current?.click())}
          onDragOver={(e) => {
            e.preventDefault();
            setDragging(true);
          }}
          onDragLeave={() => setDragging(false)}
          onDrop={(e) => {
            e.preventDefault();
            setDragging(false);
            if (e.dataTransfer.files[0]) setFile(e.dataTransfer.files[0]);
          }}
        >
          {file ? (
            <span>
              <strong>{file.name}</strong> · {human(file.size)}
            </span>
          ) : (
            <span>Drop a .tar.gz or .tflite here, or click to choose</span>
          )}
          <input
            ref={input}
            type="file"
            name="file"
            accept=".gz,.tgz,.tar,.tflite,application/gzip"
            hidden
            onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)}
            data-testid="file-input"
          />
        </div>
        {sent && (
          <div>
            <progress max={100} value={pct} aria-label="Upload progress" data-testid="upload-progress" />
            <div className="meta">
              {pct}% · {human(sent.loaded)} of {human(sent.total)}
            </div>
          </div>
        )}
        {error && (
          <div className="flash flash-error" role="alert">
            {error}
          </div>
        )}
        <button className="btn btn-primary" disabled={busy}>
          {busy ? "Uploading…" : "Upload"}
        </button>
      </form>
      {doc && (
        <section className="card" aria-live="polite" data-testid="upload-result">
          <h2>
            <a href={`/${doc.handle}/${doc.version}`}>
              {doc.handle} v{doc.version}
            </a>
          </h2>
          <p>
            {doc.format} · <code>{doc.digest.slice(0, 19)}…</code> · status{" "}
            <strong data-testid="upload-status">{doc.status}</strong>
          </p>
          {!isSettled(doc.status) && <p className="meta">Validating in the sandbox…</p>}
          {doc.validation && isSettled(doc.status) && (
            <p>
              Validation {doc.validation.status}, level {doc.validation.level ?? "—"}
              {doc.validation.runtime ? ` (${doc.validation.runtime})` : ""}
              {doc.validation.error ? `: ${doc.validation.error}` : ""}
              {doc.benchmark?.batches[0] ? ` · p50 ${doc.benchmark.batches[0].p50Ms.toFixed(2)} ms` : ""}.{" "}
              {doc.status === "validated" ? "It now waits for an admin's approval." : ""}
            </p>
          )}
          {doc.validation?.findings?.length ? (
            <ul>
              {doc.validation.findings.map((f, i) => (
                <li key={i}>{f.message}</li>
              ))}
            </ul>
          ) : null}
        </section>
      )}
    </div>
  );
}
