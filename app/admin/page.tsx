import { RULES } from "@/lib/auth/permissions.ts";
import { guardPage } from "@/lib/http/page-context.ts";
import {
  AWAITING,
  countReviewQueue,
  listReviewQueue,
  type AwaitingStatus,
  type ReviewItem,
} from "@/lib/models/review.ts";
import { formatBytes, opsSummary, tfjsEvidence, tfjsVerdict, type OpsView } from "@/lib/models/signatures.ts";
import { BlockingOps, Empty, Flash, Forbidden, param, Status, When, type SearchParams } from "../ui/common.tsx";
import { SelectAll } from "../ui/client.tsx";
import { bulkDecideAction, decideOneAction, revalidateAction } from "./actions.ts";
import { DataTable, type Column } from "../ui/table.tsx";

export const dynamic = "force-dynamic";

const ms = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

type BenchmarkRow = ReviewItem["benchmarks"][number];
type DiffRow = ReviewItem["diff"][number];

const BENCHMARK_COLUMNS: Array<Column<BenchmarkRow>> = [
  { header: "batch", cell: (b) => b.batch },
  { header: "load", cell: (b) => <>{ms(b.loadMs)} ms</> },
  { header: "first", cell: (b) => <>{ms(b.firstInferenceMs)} ms</> },
  { header: "p50", cell: (b) => <>{ms(b.p50Ms)} ms</> },
  { header: "p95", cell: (b) => <>{ms(b.p95Ms)} ms</> },
  { header: "p99", cell: (b) => <>{ms(b.p99Ms)} ms</> },
  { header: "throughput", cell: (b) => <>{b.throughputPerSec.toFixed(1)}/s</> },
  { header: "peak RSS", cell: (b) => (b.peakRssBytes === null ? "—" : formatBytes(b.peakRssBytes)) },
];

const DIFF_COLUMNS: Array<Column<DiffRow>> = [
  { header: "", rowHeader: true, cell: (d) => d.field },
  { header: "before", cell: (d) => <pre className="inline-pre">{d.before}</pre> },
  {
    header: "this version",
    cell: (d) => (
      <>
        <pre className="inline-pre">{d.after}</pre>
        {d.change === "changed" && <span className="status status-warn">changed</span>}
      </>
    ),
  },
];

function Benchmarks({ item }: { item: ReviewItem }) {
  return (
    <DataTable
      columns={BENCHMARK_COLUMNS}
      rows={item.benchmarks}
      rowKey={(b) => b.batch}
      className="compact"
      caption="Benchmark scores"
      hideCaption
      frame="none"
      empty={
        <p className="muted">
          No benchmark:{" "}
          {item.validation?.level === "static" ? "this format was checked statically, not run" : "not run yet"}.
        </p>
      }
    />
  );
}

function Diff({ item }: { item: ReviewItem }) {
  return (
    <DataTable
      columns={DIFF_COLUMNS}
      rows={item.diff}
      rowKey={(d) => d.field}
      rowClassName={(d) => `diff-${d.change}`}
      className="compact diff"
      caption={
        item.previousApproved
          ? `Compared with approved version ${item.previousApproved.number}`
          : "No earlier approved version: first approval of this model"
      }
      frame="none"
    />
  );
}

/** One line: can this SavedModel run in TF.js, and if not, which ops (or what else) stop it. */
function TfjsLine({ ops, validation }: { ops: OpsView; validation: NonNullable<ReviewItem["validation"]> }) {
  const evidence = tfjsEvidence(validation);
  const notRun = evidence.notRun;
  const verdict = tfjsVerdict(ops, evidence);
  return (
    <>
      <dt>TF.js</dt>
      <dd>
        <span className={`status ${verdict.ok ? "status-ok" : "status-warn"}`}>{verdict.label}</span>{" "}
        {ops.verdict === "runs" ? (
          opsSummary(ops)
        ) : (
          <>
            blocked by <BlockingOps ops={ops.blocking} />
          </>
        )}
        {notRun && !(notRun.op && ops.blocking.some((o) => o.op === notRun.op)) ? (
          <>
            {" "}
            · stopped{" "}
            {notRun.op ? (
              <>
                at{" "}
                <strong className="blocking-op" title={notRun.reason}>
                  <code>{notRun.op}</code>
                </strong>
              </>
            ) : (
              <strong className="blocking-op">
                {notRun.reason.length > 140 ? `${notRun.reason.slice(0, 139)}…` : notRun.reason}
              </strong>
            )}
          </>
        ) : null}
      </dd>
    </>
  );
}

function Item({ item, returnTo }: { item: ReviewItem; returnTo: string }) {
  const key = `${item.handle}@${item.version}`;
  const domId = `v-${item.id}`;
  const decidable = item.status === "validated" || item.status === "quarantined";
  const v = item.validation;
  return (
    <article className="card review" aria-labelledby={`${domId}-title`}>
      <header className="review-head">
        <input
          type="checkbox"
          name="target"
          value={key}
          form="bulk"
          aria-label={`Select ${item.handle} version ${item.version}`}
          disabled={!decidable}
        />
        <h2 id={`${domId}-title`}>
          <a href={`/${item.handle}/${item.version}`}>{item.handle}</a> <span className="muted">v{item.version}</span>
        </h2>
        <Status value={item.status} />
      </header>
      <dl className="facts">
        <dt>Source</dt>
        <dd>
          {item.source.kind === "upstream" ? (
            <>
              mirrored from <code>{item.source.url ?? "upstream"}</code>
              {item.source.fetchedAt && (
                <>
                  {" "}
                  at <When at={item.source.fetchedAt} />
                </>
              )}
              {item.source.drift && (
                <>
                  {" "}
                  <span className="status status-warn" data-testid="drift">
                    upstream drift
                  </span>{" "}
                  the upstream now serves <code>{item.source.drift.upstreamDigest ?? "other bytes"}</code> under this
                  version
                </>
              )}
            </>
          ) : (
            <>uploaded by {item.source.uploadedBy ?? "a deleted user"}</>
          )}
        </dd>
        <dt>Format</dt>
        <dd>
          {item.format} · {formatBytes(item.size)} · <code title={item.digest}>{item.digest.slice(0, 19)}…</code>
        </dd>
        {v?.tfjs ? <TfjsLine ops={v.tfjs} validation={v} /> : null}
        <dt>Validation</dt>
        <dd>
          {v ? (
            <>
              <Status value={v.status} /> level <strong>{v.level ?? "—"}</strong>
              {v.runtime && (
                <>
                  {" "}
                  · {v.runtime}
                  {v.backend ? ` (${v.backend})` : ""}
                </>
              )}
              {v.finishedAt && (
                <>
                  {" "}
                  · <When at={v.finishedAt} />
                </>
              )}
              {v.error && <p className="error-text">{v.error}</p>}
            </>
          ) : (
            "not started"
          )}
        </dd>
      </dl>
      {v && v.findings.length > 0 && (
        <details open={item.status === "quarantined"}>
          <summary>
            {v.findings.length} static finding{v.findings.length === 1 ? "" : "s"}
          </summary>
          <ul className="findings">
            {v.findings.map((f, i) => (
              <li key={i}>
                <Status value={f.severity === "danger" ? "quarantined" : "pending"} /> {f.message}
              </li>
            ))}
          </ul>
        </details>
      )}
      <details open>
        <summary>Signatures ({v?.signatures.length ?? 0})</summary>
        {v && v.signatures.length > 0 ? (
          <ul className="sigs">
            {v.signatures.map((s) => (
              <li key={s}>
                <code>{s}</code>
              </li>
            ))}
          </ul>
        ) : (
          <p className="muted">None recorded.</p>
        )}
      </details>
      <h3>Benchmarks</h3>
      <Benchmarks item={item} />
      <Diff item={item} />
      <div className="decide">
        {decidable ? (
          <form action={decideOneAction} className="decide-form">
            <input type="hidden" name="target" value={key} />
            <input type="hidden" name="returnTo" value={returnTo} />
            {item.status === "quarantined" ? (
              <label>
                Override reason (required to approve a quarantined version)
                <input name="overrideReason" placeholder="why this model is safe to use despite the findings" />
              </label>
            ) : (
              <label>
                Note (optional)
                <input name="note" placeholder="e.g. checked against the vision team's eval set" />
              </label>
            )}
            <label>
              Rejection reason
              <input name="reason" placeholder="required to reject" />
            </label>
            <div className="buttons">
              <button
                className="btn btn-primary"
                name="decision"
                value={item.status === "quarantined" ? "override" : "approve"}
              >
                {item.status === "quarantined" ? "Approve with override" : "Approve"}
              </button>
              <button className="btn btn-danger" name="decision" value="reject">
                Reject
              </button>
            </div>
          </form>
        ) : (
          <p className="muted">
            {item.status === "failed"
              ? "Validation failed: this version cannot be approved. Reject it, or re-validate after fixing the environment."
              : "Validation is still running; the decision opens when it finishes."}
          </p>
        )}
        <form action={revalidateAction}>
          <input type="hidden" name="target" value={key} />
          <input type="hidden" name="returnTo" value={returnTo} />
          <button className="btn">Re-validate</button>
        </form>
      </div>
    </article>
  );
}

// /admin: the review queue. Versions awaiting a decision, with the evidence to decide on.
export default async function ReviewQueue({ searchParams }: { searchParams: SearchParams }) {
  const sp = await searchParams;
  const ctx = await guardPage("/admin", RULES.approve);
  if (ctx.denied !== null) return <Forbidden message={ctx.denied} />;
  const status = param(sp, "status") as AwaitingStatus | undefined;
  const statuses = status && (AWAITING as readonly string[]).includes(status) ? [status] : undefined;
  const items = await listReviewQueue({ statuses });
  const counts = await countReviewQueue();
  const returnTo = status ? `/admin?status=${status}` : "/admin";
  return (
    <>
      <h1>Review queue</h1>
      <p className="lede">
        Versions waiting for a decision. Only validated versions can be approved; quarantined ones need an override with
        a reason.
      </p>
      <Flash notice={param(sp, "notice")} error={param(sp, "error")} />
      <nav className="filters" aria-label="Filter by status">
        <a href="/admin" aria-current={!statuses ? "page" : undefined}>
          All ({Object.values(counts).reduce((a, b) => a + b, 0)})
        </a>
        {AWAITING.map((s) => (
          <a key={s} href={`/admin?status=${s}`} aria-current={status === s ? "page" : undefined}>
            {s} ({counts[s]})
          </a>
        ))}
      </nav>
      {items.length === 0 ? (
        <Empty title={statuses ? `Nothing ${status}.` : "Nothing to review."}>
          <p>
            New versions appear here after they are mirrored or uploaded and validated.{" "}
            <a href="/admin/mirrors">Request a mirror</a>.
          </p>
        </Empty>
      ) : (
        <>
          <form id="bulk" action={bulkDecideAction} className="card bulk">
            <input type="hidden" name="returnTo" value={returnTo} />
            <SelectAll form="bulk" name="target" />
            <label>
              Note <input name="note" placeholder="optional, for approvals" />
            </label>
            <label>
              Reason <input name="reason" placeholder="required for rejections" />
            </label>
            <button className="btn btn-primary" name="decision" value="approve">
              Approve selected
            </button>
            <button className="btn btn-danger" name="decision" value="reject">
              Reject selected
            </button>
          </form>
          <div className="queue">
            {items.map((i) => (
              <Item key={i.id} item={i} returnTo={returnTo} />
            ))}
          </div>
        </>
      )}
    </>
  );
}
