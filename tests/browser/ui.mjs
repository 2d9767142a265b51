// Browser test of the Signet tools, run by tests/ui.rs (which starts the servers and checks the
// tokens this prints with the real `signet` binary). Drives Debian's chromium through
// playwright-core, headless.
//
//   node tests/browser/ui.mjs INPUT.json
//
// INPUT: { ui, authz, seed_token, seed_secret, example_token, example_secret, screenshots? }
// Prints one JSON line: { login_hint: {token, command, claims}, request_object: {...} }.
// Any failed expectation throws: the process exits non-zero with the step that failed.
import { readFileSync, mkdirSync } from "node:fs";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const input = JSON.parse(readFileSync(process.argv[2], "utf8"));
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const TIMEOUT = 15000;

const browser = await chromium.launch({
  executablePath,
  headless: true,
  timeout: 60000,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});

const result = {};
let step = "start";
const problems = [];

async function newPage(width = 1000, height = 900) {
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  // A CSP violation or a script error shows up here; a page must have none.
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    // The API answers bad input with 400 and a JSON error, which the page shows beside the
    // field; Chromium logs every 4xx fetch as well. Anything else is a real problem.
    const url = m.location().url || "";
    if (url.includes("/api/") && /status of 400/.test(m.text())) return;
    problems.push(`${step}: console error: ${m.text()} (${url})`);
  });
  page.on("pageerror", (e) => problems.push(`${step}: page error: ${e.message}`));
  return page;
}

async function text(page, selector) {
  return (await page.locator(selector).textContent()) ?? "";
}

// Presses Tab until the element with `id` has the focus (at most 60 times): the page must be
// reachable with the keyboard alone.
async function tabTo(page, id) {
  for (let i = 0; i < 60; i++) {
    if (await page.evaluate((want) => document.activeElement && document.activeElement.id === want, id)) return;
    await page.keyboard.press("Tab");
  }
  throw new Error(`#${id} is not reachable with Tab`);
}

async function typeInto(page, id, value) {
  await tabTo(page, id);
  await page.keyboard.press("Control+A");
  await page.keyboard.type(value);
}

// Every visible form control has a label (a <label for>, a wrapping label or aria-label).
async function assertLabelled(page) {
  const unlabelled = await page.evaluate(() =>
    [...document.querySelectorAll("input, select, textarea")]
      .filter((e) => e.offsetParent !== null)
      .filter((e) => !(e.labels && e.labels.length > 0 && e.labels[0].textContent.trim()) && !e.getAttribute("aria-label"))
      .map((e) => e.id || e.name || e.outerHTML.slice(0, 60)),
  );
  assert.deepEqual(unlabelled, [], `${step}: controls without a label`);
}

// At 400 px nothing runs off the side and the text stays at a readable size.
async function assertNarrow(page, path) {
  await page.setViewportSize({ width: 400, height: 900 });
  await page.goto(input.ui + path);
  const m = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    client: document.documentElement.clientWidth,
    smallest: Math.min(...[...document.querySelectorAll("label, p, button, input, h1")]
      .filter((e) => e.offsetParent !== null)
      .map((e) => parseFloat(getComputedStyle(e).fontSize))),
    widest: Math.max(...[...document.querySelectorAll("input, select, textarea, button")]
      .filter((e) => e.offsetParent !== null)
      .map((e) => e.getBoundingClientRect().right)),
  }));
  assert.ok(m.scroll <= m.client, `${path} at 400 px scrolls sideways: ${m.scroll} > ${m.client}`);
  assert.ok(m.widest <= 400, `${path} at 400 px: a control ends at ${m.widest} px`);
  assert.ok(m.smallest >= 12, `${path} at 400 px: text as small as ${m.smallest} px`);
}

async function shot(page, name) {
  if (!input.screenshots) return;
  mkdirSync(input.screenshots, { recursive: true });
  await page.screenshot({ path: `${input.screenshots}/${name}.png`, fullPage: true });
}

try {
  // ---- decoder: decode the seed's token, verify it with the right and a wrong secret ----
  step = "decoder";
  let page = await newPage();
  await page.goto(input.ui + "/decoder");
  await assertLabelled(page);
  await typeInto(page, "token", "not-a-token");
  await page.locator("#err-token").filter({ hasText: "3 segments" }).waitFor();
  assert.equal(await page.locator("#token").getAttribute("aria-invalid"), "true");
  assert.ok(await page.locator("#decoded").isHidden(), "a bad token leaves no stale output");

  await page.locator("#token").fill(input.seed_token);
  await page.locator("#decoded").waitFor({ state: "visible" });
  const [h, p, s] = input.seed_token.split(".");
  assert.equal(await text(page, "#encoded .seg-header"), h);
  assert.equal(await text(page, "#encoded .seg-payload"), p);
  assert.equal(await text(page, "#encoded .seg-signature"), s);
  const colours = await page.evaluate(() =>
    ["header", "payload", "signature"].map((n) => getComputedStyle(document.querySelector("#encoded .seg-" + n)).color));
  assert.equal(new Set(colours).size, 3, `the three parts have distinct colours: ${colours}`);
  const header = await text(page, "#header-members");
  assert.match(header, /alg"HS256"/);
  assert.match(header, /typ"JWT"/);
  const payload = await text(page, "#payload-members");
  assert.match(payload, /iss"YOUR_CLIENT_ID"/);
  assert.match(payload, /1300819391\s*2011-03-22T18:43:11Z \(expired 14 years ago\)/);
  assert.match(payload, /1300819380\s*2011-03-22T18:43:00Z/);
  assert.match(await text(page, "#signature-size"), /^32 bytes$/);
  assert.match(await text(page, "#not-verified"), /NOT verified/);

  // Verify with the right secret, keyboard only: the signature holds, the 2011 exp does not.
  await typeInto(page, "secret", input.seed_secret);
  await page.keyboard.press("Enter");
  await page.locator("#signature-status.ok").waitFor();
  assert.equal(await text(page, "#signature-status"), "Signature verified (HS256)");
  assert.match(await text(page, "#claims-status"), /^Claims invalid: exp is in the past \(expired 14 years ago\)$/);
  await shot(page, "decoder");

  // A wrong secret.
  await page.locator("#secret").fill("wrong-" + input.seed_secret);
  await page.locator("#secret").press("Enter");
  await page.locator("#signature-status.bad").waitFor();
  assert.equal(await text(page, "#signature-status"), "Signature invalid: signature does not verify");
  assert.equal(await text(page, "#claims-status"), "");

  // The shipped example token: signature and claims both valid, with the expected audience.
  await page.locator("#token").fill(input.example_token);
  await page.locator("#payload-members").filter({ hasText: "charlie" }).waitFor();
  await page.locator("#secret").fill(input.example_secret);
  await page.locator("#aud").fill(input.example_aud);
  await page.locator("#aud").press("Enter");
  await page.locator("#claims-status.ok").waitFor();
  assert.equal(await text(page, "#claims-status"), "Claims valid: exp, nbf, aud checked");

  // An ES256 token with a kid, a member nobody registered and a jku: all shown, the jku
  // flagged; verified with the pasted public key (PEM).
  await page.locator("#token").fill(input.es_token);
  await page.locator("#header-members").filter({ hasText: "x-custom" }).waitFor();
  const esHeader = await text(page, "#header-members");
  assert.match(esHeader, /x-custom"hello"/);
  assert.match(esHeader, /jku"https:\/\/attacker.example\/jwks"never used as a key by Signet/);
  assert.match(esHeader, /kid"/);
  await page.locator('input[name="method"][value="key"]').check();
  assert.ok(await page.locator("#secret").isHidden(), "the secret field hides with another method");
  // An empty key first: the message sits beside the key field.
  await page.getByRole("button", { name: "Verify" }).click();
  await page.locator("#err-key").filter({ hasText: "paste a PEM" }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), "key");
  await page.locator("#key").fill(input.es_public_pem);
  await page.locator("#aud").fill("");
  await page.getByRole("button", { name: "Verify" }).click();
  await page.locator("#signature-status.ok").waitFor();
  assert.equal(await text(page, "#signature-status"), "Signature verified (ES256)");
  assert.equal(await text(page, "#claims-status"), "Claims valid: exp, nbf checked");
  assert.equal(await text(page, "#err-key"), "");
  await page.context().close();

  // ---- login_hint_token generator, keyboard only ----
  step = "login-hint";
  page = await newPage();
  await page.goto(input.ui + "/login-hint");
  await assertLabelled(page);
  // A bad environment id first: the message beside the field, the focus on it.
  await typeInto(page, "env", "not/an-id");
  await typeInto(page, "client_id", input.hint.client_id);
  await typeInto(page, "secret", input.hint.secret);
  await typeInto(page, "user", input.hint.user);
  await page.keyboard.press("Enter");
  await page.locator("#err-env").filter({ hasText: "--env" }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), "env");
  assert.equal(await page.locator("#env").getAttribute("aria-invalid"), "true");
  await page.keyboard.press("Control+A");
  await page.keyboard.type(input.hint.env);
  await tabTo(page, "region");
  await page.keyboard.press("ArrowDown"); // na -> eu
  assert.equal(await page.locator("#region").inputValue(), "eu");
  await tabTo(page, "alg");
  await page.keyboard.press("ArrowDown"); // HS256 -> HS384
  assert.equal(await page.locator("#alg").inputValue(), "HS384");
  await typeInto(page, "expires_in", "15m");
  await page.keyboard.press("Enter");
  await page.locator("#made").waitFor({ state: "visible" });
  assert.equal(await text(page, "#err-env"), "");
  const hint = {
    token: await text(page, "#made-token"),
    command: await text(page, "#command"),
    claims: JSON.parse(await text(page, ".made-claims")),
    header: JSON.parse(await text(page, ".made-header")),
  };
  assert.equal(hint.header.alg, "HS384");
  assert.equal(hint.claims.aud, `https://auth.pingone.eu/${input.hint.env}/as`);
  assert.equal(hint.claims.exp - hint.claims.iat, 900);
  assert.ok(!hint.command.includes(input.hint.secret), "the command never shows the secret");
  result.login_hint = hint;
  await shot(page, "login-hint");
  await page.context().close();

  // ---- request-object builder, on the authz server's copy of the tools ----
  step = "request-object";
  page = await newPage();
  await page.goto(input.authz + "/request-object");
  await assertLabelled(page);
  await tabTo(page, "example");
  await page.keyboard.press("Enter");
  await page.locator("#variables-rows .row").nth(2).waitFor();
  await typeInto(page, "env", input.request.env);
  await typeInto(page, "client_id", input.request.client_id);
  await typeInto(page, "secret", input.request.secret);
  await typeInto(page, "remote_ip", "1.2.3");
  await page.keyboard.press("Enter");
  await page.locator("#err-remote_ip").filter({ hasText: "not an IPv4 or IPv6 address" }).waitFor();
  await page.keyboard.press("Control+A");
  await page.keyboard.type(input.request.remote_ip);
  // A row added and removed with the keyboard.
  await tabTo(page, "add-client_context");
  await page.keyboard.press("Enter");
  await page.keyboard.type("extra");
  assert.equal(await page.locator("#client_context-rows .row").count(), 2);
  await page.getByRole("button", { name: "Remove context entry 2" }).focus();
  await page.keyboard.press("Enter");
  assert.equal(await page.locator("#client_context-rows .row").count(), 1);
  await assertLabelled(page);
  await tabTo(page, "remote_ip");
  await page.keyboard.press("Enter");
  await page.locator("#made").waitFor({ state: "visible" });
  const ro = {
    token: await text(page, "#made-token"),
    command: await text(page, "#command"),
    claims: JSON.parse(await text(page, ".made-claims")),
  };
  assert.deepEqual(ro.claims["pi.template"], {
    name: "transaction",
    variables: { sum: "1,000,000", currency: "USD", recipient: "Charlie Parker" },
  });
  assert.deepEqual(ro.claims["pi.clientContext"], { "alert.color": "red" });
  assert.equal(ro.claims["pi.remoteIp"], input.request.remote_ip);
  result.request_object = ro;
  await shot(page, "request-object");
  await page.context().close();

  // ---- every page at 400 px ----
  step = "narrow";
  page = await newPage(400, 900);
  for (const path of ["/", "/decoder", "/login-hint", "/request-object"]) await assertNarrow(page, path);
  await page.locator("#example").click();
  await page.locator("#variables-rows .row").nth(2).waitFor();
  const narrow = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(narrow <= 400, `request object rows at 400 px scroll sideways: ${narrow}`);
  await shot(page, "request-object-400px");
  await page.context().close();

  assert.deepEqual(problems, [], "console errors");
} catch (e) {
  console.error(`step ${step}: ${e.stack || e}`);
  if (problems.length) console.error(problems.join("\n"));
  await browser.close();
  process.exit(1);
}
await browser.close();
console.log(JSON.stringify(result));
