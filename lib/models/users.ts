// Users: local accounts (passwords hashed by lib/auth/password.ts) and roles. OIDC users arrive
// through next-auth with no password.
import { generatePassword, hashPassword } from "../auth/password.ts";
import { ADVISORY_LOCKS, db, lockTransaction } from "../db/client.ts";
import { AppError } from "../errors.ts";
import { recordAudit } from "./audit.ts";
import type { Principal, Role } from "../auth/principal.ts";

export type CreateUserInput = {
  email: string;
  role: Role;
  password?: string;
  actor: Principal | null;
  ip?: string | null;
  mustBeNew?: boolean;
};

/** Creates a user, or updates the role (and password, if given) of an existing one. */
export async function createUser(input: CreateUserInput) {
  const prisma = await db();
  const email = input.email.trim().toLowerCase();
  if (!/^[^\s@]+@[^\s@]+$/.test(email))
    throw new AppError("unprocessable_entity", `"${input.email}" is not an email address`);
  if (input.password !== undefined && input.password.length < 8) {
    throw new AppError("unprocessable_entity", "password must be at least 8 characters");
  }
  const passwordHash = input.password !== undefined ? await hashPassword(input.password) : undefined;
  const existing = await prisma.user.findUnique({ where: { email } });
  if (existing && input.mustBeNew) throw new AppError("conflict", `user ${email} already exists`);
  const user = existing
    ? await prisma.user.update({
        where: { id: existing.id },
        data: {
          role: input.role,
          ...(passwordHash ? { passwordHash } : {}),
          ...(passwordHash || existing.role !== input.role ? { sessionsValidFrom: new Date() } : {}),
        },
      })
    : await prisma.user.create({ data: { email, role: input.role, passwordHash } });
  await recordAudit({
    actor: input.actor,
    action: existing ? "user.update" : "user.create",
    ip: input.ip,
    targetType: "user",
    target: email,
    details: {
      role: input.role,
      passwordSet: passwordHash !== undefined,
      ...(existing ? { previousRole: existing.role } : {}),
    },
  });
  return user;
}

export const DEFAULT_ADMIN_EMAIL = "admin@hubkeep.local";

/**
 * Start-up: if no admin exists, create one from HUBKEEP_ADMIN_EMAIL/PASSWORD. Without a password a
 * random one is generated and returned so the caller prints it once.
 */
export async function ensureBootstrapAdmin(opts: {
  email?: string;
  password?: string;
}): Promise<{ email: string; generatedPassword?: string } | null> {
  const prisma = await db();
  const active = { role: "admin" as const, disabledAt: null };
  if ((await prisma.user.count({ where: active })) > 0) return null;
  const email = (opts.email ?? DEFAULT_ADMIN_EMAIL).toLowerCase();
  const generatedPassword = opts.password ? undefined : generatePassword();
  const passwordHash = await hashPassword(opts.password ?? generatedPassword!);
  // Replicas starting together: the first to take the lock creates the admin, the rest find it.
  const created = await prisma.$transaction(async (tx) => {
    await lockTransaction(tx, ADVISORY_LOCKS.bootstrapAdmin);
    if ((await tx.user.count({ where: active })) > 0) return false;
    const existing = await tx.user.findUnique({ where: { email } });
    if (existing)
      await tx.user.update({
        where: { id: existing.id },
        data: { role: "admin", passwordHash, sessionsValidFrom: new Date() },
      });
    else await tx.user.create({ data: { email, role: "admin", passwordHash } });
    await recordAudit(
      {
        actor: null,
        action: existing ? "user.update" : "user.create",
        targetType: "user",
        target: email,
        details: {
          role: "admin",
          passwordSet: true,
          bootstrap: true,
          ...(existing ? { previousRole: existing.role } : {}),
        },
      },
      tx,
    );
    return true;
  });
  return created ? { email, generatedPassword } : null;
}

/** Users with their namespaces and token counts (admin screen, GET /api/v1/users). */
export async function listUsers(opts: { id?: string } = {}) {
  const prisma = await db();
  const rows = await prisma.user.findMany({
    where: opts.id ? { id: opts.id } : {},
    orderBy: { email: "asc" },
    include: {
      namespaces: { orderBy: { pattern: "asc" } },
      accounts: { select: { provider: true } },
      _count: { select: { apiTokens: { where: { revokedAt: null } } } },
    },
  });
  return rows.map((u) => ({
    id: u.id,
    email: u.email,
    name: u.name,
    role: u.role,
    namespaces: u.namespaces.map((n) => n.pattern),
    signIn: [...(u.passwordHash ? ["password"] : []), ...u.accounts.map((a) => a.provider)],
    disabled: u.disabledAt !== null,
    lastSignInAt: u.lastSignInAt,
    activeTokens: u._count.apiTokens,
    createdAt: u.createdAt,
  }));
}

const NAMESPACE_RE = /^[a-z0-9*?_.\-/]+$/;

export type UpdateUserInput = {
  id: string;
  role?: Role;
  namespaces?: string[];
  disabled?: boolean;
  password?: string;
  actor: Principal;
  ip?: string | null;
};

/**
 * Admin changes to a user; each kind of change is audited as its own event (role change, namespace
 * change, disable/enable, password reset). A change of role, a disable or a password reset signs the
 * user out everywhere. The last enabled admin cannot be demoted or disabled.
 */
export async function updateUser(input: UpdateUserInput) {
  const prisma = await db();
  const user = await prisma.user.findUnique({ where: { id: input.id }, include: { namespaces: true } });
  if (!user) throw new AppError("not_found", `no user ${input.id}`);
  const losesAdmin =
    user.role === "admin" && ((input.role !== undefined && input.role !== "admin") || input.disabled === true);
  if (losesAdmin) {
    const admins = await prisma.user.count({ where: { role: "admin", disabledAt: null } });
    if (admins <= 1) throw new AppError("conflict", `${user.email} is the last admin: make another admin first`);
  }
  const namespaces = input.namespaces?.map((n) => n.trim().toLowerCase()).filter(Boolean);
  for (const n of namespaces ?? []) {
    if (!NAMESPACE_RE.test(n) || n.length > 200)
      throw new AppError("unprocessable_entity", `namespace "${n}" may only hold handle characters, * and ?`);
    if (!n.includes("/"))
      throw new AppError(
        "unprocessable_entity",
        `namespace "${n}" must have at least two segments, e.g. internal/${n}/*`,
      );
  }
  if (input.password !== undefined && input.password.length < 8)
    throw new AppError("unprocessable_entity", "password must be at least 8 characters");
  const audit = (action: string, details: Record<string, unknown>) =>
    recordAudit({ actor: input.actor, action, targetType: "user", target: user.email, ip: input.ip, details });
  const signOut =
    (input.role !== undefined && input.role !== user.role) ||
    (input.disabled === true && !user.disabledAt) ||
    input.password !== undefined;
  await prisma.$transaction(async (tx) => {
    await tx.user.update({
      where: { id: user.id },
      data: {
        ...(input.role !== undefined ? { role: input.role } : {}),
        ...(input.disabled !== undefined
          ? { disabledAt: input.disabled ? (user.disabledAt ?? new Date()) : null }
          : {}),
        ...(input.password !== undefined ? { passwordHash: await hashPassword(input.password) } : {}),
        ...(signOut ? { sessionsValidFrom: new Date() } : {}),
      },
    });
    if (namespaces) {
      await tx.publisherNamespace.deleteMany({ where: { userId: user.id, pattern: { notIn: namespaces } } });
      await tx.publisherNamespace.createMany({
        data: namespaces.map((pattern) => ({ userId: user.id, pattern })),
        skipDuplicates: true,
      });
    }
  });
  if (input.role !== undefined && input.role !== user.role)
    await audit("user.role", { from: user.role, to: input.role });
  const before = user.namespaces.map((n) => n.pattern).sort();
  if (namespaces && JSON.stringify([...new Set(namespaces)].sort()) !== JSON.stringify(before))
    await audit("user.namespaces", { from: before, to: [...new Set(namespaces)].sort() });
  if (input.disabled !== undefined && input.disabled !== (user.disabledAt !== null))
    await audit(input.disabled ? "user.disable" : "user.enable", {});
  if (input.password !== undefined) await audit("user.password", {});
  return (await listUsers({ id: user.id }))[0]!;
}
