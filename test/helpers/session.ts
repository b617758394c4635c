// Signs in through next-auth's real endpoints (csrf, then the credentials callback) the way a
// browser does, and returns the session cookie to send as a Cookie header.

function cookiesFrom(res: Response): string[] {
  return res.headers.getSetCookie().map((c) => c.split(";")[0]!);
}

export type SignInResult = { status: number; cookie: string | null; setCookie: string[]; body: string };

export async function postCredentials(base: string, email: string, password: string): Promise<SignInResult> {
  const csrf = await fetch(`${base}/api/auth/csrf`);
  const jar = cookiesFrom(csrf);
  const { csrfToken } = (await csrf.json()) as { csrfToken: string };
  const res = await fetch(`${base}/api/auth/callback/credentials`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: jar.join("; "), origin: base },
    body: new URLSearchParams({ csrfToken, email, password, json: "true" }),
  });
  const setCookie = res.headers.getSetCookie();
  const session = setCookie.map((c) => c.split(";")[0]!).find((c) => /next-auth\.session-token=/.test(c)) ?? null;
  return { status: res.status, cookie: session, setCookie, body: await res.text() };
}

/** A session cookie for the account, or an error naming the status. */
export async function signInSession(base: string, email: string, password: string): Promise<string> {
  const r = await postCredentials(base, email, password);
  if (!r.cookie) throw new Error(`sign-in as ${email} failed: ${r.status} ${r.body}`);
  return r.cookie;
}
