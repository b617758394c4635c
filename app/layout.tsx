import type { Metadata } from "next";
import type { ReactNode } from "react";
import "./globals.css";
import { pageContext } from "@/lib/http/page-context.ts";
import { canAdminister, canPublish } from "@/lib/auth/permissions.ts";
import { isUser } from "@/lib/auth/principal.ts";
import { SignOutButton } from "./ui/client.tsx";

export const metadata: Metadata = {
  title: "Hubkeep",
  description: "Your organisation's model registry and TensorFlow Hub mirror",
};

export default async function RootLayout({ children }: { children: ReactNode }) {
  const { principal } = await pageContext("/");
  const user = isUser(principal) ? principal : null;
  return (
    <html lang="en">
      <body>
        <a className="skip" href="#main">
          Skip to content
        </a>
        <header className="topbar">
          <a href="/" className="brand">
            Hubkeep
          </a>
          <nav aria-label="Main">
            <a href="/">Catalogue</a>
            {user && canPublish(user) && <a href="/upload">Upload</a>}
            {user && canAdminister(user) && <a href="/admin">Admin</a>}
            {user && <a href="/tokens">API tokens</a>}
          </nav>
          <div className="who">
            {user ? (
              <>
                <span className="meta">
                  {user.email} · {user.role}
                </span>
                <SignOutButton />
              </>
            ) : (
              <a href="/signin">Sign in</a>
            )}
          </div>
        </header>
        <main id="main">{children}</main>
      </body>
    </html>
  );
}
