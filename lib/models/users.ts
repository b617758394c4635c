// Users and local passwords (bcrypt). OIDC users arrive through next-auth with no password.
import { randomBytes } from "node:crypto";
import bcrypt from "bcryptjs";
import { db } from "../db/client.ts";
import { AppError } from "../errors.ts";
import { recordAudit } from "../audit.ts";
import type { Principal, RoleName } from "../auth/principal.ts";

const BCRYPT_COST = 12;

export async function hashPassword(password: string): Promise<string> {
  return bcrypt.hash(password, BCRYPT_COST);
}

export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  return bcrypt.compare(password, hash);
}

export function generatePassword(): string {
  return randomBytes(18).toString("base64url");
}

export type CreateUserInput = { email: string; role: RoleName; password?: string; actor: Principal | null };

/** Creates a user, or updates the role (and password, if given) of an existing one. */
export async function createUser(input: CreateUserInput) {
  const prisma = await db();
  const email = input.email.trim().toLowerCase();
  if (!/^[^\s@]+@[^\s@]+$/.test(email)) throw new AppError("unprocessable_entity", `"${input.email}" is not an email address`);
  if (input.password !== undefined && input.password.length < 8) {
    throw new AppError("unprocessable_entity", "password must be at least 8 characters");
  }
  const passwordHash = input.password !== undefined ? await hashPassword(input.password) : undefined;
  const existing = await prisma.user.findUnique({ where: { email } });
  const user = existing
    ? await prisma.user.update({ where: { id: existing.id }, data: { role: input.role, ...(passwordHash ? { passwordHash } : {}) } })
    : await prisma.user.create({ data: { email, role: input.role, passwordHash } });
  await recordAudit({
    actor: input.actor,
    action: existing ? "user.update" : "user.create",
    targetType: "user",
    target: email,
    details: { role: input.role, passwordSet: passwordHash !== undefined, ...(existing ? { previousRole: existing.role } : {}) },
  });
  return user;
}

export const DEFAULT_ADMIN_EMAIL = "admin@hubkeep.local";

/**
 * Start-up: if no admin exists, create one from HUBKEEP_ADMIN_EMAIL/PASSWORD. Without a password a
 * random one is generated and returned so the caller prints it once.
 */
export async function ensureBootstrapAdmin(opts: { email?: string; password?: string }): Promise<{ email: string; generatedPassword?: string } | null> {
  const prisma = await db();
  const admins = await prisma.user.count({ where: { role: "admin", disabledAt: null } });
  if (admins > 0) return null;
  const email = (opts.email ?? DEFAULT_ADMIN_EMAIL).toLowerCase();
  const generatedPassword = opts.password ? undefined : generatePassword();
  await createUser({ email, role: "admin", password: opts.password ?? generatedPassword, actor: null });
  return { email, generatedPassword };
}
