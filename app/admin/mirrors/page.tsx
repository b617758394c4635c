import { mirrorListOwner, RULES } from "@/lib/auth/permissions.ts";
import { guardPage } from "@/lib/http/page-context.ts";
import { listMirrorRequests } from "@/lib/models/mirror-view.ts";
import { formatBytes } from "@/lib/models/signatures.ts";
import { Empty, Flash, Forbidden, param, Status, When, type SearchParams } from "../../ui/common.tsx";
import { requestMirrorAction } from "../actions.ts";
import { MirrorProgress } from "./progress.tsx";
import { DataTable, type Column } from "../../ui/table.tsx";

export const dynamic = "force-dynamic";

type MirrorRow = Awaited<ReturnType<typeof listMirrorRequests>>[number];

const MIRROR_COLUMNS: Array<Column<MirrorRow>> = [
  {
    header: "Model",
    cell: (r) => (
      <>
        <a href={`/admin/mirrors?watch=${r.id}`}>{r.handle}</a>
        {r.version !== null && <span className="muted"> v{r.version}</span>}
        {r.error && <div className="error-text">{r.error}</div>}
      </>
    ),
  },
  {
    header: "Download",
    cell: (r) => (
      <>
        <Status value={r.status} /> {formatBytes(r.bytesDone)}
        {r.bytesTotal ? ` of ${formatBytes(r.bytesTotal)}` : ""}
      </>
    ),
  },
  {
    header: "Version status",
    cell: (r) => (r.versionStatus ? <Status value={r.versionStatus} /> : <span className="muted">—</span>),
  },
  {
    header: "Requested",
    cell: (r) => (
      <>
        <When at={r.createdAt} />
        {r.requestedBy && <div className="meta">{r.requestedBy}</div>}
      </>
    ),
  },
];

// /admin/mirrors: request a mirror of an allowlisted upstream model and watch it download and validate.
export default async function MirrorsPage({ searchParams }: { searchParams: SearchParams }) {
  const sp = await searchParams;
  const ctx = await guardPage("/admin/mirrors", RULES.mirror);
  if (ctx.denied !== null) return <Forbidden message={ctx.denied} />;
  const p = ctx.principal;
  const rows = await listMirrorRequests({ requestedById: mirrorListOwner(p) });
  const watch = param(sp, "watch");
  return (
    <>
      <h1>Mirrors</h1>
      <p className="lede">
        Mirror an allowlisted tfhub.dev or Kaggle model. It is downloaded, stored by digest and validated; then it waits
        in the review queue.
      </p>
      <Flash notice={param(sp, "notice")} error={param(sp, "error")} />
      <form action={requestMirrorAction} className="card row-form">
        <input type="hidden" name="returnTo" value="/admin/mirrors" />
        <label className="grow">
          Model URL
          <input
            name="url"
            type="url"
            required
            placeholder="https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/5"
          />
        </label>
        <button className="btn btn-primary">Request mirror</button>
      </form>
      {watch && <MirrorProgress id={watch} />}
      <h2>Recent requests</h2>
      <DataTable
        columns={MIRROR_COLUMNS}
        rows={rows}
        rowKey={(r) => r.id}
        empty={<Empty title="No mirror requests yet." />}
      />
    </>
  );
}
