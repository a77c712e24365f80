// Hexclave's mock OAuth/OIDC provider (upstream runs `mock-oauth-server` on
// 8114) behind the "MOCK" client id/secret the emulator gives the backend:
// discovery, an authorize endpoint that signs in at once as the login_hint
// (or mock-user@example.com), token (authorization_code, RS256 id_token),
// userinfo and JWKS. Keys are made at start; codes live in memory.
// Issuer: MOCK_OAUTH_ISSUER (default http://localhost:PORT). Port: PORT (8114).
import { createHash, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { createServer } from "node:http";

const port = Number(process.env.PORT ?? 8114);
const issuer = process.env.MOCK_OAUTH_ISSUER ?? `http://localhost:${port}`;
const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const kid = createHash("sha256")
  .update(publicKey.export({ type: "spki", format: "der" }))
  .digest("base64url")
  .slice(0, 16);
const jwk = { ...publicKey.export({ format: "jwk" }), kid, use: "sig", alg: "RS256" };
const codes = new Map();
const tokens = new Map();

const b64 = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
function idToken(claims) {
  const input = `${b64({ alg: "RS256", typ: "JWT", kid })}.${b64(claims)}`;
  return `${input}.${sign("RSA-SHA256", Buffer.from(input), privateKey).toString("base64url")}`;
}
const json = (res, status, value) =>
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));

function user(hint) {
  const email = hint?.includes("@") ? hint : "mock-user@example.com";
  return {
    sub: createHash("sha256").update(email).digest("hex").slice(0, 24),
    email,
    email_verified: true,
    name: email.split("@")[0],
  };
}

createServer((req, res) => {
  const url = new URL(req.url ?? "/", issuer);
  const path = url.pathname.replace(/\/+$/, "") || "/";
  if (path === "/health") return res.writeHead(200).end("ok");
  if (path === "/.well-known/openid-configuration") {
    return json(res, 200, {
      issuer,
      authorization_endpoint: `${issuer}/auth`,
      token_endpoint: `${issuer}/token`,
      userinfo_endpoint: `${issuer}/me`,
      jwks_uri: `${issuer}/jwks`,
      response_types_supported: ["code"],
      subject_types_supported: ["public"],
      id_token_signing_alg_values_supported: ["RS256"],
      scopes_supported: ["openid", "email", "profile", "offline_access"],
      token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
      code_challenge_methods_supported: ["S256", "plain"],
    });
  }
  if (path === "/jwks") return json(res, 200, { keys: [jwk] });
  if (path === "/auth") {
    const redirect = url.searchParams.get("redirect_uri");
    if (!redirect) return json(res, 400, { error: "invalid_request", error_description: "redirect_uri is required" });
    const code = randomBytes(16).toString("hex");
    codes.set(code, {
      user: user(url.searchParams.get("login_hint")),
      clientId: url.searchParams.get("client_id"),
      nonce: url.searchParams.get("nonce"),
    });
    const back = new URL(redirect);
    back.searchParams.set("code", code);
    const state = url.searchParams.get("state");
    if (state !== null) back.searchParams.set("state", state);
    return res.writeHead(302, { location: back.toString() }).end();
  }
  if (path === "/token" && req.method === "POST") {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      const form = new URLSearchParams(body);
      const grant = codes.get(form.get("code") ?? "");
      if (form.get("grant_type") !== "authorization_code" || grant === undefined)
        return json(res, 400, { error: "invalid_grant" });
      codes.delete(form.get("code") ?? "");
      const accessToken = randomBytes(24).toString("hex");
      tokens.set(accessToken, grant.user);
      const now = Math.floor(Date.now() / 1000);
      return json(res, 200, {
        access_token: accessToken,
        token_type: "Bearer",
        expires_in: 3600,
        scope: "openid email profile",
        id_token: idToken({
          iss: issuer,
          aud: grant.clientId ?? "MOCK",
          iat: now,
          exp: now + 3600,
          ...(grant.nonce ? { nonce: grant.nonce } : {}),
          ...grant.user,
        }),
      });
    });
    return;
  }
  if (path === "/me") {
    const found = tokens.get((req.headers.authorization ?? "").replace(/^Bearer /, ""));
    return found ? json(res, 200, found) : json(res, 401, { error: "invalid_token" });
  }
  json(res, 404, { error: "not_found" });
}).listen(port, "0.0.0.0", () => process.stdout.write(`mock OAuth provider on 0.0.0.0:${port}, issuer ${issuer}\n`));
