// Admin decisions on versions. Only `validated` versions can be approved; a `quarantined` one needs
// an explicit override with a reason. Deleting (an admin, or a retention rule) withdraws a version
// for good: it is never served again (410), its document and number stay. Every decision is
// audited with its note or reason.
import { AppError } from "../errors.ts";
import { recordAudit } from "./audit.ts";
import { actorUserId, type Principal } from "../auth/principal.ts";
import { forgetServable } from "./served-versions.ts";
import { forgetCatalogueCache } from "./catalogue.ts";
import { findVersion, transitionVersionOrThrow } from "./versions.ts";

type Target = { handle: string; version: number; actor: Principal; ip?: string | null };

async function find(handle: string, version: number) {
  const v = await findVersion(handle, version, { module: true });
  if (!v) throw new AppError("not_found", `no version ${version} of ${handle}`);
  return v;
}

export async function approveVersion(input: Target & { note?: string; overrideReason?: string }) {
  const v = await find(input.handle, input.version);
  const target = `${v.module.handle}/${v.number}`;
  if (v.status === "quarantined") {
    if (!input.overrideReason?.trim())
      throw new AppError(
        "conflict",
        `${target} is quarantined: approving it needs an override with a reason ("overrideReason")`,
        { status: v.status },
      );
  } else if (v.status !== "validated") {
    throw new AppError("conflict", `${target} is ${v.status}: only validated versions can be approved`, {
      status: v.status,
    });
  }
  // Compare-and-set from the status checked above: of two concurrent decisions exactly one wins.
  await transitionVersionOrThrow(
    v.id,
    [v.status],
    "approved",
    {
      approvedById: actorUserId(input.actor),
      approvedAt: new Date(),
      approvalNote: input.note?.trim() || null,
      overrideReason: v.status === "quarantined" ? input.overrideReason!.trim() : null,
    },
    { message: (now) => `${target} is ${now}: it changed while it was being approved; reload and decide again` },
  );
  await recordAudit({
    actor: input.actor,
    action: v.status === "quarantined" ? "version.approve_override" : "version.approve",
    targetType: "version",
    target,
    ip: input.ip ?? null,
    details: { note: input.note ?? null, overrideReason: input.overrideReason ?? null, digest: v.digest },
  });
  forgetServable(v.module.handle);
  forgetCatalogueCache();
  return { handle: v.module.handle, version: v.number, status: "approved" as const };
}

export async function rejectVersion(input: Target & { reason: string }) {
  const v = await find(input.handle, input.version);
  const target = `${v.module.handle}/${v.number}`;
  if (!input.reason?.trim()) throw new AppError("unprocessable_entity", "a rejection needs a reason");
  if (v.status === "rejected") throw new AppError("conflict", `${target} is already rejected`, { status: v.status });
  await transitionVersionOrThrow(
    v.id,
    [v.status],
    "rejected",
    { rejectedById: actorUserId(input.actor), rejectedAt: new Date(), rejectionReason: input.reason.trim() },
    { message: (now) => `${target} is ${now}: it changed while it was being rejected; reload and decide again` },
  );
  await recordAudit({
    actor: input.actor,
    action: "version.reject",
    targetType: "version",
    target,
    ip: input.ip ?? null,
    details: { reason: input.reason, previousStatus: v.status },
  });
  forgetServable(v.module.handle);
  forgetCatalogueCache();
  return { handle: v.module.handle, version: v.number, status: "rejected" as const, previousStatus: v.status };
}

/**
 * Deletes a version: status `deleted` with who, when and why. Its download URLs answer 410 Gone from
 * then on, its number is never reused, and its blobs are left to gc (which reclaims the bytes no
 * live version shares). `actor` null is the system (a retention rule, named in `reason`).
 */
export async function deleteVersion(input: Omit<Target, "actor"> & { actor: Principal | null; reason: string }) {
  const v = await find(input.handle, input.version);
  const target = `${v.module.handle}/${v.number}`;
  const reason = input.reason?.trim();
  if (!reason) throw new AppError("unprocessable_entity", "reason: a deletion needs a reason");
  if (reason.length > 2000) throw new AppError("unprocessable_entity", "reason: at most 2000 characters");
  if (v.status === "deleted")
    throw new AppError("conflict", `${target} is already deleted (${v.deletionReason ?? "no reason recorded"})`, {
      status: v.status,
    });
  await transitionVersionOrThrow(
    v.id,
    [v.status],
    "deleted",
    { deletedById: input.actor ? actorUserId(input.actor) : null, deletedAt: new Date(), deletionReason: reason },
    { message: (now) => `${target} is ${now}: it changed while it was being deleted; reload and decide again` },
  );
  await recordAudit({
    actor: input.actor,
    action: "version.delete",
    targetType: "version",
    target,
    ip: input.ip ?? null,
    details: { reason, previousStatus: v.status, digest: v.digest },
  });
  forgetServable(v.module.handle);
  forgetCatalogueCache();
  return { handle: v.module.handle, version: v.number, status: "deleted" as const, previousStatus: v.status };
}
