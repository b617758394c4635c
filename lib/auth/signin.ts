// Sign-in decisions for next-auth's providers. Every success and every failure is audited; a
// failure tells the caller nothing about which part was wrong.
import { db } from "../db/client.ts";
import { recordAudit } from "../models/audit.ts";
import { verifyPassword } from "./password.ts";
import { principalOfSession, type Role } from "./principal.ts";

/** Failed sign-ins per account in the window before further attempts are refused unchecked. */
export const SIGNIN_MAX_FAILURES = 10;
export const SIGNIN_WINDOW_MS = 15 * 60_000;

// A fixed bcrypt hash (of a random string) so an unknown email costs the same time as a wrong password.
const DUMMY_HASH = "$2b$12$27ZbZi8KoMjcFjKxyRbDuuS2QzrTjI5vxzygKqQ96Nwikn3lqOY/6";

export type SignedInUser = { id: string; email: string; name: string | null; role: Role };

async function recentFailures(email: string): Promise<number> {
  const prisma = await db();
  return prisma.auditEvent.count({
    where: {
      action: "auth.signin",
      outcome: "denied",
      target: email,
      at: { gte: new Date(Date.now() - SIGNIN_WINDOW_MS) },
    },
  });
}

/**
 * Local accounts: checks an email and password. Returns the user, or null for any failure (unknown
 * email, wrong password, no local password, disabled, too many recent failures).
 */
export async function verifyCredentials(input: {
  email: unknown;
  password: unknown;
  ip: string | null;
}): Promise<SignedInUser | null> {
  const email = typeof input.email === "string" ? input.email.trim().toLowerCase().slice(0, 320) : "";
  const password = typeof input.password === "string" ? input.password : "";
  const deny = async (reason: string) => {
    await recordAudit({
      actor: null,
      action: "auth.signin",
      outcome: "denied",
      targetType: "user",
      target: email || "(none)",
      ip: input.ip,
      details: { provider: "credentials", reason },
    });
    return null;
  };
  if (!email || !password) return deny("missing email or password");
  if (password.length > 1024) return deny("password too long");
  if ((await recentFailures(email)) >= SIGNIN_MAX_FAILURES) return deny("too many failures: throttled");
  const prisma = await db();
  const user = await prisma.user.findUnique({ where: { email } });
  const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH).catch(() => false);
  if (!user) return deny("unknown email");
  if (!user.passwordHash) return deny("no local password (single sign-on account)");
  if (!ok) return deny("wrong password");
  if (user.disabledAt) return deny("account disabled");
  await prisma.user.update({ where: { id: user.id }, data: { lastSignInAt: new Date() } });
  await recordAudit({
    actor: principalOfSession(user),
    action: "auth.signin",
    targetType: "user",
    target: email,
    ip: input.ip,
    details: { provider: "credentials" },
  });
  return { id: user.id, email: user.email, name: user.name, role: user.role };
}

/**
 * Single sign-on: maps a verified OIDC identity to a Hubkeep user by email, creating a viewer on
 * first sign-in (admins raise the role). The identity is linked as an Account row.
 */
export async function resolveOidcUser(input: {
  provider: string;
  subject: string;
  email: unknown;
  emailVerified: unknown;
  name: unknown;
  ip: string | null;
}): Promise<SignedInUser | null> {
  const email = typeof input.email === "string" ? input.email.trim().toLowerCase() : "";
  const deny = async (reason: string) => {
    await recordAudit({
      actor: null,
      action: "auth.signin",
      outcome: "denied",
      targetType: "user",
      target: email || `(${input.provider}:${input.subject})`,
      ip: input.ip,
      details: { provider: input.provider, subject: input.subject, reason },
    });
    return null;
  };
  if (!/^[^\s@]+@[^\s@]+$/.test(email)) return deny("the identity provider sent no email address");
  if (input.emailVerified === false || input.emailVerified === "false")
    return deny("the identity provider says the email is not verified");
  const prisma = await db();
  let user = await prisma.user.findUnique({ where: { email } });
  let created = false;
  if (!user) {
    user = await prisma.user.create({
      data: { email, role: "viewer", name: typeof input.name === "string" ? input.name.slice(0, 200) : null },
    });
    created = true;
  }
  if (user.disabledAt) return deny("account disabled");
  // An existing link is returned unchanged: an identity stays with the account it first signed in to.
  const linked = await prisma.account.upsert({
    where: { provider_providerAccountId: { provider: input.provider, providerAccountId: input.subject } },
    create: { userId: user.id, type: "oidc", provider: input.provider, providerAccountId: input.subject },
    update: {},
  });
  if (linked.userId !== user.id) return deny("this identity is linked to another account");
  await prisma.user.update({ where: { id: user.id }, data: { lastSignInAt: new Date() } });
  if (created) {
    await recordAudit({
      actor: null,
      action: "user.create",
      targetType: "user",
      target: email,
      ip: input.ip,
      details: { role: "viewer", via: `first sign-in with ${input.provider}` },
    });
  }
  await recordAudit({
    actor: principalOfSession(user),
    action: "auth.signin",
    targetType: "user",
    target: email,
    ip: input.ip,
    details: { provider: input.provider, subject: input.subject },
  });
  return { id: user.id, email: user.email, name: user.name, role: user.role };
}
