"use client";
// Client-side pieces: copy buttons, sign-out, select-all.
import { useState } from "react";
import { signOut } from "next-auth/react";

export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const [copied, setCopied] = useState<"idle" | "done" | "failed">("idle");
  return (
    <button
      type="button"
      className="btn btn-small"
      aria-live="polite"
      onClick={async () => {
        try {
          await navigator.clipboard.writeText(text);
          setCopied("done");
        } catch {
          setCopied("failed");
        }
        setTimeout(() => setCopied("idle"), 2000);
      }}
    >
      {copied === "done" ? "Copied" : copied === "failed" ? "Select and copy" : label}
    </button>
  );
}

export function SignOutButton() {
  return (
    <button type="button" className="linklike" onClick={() => void signOut({ callbackUrl: "/" })}>
      Sign out
    </button>
  );
}

/** Checks or clears every checkbox named `name` that belongs to form `form`. */
export function SelectAll({ form, name }: { form: string; name: string }) {
  return (
    <label className="inline">
      <input
        type="checkbox"
        onChange={(e) => {
          const boxes = document.querySelectorAll<HTMLInputElement>(
            `input[type=checkbox][form="${form}"][name="${name}"]`,
          );
          boxes.forEach((b) => (b.checked = e.currentTarget.checked));
        }}
      />{" "}
      Select all
    </label>
  );
}
