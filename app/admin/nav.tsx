"use client";
import { usePathname } from "next/navigation";

const LINKS = [
  ["/admin", "Review queue"],
  ["/admin/mirrors", "Mirrors"],
  ["/admin/allowlist", "Allowlist"],
  ["/admin/storage", "Storage"],
  ["/admin/users", "Users & tokens"],
  ["/admin/webhooks", "Webhooks"],
  ["/admin/audit", "Audit log"],
] as const;

export function AdminNav() {
  const path = usePathname();
  return (
    <nav className="subnav" aria-label="Admin">
      {LINKS.map(([href, label]) => (
        <a key={href} href={href} aria-current={path === href ? "page" : undefined}>
          {label}
        </a>
      ))}
    </nav>
  );
}
