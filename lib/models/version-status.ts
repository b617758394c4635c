// The version lifecycle: the statuses (Prisma's enum), which changes are allowed, and the groups
// the screens and the review queue use. Pure, so client components import it too; the only code
// that changes a status is transitionVersion in ./versions.ts.
import { VersionStatus } from "../db/generated/enums.ts";

export { VersionStatus };

/** Every status, in the schema's order. */
export const VERSION_STATUSES = Object.values(VersionStatus) as [VersionStatus, ...VersionStatus[]];

/**
 * Every status change a version may make, from -> to. `pending` is where a version is created;
 * validation moves it to `validating` and on to its verdict, or back to `pending` after an
 * infrastructure error (or when its worker died and another takes over); re-validation returns an
 * undecided version to `pending`; approval needs `validated` (or `quarantined` with an override);
 * rejection is allowed from anything not already rejected. An admin (or a retention rule) may
 * delete a version in any status but `deleted`, which is final: the row and its number stay.
 */
export const VERSION_TRANSITIONS: Readonly<Record<VersionStatus, readonly VersionStatus[]>> = {
  pending: ["validating", "pending", "rejected", "deleted"],
  validating: ["validated", "failed", "quarantined", "pending", "rejected", "deleted"],
  validated: ["validating", "pending", "approved", "rejected", "deleted"],
  failed: ["validating", "pending", "rejected", "deleted"],
  quarantined: ["validating", "pending", "approved", "rejected", "deleted"],
  approved: ["rejected", "deleted"],
  rejected: ["deleted"],
  deleted: [],
};

/** Statuses that still need an admin, in the review queue's order: decided ones never appear. */
export const AWAITING = [
  "validated",
  "quarantined",
  "failed",
  "validating",
  "pending",
] as const satisfies readonly VersionStatus[];
export type AwaitingStatus = (typeof AWAITING)[number];

/** Statuses a direct validation call re-validates from (the job only takes `pending`). */
export const VALIDATABLE: readonly VersionStatus[] = ["pending", "validated", "failed", "quarantined"];

/** Validation has finished (a verdict or a decision): progress screens stop polling. */
export function isSettled(status: string): boolean {
  return (
    status === "validated" ||
    status === "failed" ||
    status === "quarantined" ||
    status === "approved" ||
    status === "rejected" ||
    status === "deleted"
  );
}

/** An admin decided the version (or deleted it): it is never validated again. */
export function isDecided(status: string): status is "approved" | "rejected" | "deleted" {
  return status === "approved" || status === "rejected" || status === "deleted";
}
