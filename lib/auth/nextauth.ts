// next-auth configuration: local accounts (bcrypt) always, and one OIDC provider when
// HUBKEEP_OIDC_ISSUER is set (Keycloak, Dex, Okta, Entra: anything with discovery). Sessions are
// next-auth's encrypted JWT cookie (HttpOnly, SameSite=Lax, Secure behind https) holding only the
// user id; lib/auth/session.ts turns it back into a user on every request.
import type { AuthOptions } from "next-auth";
import CredentialsModule from "next-auth/providers/credentials";
import { getEnv } from "../env.ts";
import { authSecret } from "./secret.ts";
import { resolveOidcUser, verifyCredentials } from "./signin.ts";
import { SESSION_MAX_AGE_S, SESSION_UPDATE_AGE_S, secureCookies } from "./session.ts";
import { peerIp } from "../http/authenticate.ts";
import { principalOfSession } from "./principal.ts";

export const OIDC_PROVIDER_ID = "oidc";

// A CommonJS module: bundlers hand over its default export, plain Node ESM the exports object.
const CredentialsProvider =
  (CredentialsModule as unknown as { default?: typeof CredentialsModule }).default ?? CredentialsModule;

type HeaderBag = Record<string, string | string[] | undefined> | undefined;

function ipFrom(headers: HeaderBag): string | null {
  const get = (k: string) => {
    const v = headers?.[k];
    return Array.isArray(v) ? (v[0] ?? null) : (v ?? null);
  };
  return peerIp({ get });
}

/** The caller's address inside a next-auth callback (which is given no request). */
async function requestIp(): Promise<string | null> {
  try {
    const { headers } = await import("next/headers");
    return peerIp(await headers());
  } catch {
    return null;
  }
}

export function authOptions(): AuthOptions {
  const env = getEnv();
  // next-auth builds its callback URLs from NEXTAUTH_URL. Next 16 rewrites 127.x request hosts to
  // `localhost`, so the configured public URL is the only reliable base.
  process.env.NEXTAUTH_URL ??= env.publicUrl;
  const providers: AuthOptions["providers"] = [
    CredentialsProvider({
      id: "credentials",
      name: "Email and password",
      credentials: { email: { label: "Email", type: "email" }, password: { label: "Password", type: "password" } },
      async authorize(credentials, req) {
        const user = await verifyCredentials({
          email: credentials?.email,
          password: credentials?.password,
          ip: ipFrom(req?.headers as HeaderBag),
        });
        return user ? { id: user.id, email: user.email, name: user.name } : null;
      },
    }),
  ];
  if (env.oidc) {
    providers.push({
      id: OIDC_PROVIDER_ID,
      name: "Single sign-on",
      type: "oauth",
      wellKnown: `${env.oidc.issuer}/.well-known/openid-configuration`,
      clientId: env.oidc.clientId,
      clientSecret: env.oidc.clientSecret ?? "",
      ...(env.oidc.clientSecret ? {} : { client: { token_endpoint_auth_method: "none" } }),
      authorization: { params: { scope: "openid email profile" } },
      idToken: true,
      checks: ["pkce", "state"],
      profile(profile: Record<string, unknown>) {
        return {
          id: String(profile.sub),
          email: typeof profile.email === "string" ? profile.email : null,
          name:
            typeof profile.name === "string"
              ? profile.name
              : typeof profile.preferred_username === "string"
                ? profile.preferred_username
                : null,
          emailVerified: profile.email_verified,
        } as never;
      },
    });
  }
  return {
    secret: authSecret(),
    useSecureCookies: secureCookies(),
    session: { strategy: "jwt", maxAge: SESSION_MAX_AGE_S, updateAge: SESSION_UPDATE_AGE_S },
    jwt: { maxAge: SESSION_MAX_AGE_S },
    pages: { signIn: "/signin", error: "/signin" },
    providers,
    callbacks: {
      async signIn({ user, account, profile }) {
        if (account?.provider !== OIDC_PROVIDER_ID) return Boolean(user?.id);
        const p = (profile ?? {}) as Record<string, unknown>;
        const resolved = await resolveOidcUser({
          provider: OIDC_PROVIDER_ID,
          subject: String(account.providerAccountId),
          email: p.email,
          emailVerified: p.email_verified,
          name: p.name ?? p.preferred_username,
          ip: await requestIp(),
        });
        if (!resolved) return false;
        // From here on the session refers to the Hubkeep user, not the issuer's subject.
        user.id = resolved.id;
        user.email = resolved.email;
        return true;
      },
      async jwt({ token, user }) {
        if (user?.id) {
          token.uid = user.id;
          token.signedInAt = Date.now();
        }
        return token;
      },
      async session({ session, token }) {
        return { ...session, user: { ...session.user, id: token.uid } } as typeof session;
      },
    },
    events: {
      async signOut({ token }) {
        const uid = typeof token?.uid === "string" ? token.uid : null;
        if (!uid) return;
        const { db } = await import("../db/client.ts");
        const user = await (await db()).user.findUnique({ where: { id: uid } });
        if (!user) return;
        const { recordAudit } = await import("../models/audit.ts");
        await recordAudit({
          actor: principalOfSession(user),
          action: "auth.signout",
          targetType: "user",
          target: user.email,
          ip: await requestIp(),
        });
      },
    },
    logger: {
      error: (code, meta) => console.error(`hubkeep: auth: ${code}`, meta instanceof Error ? meta.message : ""),
      warn: () => {},
      debug: () => {},
    },
  };
}
