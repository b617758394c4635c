import type { Metadata } from "next";
import type { ReactNode } from "react";
import "./globals.css";

export const metadata: Metadata = {
  title: "Hubkeep",
  description: "Your organisation's model registry and TensorFlow Hub mirror",
};

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <header className="topbar">
          <a href="/" className="brand">
            Hubkeep
          </a>
          <nav aria-label="Main">
            <a href="/">Catalogue</a>
            <a href="/healthz">Health</a>
          </nav>
        </header>
        <main>{children}</main>
      </body>
    </html>
  );
}
