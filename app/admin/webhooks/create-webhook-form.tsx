"use client";
import { useActionState } from "react";
import { createWebhookAction, type CreateWebhookState } from "./actions.ts";
import { CopyButton } from "../../ui/client.tsx";

export function CreateWebhookForm({ eventTypes }: { eventTypes: readonly string[] }) {
  const [state, action, pending] = useActionState<CreateWebhookState, FormData>(createWebhookAction, null);
  return (
    <section className="card">
      <h2>New webhook</h2>
      {state?.error && (
        <div className="flash flash-error" role="alert">
          {state.error}
        </div>
      )}
      {state?.secret && (
        <div className="flash flash-ok" role="status" data-testid="new-webhook-secret">
          <p>
            <strong>Copy this signing secret now.</strong> It will not be shown again. {state.url} verifies each
            delivery&apos;s <code>webhook-signature</code> with it (Standard Webhooks).
          </p>
          <div className="token-line">
            <code>{state.secret}</code> <CopyButton text={state.secret} />
          </div>
        </div>
      )}
      <form action={action}>
        <div className="row-form">
          <label className="grow">
            Receiver URL
            <input name="url" type="url" required placeholder="https://ci.example.com/hooks/hubkeep" />
          </label>
          <label className="grow">
            Description
            <input name="description" maxLength={500} placeholder="what it is for (optional)" />
          </label>
        </div>
        <fieldset className="row-form">
          <legend>Events</legend>
          <label className="inline">
            <input type="checkbox" name="events" value="*" /> <code>*</code> (all, including later ones)
          </label>
          {eventTypes.map((t) => (
            <label key={t} className="inline">
              <input type="checkbox" name="events" value={t} /> <code>{t}</code>
            </label>
          ))}
        </fieldset>
        <div className="buttons">
          <button className="btn btn-primary" disabled={pending}>
            {pending ? "Creating…" : "Create webhook"}
          </button>
        </div>
      </form>
    </section>
  );
}
