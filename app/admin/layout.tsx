import type { ReactNode } from "react";
import { AdminNav } from "./nav.tsx";

// The admin area's frame. It decides nothing: every page and action checks its own permission.
export default function AdminLayout({ children }: { children: ReactNode }) {
  return (
    <div className="admin">
      <AdminNav />
      <div className="admin-body">{children}</div>
    </div>
  );
}
