// Admin decisions on versions. Only `validated` versions can be approved; a `quarantined` one needs
// an explicit override with a reason. Every decision is audited with its note or reason.
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
