"use client";
import { useActionState } from "react";
import { createTokenAction, type CreateTokenState } from "./actions.ts";
import { CopyButton } from "../ui/client.tsx";

export function CreateTokenForm({ scopes, publicUrl }: { scopes: string[]; publicUrl: string }) {
  const [state, action, pending] = useActionState<CreateTokenState, FormData>(createTokenAction, null);
  return (
    <section className="card">
      <h2>New token</h2>
      {state?.error && (
        <div className="flash flash-error" role="alert">
          {state.error}
        </div>
      )}
      {state?.token && (
        <div className="flash flash-ok" role="status" data-testid="new-token">
          <p>
            <strong>Copy this {state.scope} token now.</strong> It will not be shown again.
          </p>
          <div className="token-line">
            <code>{state.token}</code> <CopyButton text={state.token} />
          </div>
          <pre>{`export HUBKEEP_URL=${publicUrl}\nexport HUBKEEP_TOKEN=${state.token}`}</pre>
        </div>
      )}
      <form action={action} className="row-form">
        <label className="grow">
          Name
          <input name="name" placeholder="e.g. laptop CLI" maxLength={100} />
        </label>
        <label>
          Scope
          <select name="scope" defaultValue={scopes[0]}>
            {scopes.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Expires
          <select name="expiresInDays" defaultValue="90">
            <option value="7">in 7 days</option>
            <option value="30">in 30 days</option>
            <option value="90">in 90 days</option>
            <option value="365">in a year</option>
            <option value="never">never</option>
          </select>
        </label>
        <button className="btn btn-primary" disabled={pending}>
          {pending ? "Creating…" : "Create token"}
        </button>
      </form>
    </section>
  );
}
