"use client";
import { useState } from "react";
import { signIn } from "next-auth/react";
import { formText } from "@/lib/http/form-field.ts";

export function SignInForm({
  callbackUrl,
  sso,
  initialError,
}: {
  callbackUrl: string;
  sso: boolean;
  initialError?: string;
}) {
  const [error, setError] = useState(initialError);
  const [busy, setBusy] = useState(false);
  return (
    <div className="card stack">
      {error && (
        <div className="flash flash-error" role="alert">
          {error}
        </div>
      )}
      <form
        className="stack"
        onSubmit={async (e) => {
          e.preventDefault();
          const data = new FormData(e.currentTarget);
          setBusy(true);
          setError(undefined);
          const res = await signIn("credentials", {
            email: formText(data, "email"),
            password: formText(data, "password"),
            redirect: false,
            callbackUrl,
          });
          setBusy(false);
          if (!res || res.error) {
            setError("Wrong email or password, or the account cannot sign in.");
            return;
          }
          window.location.assign(callbackUrl);
        }}
      >
        <label>
          Email
          <input name="email" type="email" autoComplete="username" required autoFocus />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" required />
        </label>
        <button className="btn btn-primary" type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
      {sso && (
        <>
          <div className="or">or</div>
          <button className="btn" type="button" onClick={() => void signIn("oidc", { callbackUrl })}>
            Sign in with single sign-on
          </button>
        </>
      )}
    </div>
  );
}
