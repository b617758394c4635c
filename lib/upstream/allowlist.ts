// Which upstream handles may be mirrored: the rules and how they decide. Rules are globs on handles
// (`google/*`, `tensorflow/tfjs-model/*`); a rule written `!pattern` denies, and a deny rule always
// wins. Pure: the saved rules, their seeding and changes live in lib/models/allowlist.ts.
import { AppError } from "../errors.ts";
import { handleMatches } from "../auth/permissions.ts";

/** One allowlist rule: a handle glob that allows or denies mirroring. */
export type Rule = { pattern: string; effect: "allow" | "deny" };

/** The outcome of the rules for one handle, naming the deciding rule (none when nothing allowed it). */
export type RuleDecision = { allowed: true; rule: Rule } | { allowed: false; rule: Rule | null; reason: string };

export function formatRule(rule: Rule): string {
  return rule.effect === "deny" ? `!${rule.pattern}` : rule.pattern;
}

/** Parses `google/*` / `!google/experimental/*` into a rule (validating the pattern). */
export function parseRule(text: string): Rule {
  const t = text.trim();
  const deny = t.startsWith("!");
  const pattern = (deny ? t.slice(1) : t).trim().toLowerCase();
  if (
    !pattern ||
    !/^[a-z0-9*?_.\-/]+$/.test(pattern) ||
    pattern.includes("//") ||
    pattern.split("/").some((s) => s === "..")
  ) {
    throw new AppError(
      "unprocessable_entity",
      `"${text}" is not a valid rule: use handle characters, * and ?, with an optional leading !`,
    );
  }
  return { pattern, effect: deny ? "deny" : "allow" };
}

/**
 * A handle glob outside the allowlist (a quota's namespace, a retention rule's match): the allowlist's
 * pattern syntax without the `!`. Answers the normalised pattern; the error names `field`.
 */
export function parseHandleGlob(text: unknown, field: string): string {
  if (typeof text !== "string" || text.trim() === "")
    throw new AppError("unprocessable_entity", `${field}: a handle glob is required, e.g. "research/*"`);
  let rule: Rule | null = null;
  try {
    rule = parseRule(text);
  } catch {
    // answered below, naming the field
  }
  if (!rule || rule.effect === "deny")
    throw new AppError("unprocessable_entity", `${field}: "${text}" is not a handle glob (handle characters, * and ?)`);
  return rule.pattern;
}

/** Pure decision: deny rules win; otherwise the first matching allow rule; otherwise refused. */
export function evaluateRules(rules: Rule[], handle: string): RuleDecision {
  const deny = rules.find((r) => r.effect === "deny" && handleMatches(r.pattern, handle));
  if (deny) return { allowed: false, rule: deny, reason: `"${handle}" is denied by rule "${formatRule(deny)}"` };
  const allow = rules.find((r) => r.effect === "allow" && handleMatches(r.pattern, handle));
  if (allow) return { allowed: true, rule: allow };
  return { allowed: false, rule: null, reason: `no rule allows "${handle}"` };
}

export type RulePreview = {
  rule: Rule;
  /** Existing models the pattern matches, with whether mirroring them is allowed now and after saving. */
  matches: Array<{ handle: string; source: string; allowedNow: boolean; allowedAfter: boolean }>;
  total: number;
  changed: number;
};

/** What adding `rule` to `rules` would do to `modules`: the ones it matches and whose decision flips. */
export function previewRuleOn(
  rules: Rule[],
  rule: Rule,
  modules: Array<{ handle: string; source: string }>,
  limit = 200,
): RulePreview {
  const after = [...rules, rule];
  const all = modules
    .filter((m) => handleMatches(rule.pattern, m.handle))
    .map((m) => ({
      handle: m.handle,
      source: m.source,
      allowedNow: evaluateRules(rules, m.handle).allowed,
      allowedAfter: evaluateRules(after, m.handle).allowed,
    }));
  return {
    rule,
    matches: all.slice(0, limit),
    total: all.length,
    changed: all.filter((m) => m.allowedNow !== m.allowedAfter).length,
  };
}

/** How many of `handles` each rule's pattern matches, by rule id. */
export function countRuleMatches(rules: Array<Rule & { id: string }>, handles: string[]): Map<string, number> {
  return new Map(rules.map((r) => [r.id, handles.filter((h) => handleMatches(r.pattern, h)).length]));
}
