import NextAuth from "next-auth";
import { authOptions } from "@/lib/auth/nextauth.ts";

export const dynamic = "force-dynamic";

// next-auth's endpoints: /api/auth/signin, /callback/*, /signout, /session, /csrf, /providers.
async function handler(req: Request, ctx: { params: Promise<{ nextauth: string[] }> }) {
  return NextAuth(req as never, ctx as never, authOptions());
}

export { handler as GET, handler as POST };
