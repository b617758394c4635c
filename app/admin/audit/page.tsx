import { RULES } from "@/lib/auth/permissions.ts";
import { guardPage } from "@/lib/http/page-context.ts";
import { listAuditActions, listAuditEvents } from "@/lib/models/audit.ts";
import { Empty, Forbidden, param, Status, When, type SearchParams } from "../../ui/common.tsx";
import { DataTable, type Column } from "../../ui/table.tsx";

export const dynamic = "force-dynamic";

const PAGE = 100;

function toDate(v: string | undefined): Date | undefined {
  if (!v) return undefined;
  const d = new Date(/Z|[+-]\d\d:?\d\d$/.test(v) ? v : `${v}Z`);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

function short(v: unknown): string {
  const text = typeof v === "string" ? v : JSON.stringify(v);
  return text.length > 90 ? `${text.slice(0, 87)}…` : text;
}

/** An event's details as key: value lines (long values shortened; the API has them whole). */
function Details({ value }: { value: unknown }) {
  if (!value || typeof value !== "object" || Object.keys(value).length === 0) return null;
  return (
    <dl className="details">
      {Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== null && v !== undefined)
        .map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt> <dd title={typeof v === "string" ? v : JSON.stringify(v)}>{short(v)}</dd>
          </div>
        ))}
    </dl>
  );
}

type AuditEvent = Awaited<ReturnType<typeof listAuditEvents>>[number];

const AUDIT_COLUMNS: Array<Column<AuditEvent>> = [
  { header: "Time", className: "nowrap", cell: (e) => <When at={e.at} /> },
  {
    header: "Actor",
    cell: (e) => (
      <>
        {e.actorEmail ?? <span className="muted">{e.actorId ?? (e.actorIp ? "anonymous" : "system")}</span>}
        {e.actorIp && <div className="meta">{e.actorIp}</div>}
      </>
    ),
  },
  {
    header: "Action",
    cell: (e) => (
      <>
        <code>{e.action}</code> {e.outcome !== "ok" && <Status value={e.outcome} />}
      </>
    ),
  },
  { header: "Target", cell: (e) => e.target ?? "" },
  { header: "Details", cell: (e) => <Details value={e.details} /> },
];

// /admin/audit: the append-only audit log, filtered by actor, action, target, outcome and time.
export default async function AuditPage({ searchParams }: { searchParams: SearchParams }) {
  const sp = await searchParams;
  const ctx = await guardPage("/admin/audit", RULES.admin);
  if (ctx.denied !== null) return <Forbidden message={ctx.denied} />;
  const f = {
    actor: param(sp, "actor")?.trim() || undefined,
    action: param(sp, "action")?.trim() || undefined,
    target: param(sp, "target")?.trim() || undefined,
    outcome: (["ok", "denied", "error"] as const).find((o) => o === param(sp, "outcome")),
    since: param(sp, "since") || undefined,
    until: param(sp, "until") || undefined,
  };
  const before = param(sp, "before");
  const [events, actions] = await Promise.all([
    listAuditEvents({
      ...f,
      since: toDate(f.since),
      until: toDate(f.until),
      before: before && /^\d+$/.test(before) ? BigInt(before) : undefined,
      limit: PAGE,
    }),
    listAuditActions(),
  ]);
  const query = new URLSearchParams(Object.entries(f).filter((e): e is [string, string] => Boolean(e[1])));
  const older =
    events.length === PAGE
      ? `/admin/audit?${new URLSearchParams([...query, ["before", events[events.length - 1]!.id]])}`
      : null;
  return (
    <>
      <h1>Audit log</h1>
      <p className="lede">
        Every sign-in, decision, credential and rule change, and every denied attempt. Append-only: the database refuses
        edits.
      </p>
      <form method="get" action="/admin/audit" className="card filters-form">
        <label>
          Actor
          <input name="actor" defaultValue={f.actor} placeholder="email or user id" />
        </label>
        <label>
          Action
          <input
            name="action"
            defaultValue={f.action}
            list="audit-actions"
            placeholder="e.g. version.approve or denied.*"
          />
          <datalist id="audit-actions">
            {actions.map((a) => (
              <option key={a} value={a} />
            ))}
          </datalist>
        </label>
        <label>
          Target
          <input name="target" defaultValue={f.target} placeholder="e.g. google/x/1" />
        </label>
        <label>
          Outcome
          <select name="outcome" defaultValue={f.outcome ?? ""}>
            <option value="">any</option>
            <option value="ok">ok</option>
            <option value="denied">denied</option>
            <option value="error">error</option>
          </select>
        </label>
        <label>
          From (UTC)
          <input name="since" type="datetime-local" defaultValue={f.since} />
        </label>
        <label>
          To (UTC)
          <input name="until" type="datetime-local" defaultValue={f.until} />
        </label>
        <div className="buttons">
          <button className="btn btn-primary">Filter</button>
          <a className="btn" href="/admin/audit">
            Clear
          </a>
        </div>
      </form>
      <DataTable
        columns={AUDIT_COLUMNS}
        rows={events}
        rowKey={(e) => e.id}
        className="audit"
        empty={<Empty title="No events match these filters." />}
      />
      {older && (
        <p>
          <a href={older}>Older events →</a>
        </p>
      )}
    </>
  );
}
