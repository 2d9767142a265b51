// A real OpenID Connect client library, openid-client 6 (panva), driving `signet authz`'s grants
// the way an application would: discovery, authorization code with PKCE, userinfo, refresh
// (and a reused refresh token refused), introspection, revocation, client credentials with a
// secret and with private_key_jwt, PAR, device authorization, CIBA, token exchange, implicit
// and hybrid responses (the library checks at_hash / c_hash), and the end-session URL.
//
// Run by tests/authz_grants.rs: `node tests/node/oidc_client.mjs` with ISSUER (the
// environment's issuer), SECRET (the client secret of every secret client) and PRIVATE_JWK
// (the private JWK of app-pk). Prints one line per step ("ok STEP detail"); any failure throws,
// printing the error and exiting non-zero.

import * as client from "openid-client";

const issuer = new URL(process.env.ISSUER);
const env = issuer.href.replace(/\/as$/, "");
const secret = process.env.SECRET;
const insecure = { execute: [client.allowInsecureRequests] };
const redirect_uri = "https://app.example/cb";

function ok(step, detail = "") {
  console.log(`ok ${step} ${detail}`.trim());
}

function check(condition, what) {
  if (!condition) throw new Error(`check failed: ${what}`);
}

async function discover(clientId, auth) {
  return client.discovery(issuer, clientId, undefined, auth, insecure);
}

// What a browser does: follow authorize to the sign-on page, sign on through the Flows API
// (a password), then resume; answers the URL the browser is sent back to.
async function browserSignOn(url, username, password) {
  const start = await fetch(url, { redirect: "manual" });
  check(start.status === 302, `authorize answered ${start.status}: ${await start.text()}`);
  const flowId = new URL(start.headers.get("location")).searchParams.get("flowId");
  check(flowId, "a flowId in the sign-on redirect");
  const f = await fetch(`${env}/flows/${flowId}`, {
    method: "POST",
    headers: { "content-type": "application/vnd.pingidentity.usernamePassword.check+json" },
    body: JSON.stringify({ username, password }),
  });
  const flow = await f.json();
  check(flow.status === "COMPLETED", `flow status ${flow.status}`);
  const resume = await fetch(`${env}/as/resume?flowId=${flowId}`, { redirect: "manual" });
  check(resume.status === 302, `resume answered ${resume.status}`);
  return new URL(resume.headers.get("location"));
}

async function rejects(promise, error, what) {
  try {
    await promise;
  } catch (e) {
    check(e.error === error, `${what}: expected ${error}, got ${e.error ?? e.message}`);
    return;
  }
  throw new Error(`${what}: expected ${error}, it succeeded`);
}

// --- authorization code with PKCE, userinfo, refresh, introspection, revocation ---
const app = await discover("app-1", client.ClientSecretBasic(secret));
const meta = app.serverMetadata();
check(meta.issuer === issuer.href, "the discovered issuer");
ok("discovery", meta.grant_types_supported.join(","));

async function codeFlow(config, build = client.buildAuthorizationUrl) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = await build(config, {
    redirect_uri,
    scope: "openid profile email",
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
    nonce,
  });
  const back = await browserSignOn(url, "miles", "Kind-of-Blue");
  return { url, tokens: await client.authorizationCodeGrant(config, back, {
    pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce,
  }) };
}

const { tokens } = await codeFlow(app);
const claims = tokens.claims();
check(claims.sub === "user-3" && claims.given_name === "Miles", "ID token claims");
ok("authorization_code", claims.sub);

const info = await client.fetchUserInfo(app, tokens.access_token, claims.sub);
check(info.email === "miles@example.com", "userinfo email");
ok("userinfo", info.email);

const refreshed = await client.refreshTokenGrant(app, tokens.refresh_token);
check(refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token, "a rotated refresh token");
check(refreshed.claims().sub === "user-3", "the refreshed ID token's sub");
await rejects(client.refreshTokenGrant(app, tokens.refresh_token), "invalid_grant", "a reused refresh token");
await rejects(client.refreshTokenGrant(app, refreshed.refresh_token), "invalid_grant", "its family after the reuse");
ok("refresh_token", "rotated; reuse revoked the family");

const active = await client.tokenIntrospection(app, refreshed.access_token);
check(active.active === true && active.sub === "user-3", "introspection of an access token");
ok("introspection", `active=${active.active}`);

const { tokens: second } = await codeFlow(app);
await client.tokenRevocation(app, second.refresh_token);
await rejects(client.refreshTokenGrant(app, second.refresh_token), "invalid_grant", "a revoked refresh token");
ok("revocation");

// --- PAR ---
const par = await codeFlow(app, client.buildAuthorizationUrlWithPAR);
check(par.url.searchParams.get("request_uri")?.startsWith("urn:ietf:params:oauth:request_uri:"), "a PAR request_uri");
check(par.tokens.claims().sub === "user-3", "tokens through PAR");
ok("par", par.url.searchParams.get("request_uri"));

// --- token exchange ---
const exchanged = await client.genericGrantRequest(app, "urn:ietf:params:oauth:grant-type:token-exchange", {
  subject_token: second.access_token,
  subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
  resource: "https://api.example",
});
const exchangedClaims = JSON.parse(Buffer.from(exchanged.access_token.split(".")[1], "base64url"));
check(exchangedClaims.aud === "https://api.example" && exchangedClaims.sub === "user-3", "the exchanged token");
ok("token_exchange", exchangedClaims.aud);

// --- client credentials: a secret, then private_key_jwt ---
const cc = await discover("app-cc", client.ClientSecretPost(secret));
const ccTokens = await client.clientCredentialsGrant(cc, { scope: "orders:read" });
check(ccTokens.scope === "orders:read", "the client credentials scope");
ok("client_credentials", ccTokens.scope);

const jwk = JSON.parse(process.env.PRIVATE_JWK);
const key = await crypto.subtle.importKey("jwk", jwk, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["sign"]);
const pk = await discover("app-pk", client.PrivateKeyJwt({ key, kid: jwk.kid }));
const pkTokens = await client.clientCredentialsGrant(pk, { scope: "orders:read" });
check(pkTokens.access_token, "an access token for private_key_jwt");
ok("private_key_jwt");

// --- device authorization ---
const device = await discover("app-dev", client.ClientSecretBasic(secret));
const started = await client.initiateDeviceAuthorization(device, { scope: "openid" });
const page = await fetch(`${started.verification_uri}?user_code=${encodeURIComponent(started.user_code)}`);
const deviceFlow = await page.json();
const signOn = await fetch(`${env}/flows/${deviceFlow.id}`, {
  method: "POST",
  headers: { "content-type": "application/vnd.pingidentity.usernamePassword.check+json" },
  body: JSON.stringify({ username: "miles", password: "Kind-of-Blue" }),
});
check((await signOn.json()).status === "COMPLETED", "the device sign-on");
const deviceTokens = await client.pollDeviceAuthorizationGrant(device, started);
check(deviceTokens.claims().sub === "user-3", "device code tokens");
ok("device_code", started.user_code);

// --- CIBA (poll mode), approved by a push ---
const ciba = await client.initiateBackchannelAuthentication(device, {
  scope: "openid",
  login_hint: "dizzy",
  binding_message: "Pay 42",
});
const outbox = await (await fetch(`${env}/emulator/outbox`)).json();
const push = outbox.filter((n) => n.type === "PUSH").at(-1);
check(push?.clientContext?.bindingMessage === "Pay 42", "the push with the binding message");
const approved = await fetch(`${env}/emulator/push/${push.flowId}/approve`, { method: "POST" });
check(approved.ok, `push approval answered ${approved.status}`);
const cibaTokens = await client.pollBackchannelAuthenticationGrant(device, ciba);
check(cibaTokens.claims().sub === "user-2", "CIBA tokens for dizzy");
ok("ciba", ciba.auth_req_id.length > 0 ? "approved" : "");

// --- implicit (id_token) and hybrid (code id_token) ---
const implicit = await discover("app-1", client.ClientSecretBasic(secret));
client.useIdTokenResponseType(implicit);
const nonce = client.randomNonce();
const state = client.randomState();
const back = await browserSignOn(
  client.buildAuthorizationUrl(implicit, { redirect_uri, scope: "openid profile", nonce, state }),
  "miles",
  "Kind-of-Blue",
);
const implicitClaims = await client.implicitAuthentication(implicit, back, nonce, { expectedState: state });
check(implicitClaims.sub === "user-3", "the implicit ID token");
ok("implicit", implicitClaims.sub);

const hybrid = await discover("app-1", client.ClientSecretBasic(secret));
client.useCodeIdTokenResponseType(hybrid);
const hybridFlow = await codeFlow(hybrid);
check(hybridFlow.tokens.claims().sub === "user-3", "hybrid tokens");
ok("hybrid", "c_hash checked");

// --- end session ---
const end = client.buildEndSessionUrl(app, {
  id_token_hint: tokens.id_token,
  post_logout_redirect_uri: "https://app.example/bye",
  state: "bye-1",
});
const ended = await fetch(end, { redirect: "manual" });
check(ended.status === 302 && ended.headers.get("location") === "https://app.example/bye?state=bye-1", `signoff answered ${ended.status}`);
ok("end_session");
