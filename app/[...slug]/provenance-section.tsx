// "Provenance and files": the digest and size, where the version came from, who approved it, its
// downloads and its files.
import { formatBytes } from "@/lib/models/signatures.ts";
import type { VersionView } from "./model-page-view.ts";

const formatUtc = (at: Date | string) => `${new Date(at).toISOString().replace("T", " ").slice(0, 19)} UTC`;

function describeSource(source: VersionView["source"]): string {
  if ("url" in source && source.url)
    return `Mirrored from ${source.url}${source.fetchedAt ? ` at ${formatUtc(source.fetchedAt)}` : ""}.`;
  return `Uploaded by ${"uploadedBy" in source && source.uploadedBy ? source.uploadedBy : "a deleted user"}.`;
}

function Drift({ source }: { source: VersionView["source"] }) {
  if (!("drift" in source) || !source.drift) return null;
  return (
    <p className="notice-warn" data-testid="drift">
      <span className="status status-warn">upstream drift</span> The upstream now serves other bytes under this version
      number (<code>{source.drift.upstreamDigest ?? "unknown digest"}</code>
      {source.checkedAt ? `, found ${formatUtc(source.checkedAt)}` : ""}). The stored bytes, which are what is served
      here, have not changed.
    </p>
  );
}

function describeApproval(view: VersionView): string {
  if (!view.approval) return `Not approved (${view.status}).`;
  return `Approved by ${view.approval.by ?? "a deleted user"} at ${formatUtc(view.approval.at)}${view.approval.note ? ` (“${view.approval.note}”)` : ""}.`;
}

export function ProvenanceSection({ view }: { view: VersionView }) {
  return (
    <section className="card" aria-labelledby="prov">
      <h2 id="prov">Provenance and files</h2>
      <p>
        Digest <code>{view.digest}</code>, {formatBytes(view.size)}. {describeSource(view.source)}{" "}
        {describeApproval(view)} {view.downloads.toLocaleString("en-US")} downloads.
      </p>
      <Drift source={view.source} />
      {view.deletion && (
        <p className="notice-warn">
          <span className="status status-bad">deleted</span> by {view.deletion.by ?? "a retention rule"} at{" "}
          {formatUtc(view.deletion.at)}: {view.deletion.reason}. It is not served any more (410 Gone).
        </p>
      )}
      <ul>
        {view.files.map((f) => (
          <li key={f.path}>
            <code>{f.path}</code> {formatBytes(f.size)}
          </li>
        ))}
      </ul>
    </section>
  );
}
