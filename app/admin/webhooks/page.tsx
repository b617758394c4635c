import { RULES } from "@/lib/auth/permissions.ts";
import { guardPage } from "@/lib/http/page-context.ts";
import { listDeliveries, listWebhooks, type DeliveryView } from "@/lib/models/webhooks.ts";
import { WEBHOOK_EVENT_TYPES } from "@/lib/webhooks/events.ts";
import { toAppError } from "@/lib/errors.ts";
import { Empty, Flash, Forbidden, param, When, type SearchParams } from "../../ui/common.tsx";
import { DataTable, type Column } from "../../ui/table.tsx";
import { deleteWebhookAction, sendTestWebhookAction } from "./actions.ts";
import { CreateWebhookForm } from "./create-webhook-form.tsx";

export const dynamic = "force-dynamic";

type Hook = Awaited<ReturnType<typeof listWebhooks>>[number];

const HOOK_COLUMNS: Array<Column<Hook>> = [
  {
    header: "Receiver",
    rowHeader: true,
    cell: (w) => (
      <>
        <code>{w.url}</code>
        {w.description ? <div className="muted">{w.description}</div> : null}
      </>
    ),
  },
  { header: "Events", cell: (w) => w.events.map((e) => <code key={e}>{e} </code>) },
  {
    header: "State",
    cell: (w) =>
      w.enabled ? (
        <span className="status status-ok">enabled</span>
      ) : (
        <>
          <span className="status status-bad">disabled</span>
          <div className="muted">{w.disabledReason}</div>
        </>
      ),
  },
  { header: "Waiting", cell: (w) => w.pendingDeliveries },
  { header: "Created", cell: (w) => <When at={w.createdAt} /> },
  {
    header: "Actions",
    srOnly: true,
    cell: (w) => (
      <div className="buttons">
        <a className="btn btn-small" href={`/admin/webhooks?deliveries=${encodeURIComponent(w.id)}#deliveries`}>
          Deliveries
        </a>
        {w.enabled && (
          <form action={sendTestWebhookAction}>
            <input type="hidden" name="id" value={w.id} />
            <input type="hidden" name="returnTo" value="/admin/webhooks" />
            <button className="btn btn-small" aria-label={`Send a test event to ${w.url}`}>
              Send test
            </button>
          </form>
        )}
        <form action={deleteWebhookAction}>
          <input type="hidden" name="id" value={w.id} />
          <input type="hidden" name="returnTo" value="/admin/webhooks" />
          <button className="btn btn-small" aria-label={`Delete the webhook to ${w.url}`}>
            Delete
          </button>
        </form>
      </div>
    ),
  },
];

const DELIVERY_TONE: Record<DeliveryView["status"], string> = {
  pending: "info",
  delivered: "ok",
  failed: "bad",
  cancelled: "warn",
};

/** The last attempt's status code, and what went wrong when that is more than the code. */
function describeAnswer(d: DeliveryView): string {
  if (d.attempt === 0) return "not tried yet";
  const code = d.statusCode !== null ? `HTTP ${d.statusCode}` : null;
  const error = d.error && d.error !== code ? d.error : null;
  return [code, error].filter(Boolean).join(": ");
}

const DELIVERY_COLUMNS: Array<Column<DeliveryView>> = [
  { header: "Time", cell: (d) => <When at={d.time} /> },
  { header: "Event", cell: (d) => <code>{d.eventId}</code> },
  { header: "Type", cell: (d) => <code>{d.type}</code> },
  { header: "Attempt", cell: (d) => d.attempt },
  { header: "Answer", cell: (d) => describeAnswer(d) },
  {
    header: "Status",
    cell: (d) => (
      <>
        <span className={`status status-${DELIVERY_TONE[d.status]}`}>{d.status}</span>
        {d.nextAttemptAt ? (
          <div className="muted">
            next <When at={d.nextAttemptAt} />
          </div>
        ) : null}
      </>
    ),
  },
];

// /admin/webhooks: receivers of signed event notifications (Standard Webhooks), their state, a test
// event, and each one's recent deliveries.
export default async function WebhooksPage({ searchParams }: { searchParams: SearchParams }) {
  const sp = await searchParams;
  const ctx = await guardPage("/admin/webhooks", RULES.admin);
  if (ctx.denied !== null) return <Forbidden message={ctx.denied} />;
  const hooks = await listWebhooks();
  const shownId = param(sp, "deliveries");
  const shown = hooks.find((w) => w.id === shownId);
  let deliveries: DeliveryView[] = [];
  let deliveriesError: string | null = null;
  if (shown) {
    try {
      deliveries = await listDeliveries(shown.id, { limit: 50 });
    } catch (err) {
      deliveriesError = toAppError(err).message;
    }
  }
  return (
    <>
      <h1>Webhooks</h1>
      <p className="lede">
        Each event is POSTed as JSON to every enabled webhook subscribed to it, signed per Standard Webhooks (
        <code>webhook-id</code>, <code>webhook-timestamp</code>, <code>webhook-signature</code>). A receiver that does
        not answer 2xx within 10 s is tried again for 24 hours; one that answers 410 Gone is disabled.
      </p>
      <Flash notice={param(sp, "notice")} error={param(sp, "error") ?? deliveriesError ?? undefined} />
      <CreateWebhookForm eventTypes={WEBHOOK_EVENT_TYPES} />
      <h2>Webhooks</h2>
      <DataTable
        columns={HOOK_COLUMNS}
        rows={hooks}
        rowKey={(w) => w.id}
        rowClassName={(w) => (w.enabled ? undefined : "disabled-row")}
        empty={<Empty title="No webhooks yet: nothing is notified." />}
      />
      {shown && (
        <section id="deliveries">
          <h2>
            Recent deliveries to <code>{shown.url}</code>
          </h2>
          <DataTable
            columns={DELIVERY_COLUMNS}
            rows={deliveries}
            rowKey={(d) => d.id}
            empty={<Empty title="No deliveries yet." />}
          />
        </section>
      )}
    </>
  );
}
