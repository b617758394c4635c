// The grammar of a model in a path: `{handle}[/{n}]`, a handle of two or more segments, then an
// optional version number. The hub (lib/hub/hub-path.ts), the API (lib/http/model-path.ts), the
// catalogue page and the URLs users paste (lib/upstream/handles.ts) all read versions by this rule.

/** The largest version number: `Version.number` is a 32-bit integer column. */
export const MAX_VERSION_NUMBER = 2_147_483_647;

/** One handle segment: letters, digits, `.`, `_` and `-`, starting with a letter or a digit. */
export const HANDLE_SEGMENT = /^[a-z0-9][a-z0-9._-]*$/i;

/**
 * A segment that reads as a version: all digits. A handle never ends in one (checkHandle), so such a
 * segment is a version or nothing, never part of a handle that exists.
 */
export const VERSION_SEGMENT = /^\d+$/;

const CANONICAL_NUMBER = /^[1-9][0-9]{0,9}$/;

/** A handle and the version its path pins; `version` is null for the unpinned `/{handle}`. */
export type HandleAndVersion = { handle: string; version: number | null };

/** Whether a number is a version number: an integer from 1 to MAX_VERSION_NUMBER. */
export function isVersionNumber(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= MAX_VERSION_NUMBER;
}

/**
 * The version number a path segment names: a decimal integer from 1 to MAX_VERSION_NUMBER, written
 * without sign or leading zeros (one spelling per version, so a pinned URL is one cache key). Null
 * for anything else.
 */
export function parseVersionNumber(segment: string | undefined): number | null {
  if (segment === undefined || !CANONICAL_NUMBER.test(segment)) return null;
  const n = Number(segment);
  return isVersionNumber(n) ? n : null;
}

/**
 * Splits decoded path segments `[0, end)` into a lowercase handle and the version the last one
 * names, if it names one. Null when fewer than two segments are left for the handle.
 */
export function splitHandleAndVersion(segments: readonly string[], end = segments.length): HandleAndVersion | null {
  const version = end > 0 ? parseVersionNumber(segments[end - 1]) : null;
  const handleEnd = version === null ? end : end - 1;
  if (handleEnd < 2) return null;
  return { handle: segments.slice(0, handleEnd).join("/").toLowerCase(), version };
}

/**
 * The catalogue page's path, `/{handle}` or `/{handle}/{n}`, from the catch-all's percent-encoded
 * segments. Null when it names no model (the page answers 404).
 */
export function parseModelPagePath(segments: readonly string[]): HandleAndVersion | null {
  return splitHandleAndVersion(segments.map((s) => decodeURIComponent(s)));
}
