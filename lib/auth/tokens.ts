// API tokens: `hk_` + 32 random bytes (base64url), so secret scanners can recognise them. Only the
// SHA-256 of the whole token is stored: the token has 256 bits of entropy, so a database dump
// (hashes only) cannot be turned back into a credential.
import { createHash, randomBytes } from "node:crypto";
import { db } from "../db/client.ts";
import { AppError } from "../errors.ts";
import { recordAudit } from "../models/audit.ts";
import { roleForScope, scopeAllowedForRole } from "./permissions.ts";
import type { Principal, TokenScope, UserPrincipal } from "./principal.ts";

export const TOKEN_PREFIX = "hk_";
const TOKEN_RE = /^hk_[A-Za-z0-9_-]{43}$/;

export function generateApiToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString("base64url");
}

export function hashApiToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

export function looksLikeApiToken(value: string): boolean {
  return TOKEN_RE.test(value);
}

export type CreateApiTokenInput = {
  email: string;
  scope: TokenScope;
  name?: string;
  expiresInDays?: number;
  /** Create the user if missing (CLI on the server host), with the role the scope needs. */
  createUserIfMissing?: boolean;
  actor: Principal | null;
  ip?: string | null;
};

/** Creates a token and returns it once; only its hash is kept. */
export async function createApiToken(
  input: CreateApiTokenInput,
): Promise<{ token: string; id: string; expiresAt: Date | null }> {
  const prisma = await db();
  const email = input.email.trim().toLowerCase();
  let user = await prisma.user.findUnique({ where: { email } });
  if (!user) {
    if (!input.createUserIfMissing) throw new AppError("not_found", `no user ${email}`);
    user = await prisma.user.create({ data: { email, role: roleForScope(input.scope) } });
    await recordAudit({
      actor: input.actor,
      action: "user.create",
      targetType: "user",
      target: email,
      details: { role: user.role, via: "token create" },
    });
  }
  if (user.disabledAt) throw new AppError("forbidden", `user ${email} is disabled`);
  if (!scopeAllowedForRole(input.scope, user.role)) {
    throw new AppError("forbidden", `scope ${input.scope} is above the ${user.role} role of ${email}`);
  }
  if (input.expiresInDays !== undefined && (!Number.isFinite(input.expiresInDays) || input.expiresInDays <= 0)) {
    throw new AppError("unprocessable_entity", "expires must be a positive number of days");
  }
  const token = generateApiToken();
  const expiresAt = input.expiresInDays ? new Date(Date.now() + input.expiresInDays * 86_400_000) : null;
  const row = await prisma.apiToken.create({
    data: {
      userId: user.id,
      name: input.name ?? `token ${new Date().toISOString().slice(0, 10)}`,
      prefix: token.slice(0, 10),
      tokenHash: hashApiToken(token),
      scope: input.scope,
      expiresAt,
    },
  });
  await recordAudit({
    actor: input.actor,
    action: "token.create",
    targetType: "user",
    target: email,
    ip: input.ip,
    details: { tokenId: row.id, scope: input.scope, expiresAt },
  });
  return { token, id: row.id, expiresAt };
}

/** Revokes a token (idempotent). */
export async function revokeApiToken(input: {
  tokenId: string;
  actor: Principal | null;
  ip?: string | null;
}): Promise<void> {
  const prisma = await db();
  const row = await prisma.apiToken.findUnique({ where: { id: input.tokenId }, include: { user: true } });
  if (!row) throw new AppError("not_found", `no token ${input.tokenId}`);
  if (!row.revokedAt) await prisma.apiToken.update({ where: { id: row.id }, data: { revokedAt: new Date() } });
  await recordAudit({
    actor: input.actor,
    action: "token.revoke",
    targetType: "user",
    target: row.user.email,
    ip: input.ip,
    details: { tokenId: row.id, alreadyRevoked: row.revokedAt !== null },
  });
}

const LAST_USED_RESOLUTION_MS = 60_000;

/**
 * Resolves a bearer token to its user. Any failure (unknown, malformed, expired, revoked, disabled
 * user) is the same 401 with no hint which part was wrong; the reason goes to the audit log.
 */
export async function authenticateApiToken(token: string, ip?: string | null): Promise<UserPrincipal> {
  const prisma = await db();
  const fail = async (why: string, detail?: Record<string, unknown>) => {
    await recordAudit({
      actor: null,
      action: "auth.token",
      outcome: "denied",
      ip,
      details: { reason: why, prefix: token.slice(0, 10), ...detail },
    });
    return new AppError("unauthorized", "invalid or expired credentials");
  };
  if (!looksLikeApiToken(token)) throw await fail("malformed");
  const row = await prisma.apiToken.findUnique({
    where: { tokenHash: hashApiToken(token) },
    include: { user: { include: { namespaces: true } } },
  });
  if (!row) throw await fail("unknown");
  if (row.revokedAt) throw await fail("revoked", { tokenId: row.id });
  if (row.expiresAt && row.expiresAt.getTime() <= Date.now()) throw await fail("expired", { tokenId: row.id });
  if (row.user.disabledAt) throw await fail("user disabled", { tokenId: row.id });
  if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
    // Off the request's critical path; a lost update only loses a timestamp.
    prisma.apiToken.update({ where: { id: row.id }, data: { lastUsedAt: new Date() } }).catch(() => {});
  }
  return {
    kind: "user",
    userId: row.user.id,
    email: row.user.email,
    role: row.user.role,
    scope: row.scope,
    via: "token",
    tokenId: row.id,
    namespaces: row.user.namespaces.map((n) => n.pattern),
  };
}

/** Tokens for the token screens and GET /api/v1/tokens: one user's, or everyone's (admin). Never the secret. */
export async function listApiTokens(opts: { userId?: string }) {
  const prisma = await db();
  const rows = await prisma.apiToken.findMany({
    where: opts.userId ? { userId: opts.userId } : {},
    include: { user: { select: { email: true } } },
    orderBy: [{ revokedAt: { sort: "desc", nulls: "first" } }, { createdAt: "desc" }],
    take: 500,
  });
  const now = Date.now();
  return rows.map((t) => ({
    id: t.id,
    name: t.name,
    prefix: t.prefix,
    scope: t.scope,
    owner: t.user.email,
    userId: t.userId,
    createdAt: t.createdAt,
    expiresAt: t.expiresAt,
    lastUsedAt: t.lastUsedAt,
    revokedAt: t.revokedAt,
    state: t.revokedAt
      ? ("revoked" as const)
      : t.expiresAt && t.expiresAt.getTime() <= now
        ? ("expired" as const)
        : ("active" as const),
  }));
}

/** The owner of a token, for permission checks before revoking it. */
export async function tokenOwner(tokenId: string): Promise<string | null> {
  const prisma = await db();
  const row = await prisma.apiToken.findUnique({ where: { id: tokenId }, select: { userId: true } });
  return row?.userId ?? null;
}
