// A minimal OpenID Connect issuer on loopback for tests: discovery, JWKS, an authorization endpoint
// that signs in whichever user the test chose (no login form), a token endpoint that checks the
// client secret and PKCE, and userinfo. ID tokens are RS256 JWTs signed with a key made per run.
import http from "node:http";
import type net from "node:net";
import { createHash, createSign, generateKeyPairSync, randomBytes } from "node:crypto";

export type OidcUser = { sub: string; email?: string; email_verified?: boolean; name?: string };

export type FakeOidc = {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Who the next authorization signs in. */
  user: OidcUser;
  /** Token requests seen, for assertions. */
  tokenRequests: number;
  close(): Promise<void>;
};

const b64url = (b: Buffer | string) => Buffer.from(b).toString("base64url");

export async function startFakeOidc(): Promise<FakeOidc> {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const kid = randomBytes(6).toString("hex");
  const jwk = { ...publicKey.export({ format: "jwk" }), kid, alg: "RS256", use: "sig" };
  const codes = new Map<
    string,
    { redirectUri: string; challenge: string | null; nonce: string | null; user: OidcUser; clientId: string }
  >();
  const tokens = new Map<string, OidcUser>();
  const state = {
    issuer: "",
    clientId: "hubkeep-test",
    clientSecret: randomBytes(12).toString("hex"),
    user: { sub: "user-1" } as OidcUser,
    tokenRequests: 0,
  };

  const sign = (claims: Record<string, unknown>) => {
    const head = b64url(JSON.stringify({ alg: "RS256", typ: "JWT", kid }));
    const body = b64url(JSON.stringify(claims));
    const sig = createSign("RSA-SHA256").update(`${head}.${body}`).sign(privateKey);
    return `${head}.${body}.${b64url(sig)}`;
  };
  const send = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", ...headers });
    res.end(JSON.stringify(body));
  };

  const answer = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? "/", state.issuer);
    if (url.pathname === "/.well-known/openid-configuration") {
      return send(res, 200, {
        issuer: state.issuer,
        authorization_endpoint: `${state.issuer}/authorize`,
        token_endpoint: `${state.issuer}/token`,
        userinfo_endpoint: `${state.issuer}/userinfo`,
        jwks_uri: `${state.issuer}/jwks`,
        response_types_supported: ["code"],
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: ["RS256"],
        token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
        code_challenge_methods_supported: ["S256"],
        scopes_supported: ["openid", "email", "profile"],
      });
    }
    if (url.pathname === "/jwks") return send(res, 200, { keys: [jwk] });
    if (url.pathname === "/authorize") {
      const redirectUri = url.searchParams.get("redirect_uri");
      const clientId = url.searchParams.get("client_id");
      if (!redirectUri || clientId !== state.clientId || url.searchParams.get("response_type") !== "code")
        return send(res, 400, { error: "invalid_request" });
      const code = randomBytes(16).toString("hex");
      codes.set(code, {
        redirectUri,
        challenge: url.searchParams.get("code_challenge"),
        nonce: url.searchParams.get("nonce"),
        user: { ...state.user },
        clientId,
      });
      const back = new URL(redirectUri);
      back.searchParams.set("code", code);
      const st = url.searchParams.get("state");
      if (st) back.searchParams.set("state", st);
      res.writeHead(302, { location: back.toString() });
      return res.end();
    }
    if (url.pathname === "/token" && req.method === "POST") {
      state.tokenRequests++;
      let raw = "";
      for await (const chunk of req) raw += chunk;
      const form = new URLSearchParams(raw);
      let clientId = form.get("client_id");
      let secret = form.get("client_secret");
      const basic = req.headers.authorization?.match(/^Basic (.+)$/i);
      if (basic) {
        const [id, pw] = Buffer.from(basic[1]!, "base64").toString().split(":").map(decodeURIComponent);
        clientId = id!;
        secret = pw!;
      }
      if (clientId !== state.clientId || secret !== state.clientSecret)
        return send(res, 401, { error: "invalid_client" });
      const grant = codes.get(form.get("code") ?? "");
      codes.delete(form.get("code") ?? "");
      if (!grant || grant.redirectUri !== form.get("redirect_uri")) return send(res, 400, { error: "invalid_grant" });
      if (grant.challenge) {
        const verifier = form.get("code_verifier") ?? "";
        if (b64url(createHash("sha256").update(verifier).digest()) !== grant.challenge)
          return send(res, 400, { error: "invalid_grant", error_description: "PKCE" });
      }
      const now = Math.floor(Date.now() / 1000);
      const access = randomBytes(16).toString("hex");
      tokens.set(access, grant.user);
      const idToken = sign({
        iss: state.issuer,
        aud: grant.clientId,
        iat: now,
        exp: now + 300,
        ...(grant.nonce ? { nonce: grant.nonce } : {}),
        ...grant.user,
      });
      return send(res, 200, {
        access_token: access,
        token_type: "Bearer",
        expires_in: 300,
        id_token: idToken,
        scope: "openid email profile",
      });
    }
    if (url.pathname === "/userinfo") {
      const user = tokens.get(req.headers.authorization?.replace(/^Bearer /i, "") ?? "");
      return user ? send(res, 200, user) : send(res, 401, { error: "invalid_token" });
    }
    send(res, 404, { error: "not_found" });
  };
  const server = http.createServer((req, res) => void answer(req, res));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  state.issuer = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return Object.assign(state, {
    close: () => new Promise<void>((r) => server.close(() => r())),
  });
}
