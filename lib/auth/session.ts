// Browser sessions: next-auth's encrypted JWT cookie holds only the user id and times. Every request
// loads the user again, so a role change, a namespace change or a disabled account takes effect on
// the next request, and signing out everywhere (`sessionsValidFrom`) invalidates older cookies.
import { decode } from "next-auth/jwt";
import { db } from "../db/client.ts";
import { getEnv } from "../env.ts";
import { authSecret } from "./secret.ts";
import { principalOfSession, type UserPrincipal } from "./principal.ts";

/** Twelve hours, refreshed at most hourly while in use. */
export const SESSION_MAX_AGE_S = 12 * 60 * 60;
export const SESSION_UPDATE_AGE_S = 60 * 60;

export function secureCookies(): boolean {
  return getEnv().publicUrl.startsWith("https://");
}

export function sessionCookieName(): string {
  return `${secureCookies() ? "__Secure-" : ""}next-auth.session-token`;
}

/** The session cookie's value from a Cookie header (next-auth splits large ones into .0, .1, …). */
export function readSessionCookie(cookieHeader: string | null): string | null {
  if (!cookieHeader) return null;
  const name = sessionCookieName();
  const parts = new Map<string, string>();
  for (const pair of cookieHeader.split(";")) {
    const eq = pair.indexOf("=");
    if (eq < 0) continue;
    const k = pair.slice(0, eq).trim();
    const v = pair.slice(eq + 1).trim();
    if (k === name || k.startsWith(`${name}.`)) parts.set(k, decodeURIComponent(v));
  }
  if (parts.has(name)) return parts.get(name)!;
  const chunks: string[] = [];
  for (let i = 0; parts.has(`${name}.${i}`); i++) chunks.push(parts.get(`${name}.${i}`)!);
  return chunks.length ? chunks.join("") : null;
}

/**
 * The signed-in user behind a session cookie, or null when there is none or it is not valid
 * (expired, tampered, from another secret, for a disabled or deleted user, or older than the user's
 * last sign-out-everywhere).
 */
export async function sessionPrincipal(cookieHeader: string | null): Promise<UserPrincipal | null> {
  const raw = readSessionCookie(cookieHeader);
  if (!raw) return null;
  const payload = await decode({ token: raw, secret: authSecret() }).catch(() => null);
  const uid = typeof payload?.uid === "string" ? payload.uid : null;
  if (!payload || !uid) return null;
  if (typeof payload.exp === "number" && payload.exp * 1000 <= Date.now()) return null;
  const prisma = await db();
  const user = await prisma.user.findUnique({ where: { id: uid }, include: { namespaces: true } });
  if (!user || user.disabledAt) return null;
  const issuedAt = typeof payload.signedInAt === "number" ? payload.signedInAt : 0;
  if (user.sessionsValidFrom && issuedAt < user.sessionsValidFrom.getTime()) return null;
  return principalOfSession(
    user,
    user.namespaces.map((n) => n.pattern),
  );
}
