import { RULES } from "@/lib/auth/permissions.ts";
import { guardPage } from "@/lib/http/page-context.ts";
import { listQuotas, readStorageByNamespace, QUOTA_WARNING_RATIO, type QuotaView } from "@/lib/models/quotas.ts";
import { getRetentionRules, planRetention, type RetentionCandidate } from "@/lib/models/retention.ts";
import { Empty, Flash, Forbidden, param, When, type SearchParams } from "../../ui/common.tsx";
import { DataTable, type Column } from "../../ui/table.tsx";
import {
  confirmRetentionAction,
  deleteVersionAction,
  removeQuotaAction,
  saveRetentionAction,
  setQuotaAction,
} from "./actions.ts";

export const dynamic = "force-dynamic";

const bytes = (n: number) =>
  n >= 1024 ** 3
    ? `${(n / 1024 ** 3).toFixed(2)} GiB`
    : n >= 1024 ** 2
      ? `${(n / 1024 ** 2).toFixed(1)} MiB`
      : `${n.toLocaleString("en")} B`;

const QUOTA_COLUMNS: Array<Column<QuotaView>> = [
  { header: "Namespace", cell: (q) => <code>{q.namespace}</code> },
  { header: "Used", cell: (q) => bytes(q.usedBytes) },
  { header: "Limit", cell: (q) => bytes(q.maxBytes) },
  {
    header: "Use",
    cell: (q) => (
      <span className={`status status-${q.ratio > 1 ? "bad" : q.ratio >= QUOTA_WARNING_RATIO ? "warn" : "ok"}`}>
        {(q.ratio * 100).toFixed(1)} %
      </span>
    ),
  },
  { header: "Set", cell: (q) => <When at={q.updatedAt} /> },
  {
    header: "Actions",
    srOnly: true,
    cell: (q) => (
      <form action={removeQuotaAction}>
        <input type="hidden" name="id" value={q.id} />
        <button className="btn btn-small" aria-label={`Remove the quota of ${q.namespace}`}>
          Remove
        </button>
      </form>
    ),
  },
];

const CANDIDATE_COLUMNS: Array<Column<RetentionCandidate>> = [
  {
    header: "Version",
    cell: (c) => (
      <a href={`/${c.handle}/${c.version}`}>
        {c.handle} v{c.version}
      </a>
    ),
  },
  { header: "Why", cell: (c) => c.reason },
];

// /admin/storage: usage by namespace, quotas, and retention rules with a dry run to confirm.
export default async function StoragePage({ searchParams }: { searchParams: SearchParams }) {
  const sp = await searchParams;
  const ctx = await guardPage("/admin/storage", RULES.admin);
  if (ctx.denied !== null) return <Forbidden message={ctx.denied} />;
  const [quotas, usage, rules] = await Promise.all([listQuotas(), readStorageByNamespace(), getRetentionRules()]);
  const preview = param(sp, "preview") === "1" ? await planRetention() : null;
  const unquoted = usage.filter((u) => u.maxBytes === null);
  return (
    <>
      <h1>Storage</h1>
      <p className="lede">
        Usage is the bytes of the blobs of a namespace&apos;s versions that are not deleted (a blob counts once). An
        upload or mirror that would pass a quota is refused with 413 before anything is stored; 80 % sends{" "}
        <code>quota.warning</code>.
      </p>
      <Flash notice={param(sp, "notice")} error={param(sp, "error")} />
      <section className="card">
        <h2>Quotas</h2>
        {quotas.length ? (
          <DataTable columns={QUOTA_COLUMNS} rows={quotas} rowKey={(q) => q.id} className="compact" frame="none" />
        ) : (
          <Empty title="No quotas">Every namespace may grow without a limit.</Empty>
        )}
        <form action={setQuotaAction} className="row-form">
          <label className="grow">
            Namespace
            <input name="namespace" required placeholder="research/*" />
          </label>
          <label>
            Limit (bytes)
            <input name="maxBytes" required inputMode="numeric" placeholder="50000000000" />
          </label>
          <button className="btn">Set quota</button>
        </form>
        {unquoted.length > 0 && (
          <p className="muted">
            Without a quota:{" "}
            {unquoted.map((u) => (
              <span key={u.namespace}>
                <code>{u.namespace}</code> {bytes(u.usedBytes)}{" "}
              </span>
            ))}
          </p>
        )}
      </section>
      <section className="card">
        <h2>Delete a version</h2>
        <p className="muted">
          A deleted version is never served again (its URLs answer 410 Gone, saying when and why); its document and
          number stay, and gc reclaims its bytes.
        </p>
        <form action={deleteVersionAction} className="row-form">
          <label className="grow">
            Model
            <input name="handle" required placeholder="google/imagenet/mobilenet_v2_100_224/classification" />
          </label>
          <label>
            Version
            <input name="version" required inputMode="numeric" placeholder="5" />
          </label>
          <label className="grow">
            Reason
            <input name="reason" required placeholder="why it must go" />
          </label>
          <button className="btn btn-danger">Delete</button>
        </form>
      </section>
      <section className="card">
        <h2>Retention</h2>
        <p className="muted">
          Rules apply in order; the first whose <code>match</code> covers a model decides. They never delete a
          model&apos;s latest approved version, and run daily. Fields: <code>keepLastApproved</code>,{" "}
          <code>deleteRejectedAfterDays</code>, <code>deleteUnapprovedAfterDays</code>.
        </p>
        <form action={saveRetentionAction}>
          <label>
            Rules (JSON)
            <textarea
              name="rules"
              rows={6}
              className="mono"
              defaultValue={JSON.stringify(rules, null, 2)}
              aria-label="Retention rules as JSON"
            />
          </label>
          <div className="buttons">
            <button className="btn">Save rules</button>
            <a className="btn" href="/admin/storage?preview=1">
              Preview what they would delete
            </a>
          </div>
        </form>
        {preview && (
          <div className="preview" data-testid="retention-preview">
            <h3>
              The rules would delete {preview.length} version{preview.length === 1 ? "" : "s"} now
            </h3>
            {preview.length > 0 && (
              <>
                <DataTable
                  columns={CANDIDATE_COLUMNS}
                  rows={preview}
                  rowKey={(c) => `${c.handle}@${c.version}`}
                  className="compact"
                  frame="none"
                />
                <form action={confirmRetentionAction} className="buttons">
                  {preview.map((c) => (
                    <input
                      key={`${c.handle}@${c.version}`}
                      type="hidden"
                      name="target"
                      value={`${c.handle}@${c.version}`}
                    />
                  ))}
                  <button className="btn btn-danger">
                    Delete these {preview.length} version{preview.length === 1 ? "" : "s"}
                  </button>
                  <a className="btn" href="/admin/storage">
                    Cancel
                  </a>
                </form>
              </>
            )}
          </div>
        )}
      </section>
    </>
  );
}
