import { getEnv } from "@/lib/env.ts";
import { param, type SearchParams } from "../ui/common.tsx";
import { SignInForm } from "./sign-in-form.tsx";

export const dynamic = "force-dynamic";

// next-auth's error codes, said plainly. A failed password never says which part was wrong.
const ERRORS: Record<string, string> = {
  CredentialsSignin: "Wrong email or password, or the account cannot sign in.",
  AccessDenied: "Your single sign-on account may not sign in here (it may be disabled or have no verified email).",
  OAuthSignin: "Could not reach the single sign-on provider.",
  OAuthCallback: "The single sign-on provider's answer was not accepted.",
  Callback: "The single sign-on provider's answer was not accepted.",
  SessionRequired: "Sign in to see that page.",
};

/** Only same-site paths may follow a sign-in. */
function localPath(v: string | undefined): string {
  if (!v) return "/";
  try {
    const u = new URL(v, "http://local");
    if (u.origin !== "http://local" && u.origin !== new URL(getEnv().publicUrl).origin) return "/";
    return u.pathname + u.search;
  } catch {
    return "/";
  }
}

export default async function SignInPage({ searchParams }: { searchParams: SearchParams }) {
  const sp = await searchParams;
  const error = param(sp, "error");
  const env = getEnv();
  return (
    <div className="narrow">
      <h1>Sign in to Hubkeep</h1>
      <p className="lede">Use your Hubkeep account{env.oidc ? " or your organisation's single sign-on" : ""}.</p>
      <SignInForm
        callbackUrl={localPath(param(sp, "callbackUrl"))}
        sso={Boolean(env.oidc)}
        initialError={error ? (ERRORS[error] ?? "Sign-in failed.") : undefined}
      />
    </div>
  );
}
