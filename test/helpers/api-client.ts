// The JSON API as tests call it: with a bearer token (answering status, text and parsed JSON, so a
// test can assert on refusals), or with an admin's browser session for setup (users, tokens), where
// any non-2xx fails the test with the server's answer.
import assert from "node:assert/strict";
import { signInSession } from "./session.ts";

/** `json` is the parsed body, or null when the body is not JSON; a test may name its shape as J. */
export type Answer<J = Record<string, unknown> | null> = { status: number; text: string; json: J };

/** Reads a response whole: its status, text, and the text parsed as JSON (null when it is not). */
export async function answer<J = Record<string, unknown> | null>(res: Response): Promise<Answer<J>> {
  const text = await res.text();
  let json: Record<string, unknown> | null = null;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = null;
  }
  return { status: res.status, text, json: json as J };
}

/** `method url` with `Authorization: Bearer token` and, when given, a JSON body. */
export async function callApi<J = Record<string, unknown> | null>(
  base: string,
  method: string,
  url: string,
  token: string,
  body?: unknown,
): Promise<Answer<J>> {
  return answer<J>(
    await fetch(`${base}${url}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
  );
}

export type SessionCaller = <T = { id: string; token: string }>(
  method: string,
  url: string,
  body?: unknown,
) => Promise<T>;

/**
 * Signs in through next-auth and answers a caller that sends JSON with the session cookie (and the
 * Origin the CSRF check wants), failing on any non-2xx with the server's answer.
 */
export async function sessionCaller(base: string, email: string, password: string): Promise<SessionCaller> {
  const cookie = await signInSession(base, email, password);
  return async <T>(method: string, url: string, body?: unknown) => {
    const r = await fetch(`${base}${url}`, {
      method,
      headers: { cookie, origin: base, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    assert.ok(r.ok, `${method} ${url}: ${r.status} ${text}`);
    return JSON.parse(text) as T;
  };
}
