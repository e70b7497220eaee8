#!/usr/bin/env node
// Drives one real MCP client in a headless Chromium that the caller started (the Rust test
// `crates/cli/tests/browser_clients.rs` owns every process; this script only connects to the
// browser over CDP and clicks, as a person would).
//
//   node drive.mjs inspector2 | inspector1-proxy | inspector1-direct
//   node drive.mjs login URL          (the BROWSER step of mcp-remote: sign in, approve)
//
// Environment: CDP_URL (the browser's DevTools HTTP endpoint), ISSUER (the authorization
// server's base URL), INSPECTOR_URL (the Inspector page, with its query), MCP_URL (the MCP
// endpoint), DEMO_USER / DEMO_PASSWORD (demo/demo), SHOT_DIR (screenshots on failure).
//
// Prints progress on stderr and one line `RESULT {json}` on stdout; exits 0 only when the
// client listed the tools and the echo answer came back, with no CORS error in the browser.

import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const env = process.env;
const scenario = process.argv[2];
const STEP_MS = Number(env.DRIVE_STEP_MS ?? 20000);
const ECHO_TEXT = "hello from the browser";

function log(...args) {
  console.error(`[drive ${scenario} ${new Date().toISOString().slice(11, 23)}]`, ...args);
}

function required(name) {
  const v = env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

/// What the browser saw that a test cares about: CORS failures (from the network layer, with
/// Chromium's reason such as `PreflightMissingAllowOriginHeader`) and console errors.
class Watch {
  constructor() {
    this.cors = [];
    this.consoleErrors = [];
    this.requests = [];
    this.scopes = [];
  }

  async attach(context, page) {
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") {
        this.consoleErrors.push(m.text());
        if (/CORS policy/i.test(m.text())) this.cors.push(m.text());
      }
    });
    page.on("pageerror", (e) => this.consoleErrors.push(`pageerror: ${e.message}`));
    page.on("request", (r) => this.requests.push(`${r.method()} ${r.url()}`));
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.enable");
    cdp.on("Network.loadingFailed", (e) => {
      if (e.corsErrorStatus) {
        this.cors.push(`${e.corsErrorStatus.corsError} (${e.corsErrorStatus.failedParameter || ""}) request ${e.requestId}`);
      }
    });
  }
}

/// Waits for `locator`, failing at once when the browser reports a CORS error meanwhile (the
/// client would wait for an answer that never comes).
async function visible(locator, watch) {
  let timer;
  const cors = new Promise((_, reject) => {
    timer = setInterval(() => {
      if (watch.cors.length) reject(new Error(`CORS error: ${watch.cors[0]}`));
    }, 100);
  });
  try {
    await Promise.race([locator.waitFor(), cors]);
  } finally {
    clearInterval(timer);
  }
}

async function openBrowser({ newPage = false } = {}) {
  const browser = await chromium.connectOverCDP(required("CDP_URL"));
  const context = browser.contexts()[0] ?? (await browser.newContext());
  context.setDefaultTimeout(STEP_MS);
  // A browser step opens its own tab, as a desktop browser would for each URL it is given.
  const page = (!newPage && context.pages()[0]) || (await context.newPage());
  await page.setViewportSize({ width: 1400, height: 1000 });
  const watch = new Watch();
  await watch.attach(context, page);
  context.on("page", (p) => {
    log(`new page ${p.url()}`);
    watch.attach(context, p).catch(() => {});
  });
  return { browser, context, page, watch };
}

/// Our login page (demo/demo), then our consent page (Allow). A signed-in session skips the
/// login page, so either may come first.
async function signIn(context, issuer, watch, tab = null) {
  const onIssuer = () => (tab?.url().startsWith(issuer) ? tab : !tab && context.pages().find((p) => p.url().startsWith(issuer)));
  let page;
  const until = Date.now() + STEP_MS;
  while (!(page = onIssuer())) {
    if (watch?.cors.length) throw new Error(`CORS error before sign-in: ${watch.cors[0]}`);
    if (Date.now() > until) throw new Error(`no page reached ${issuer} (pages: ${context.pages().map((p) => p.url()).join(", ")})`);
    await new Promise((r) => setTimeout(r, 100));
  }
  log(`on the authorization server: ${page.url().split("?")[0]}`);
  // What the client asked for (a client following the challenge asks for the least).
  const asked = new URL(page.url()).searchParams.get("scope");
  if (asked !== null && watch) watch.scopes.push(asked);
  const login = page.locator("#username");
  const approve = page.locator("button[name=approve]");
  await login.or(approve).first().waitFor();
  if (await login.isVisible()) {
    await login.fill(env.DEMO_USER ?? "demo");
    await page.locator("#password").fill(env.DEMO_PASSWORD ?? "demo");
    await page.locator("button[name=login]").click();
    log("signed in");
  }
  await approve.waitFor();
  await approve.click();
  log("consent approved");
  return page;
}

async function shot(page, name) {
  if (!env.SHOT_DIR || !page) return;
  try {
    mkdirSync(env.SHOT_DIR, { recursive: true });
    await page.screenshot({ path: join(env.SHOT_DIR, `${name}.png`) });
  } catch {
    /* a screenshot is a diagnostic only */
  }
}

// ---------------------------------------------------------------- MCP Inspector 1.0.3

async function inspector1(connectionType) {
  const issuer = required("ISSUER");
  const { browser, context, page, watch } = await openBrowser();
  const result = { scenario, tools: [], echo: null };
  try {
    await page.goto(required("INSPECTOR_URL"));
    await page.getByText("Connection Type").waitFor();
    if (connectionType === "Direct") {
      await page.getByRole("combobox").filter({ hasText: "Via Proxy" }).click();
      await page.getByRole("option", { name: "Direct" }).click();
      await page.getByRole("combobox").filter({ hasText: "Direct" }).waitFor();
      log("connection type: Direct");
    }
    await page.getByRole("button", { name: "Connect" }).click();
    log("connect clicked");
    await signIn(context, issuer, watch);
    await visible(page.getByText("Connected", { exact: true }), watch);
    log("connected");
    result.tools = await listAndCallInspector1(page, watch);
    result.echo = await page.getByText(ECHO_TEXT).last().innerText();
  } catch (e) {
    await shot(page, scenario);
    throw Object.assign(e, { watch });
  } finally {
    result.cors = watch.cors;
    result.scopes = watch.scopes;
    result.consoleErrors = watch.consoleErrors.slice(0, 20);
    await browser.close().catch(() => {});
  }
  return result;
}

async function listAndCallInspector1(page, watch) {
  await page.getByRole("tab", { name: "Tools" }).click();
  await page.getByRole("button", { name: "List Tools" }).click();
  const echo = page.getByText("echo", { exact: true }).first();
  await echo.waitFor();
  const tools = await listedTools(page);
  log(`tools listed: ${tools.join(", ")}`);
  await echo.click();
  await page.locator("#message").fill(ECHO_TEXT);
  await page.getByRole("button", { name: "Run Tool" }).click();
  await visible(page.getByText(`${ECHO_TEXT} (echoed for`).first(), watch);
  log("echo answered");
  return tools;
}

/// The demo's tools that the page shows by name.
async function listedTools(page) {
  const tools = [];
  for (const name of ["echo", "whoami", "calculator"]) {
    if (await page.getByText(name, { exact: true }).count()) tools.push(name);
  }
  return tools;
}

// ---------------------------------------------------------------- MCP Inspector 2.12.0

async function inspector2() {
  const issuer = required("ISSUER");
  const { browser, context, page, watch } = await openBrowser();
  const result = { scenario, tools: [], echo: null };
  try {
    await page.goto(required("INSPECTOR_URL"));
    // A Mantine switch: its input is covered by the drawn track, which takes the click.
    await page.locator(".mantine-Switch-track").first().click();
    log("connect toggled");
    await signIn(context, issuer, watch);
    await visible(page.getByText("Connected", { exact: true }).first(), watch);
    log("connected");
    // The Tools view lists the tools when opened.
    await page.getByText("Tools", { exact: true }).click();
    await page.getByText(/^Tools \(\d+\)$/).waitFor();
    result.tools = await listedTools(page);
    log(`tools listed: ${result.tools.join(", ")}`);
    await page.getByText("echo", { exact: true }).first().click();
    await page.getByRole("textbox", { name: /message/ }).fill(ECHO_TEXT);
    await page.getByRole("button", { name: "Execute Tool" }).click();
    const answer = page.getByText(`${ECHO_TEXT} (echoed for`).first();
    await visible(answer, watch);
    result.echo = await answer.innerText();
    log(`echo answered: ${result.echo}`);
  } catch (e) {
    await shot(page, scenario);
    throw Object.assign(e, { watch });
  } finally {
    result.cors = watch.cors;
    result.scopes = watch.scopes;
    result.consoleErrors = watch.consoleErrors.slice(0, 20);
    await browser.close().catch(() => {});
  }
  return result;
}

// ---------------------------------------------------------------- mcp-remote's browser step

async function loginStep(url) {
  const issuer = required("ISSUER");
  const { browser, context, page, watch } = await openBrowser({ newPage: true });
  const result = { scenario, landed: null };
  try {
    await page.goto(url);
    const p = await signIn(context, issuer, watch, page);
    await p.waitForURL((u) => !u.href.startsWith(issuer));
    await p.waitForLoadState();
    result.landed = p.url().split("?")[0];
    log(`redirected to ${result.landed}`);
    if (!/^http:\/\/(localhost|127\.0\.0\.1):\d+\/oauth\/callback$/.test(result.landed)) {
      throw new Error(`the redirect did not reach the client's callback listener: ${result.landed}`);
    }
  } catch (e) {
    await shot(page, scenario);
    throw Object.assign(e, { watch });
  } finally {
    result.cors = watch.cors;
    result.scopes = watch.scopes;
    await browser.close().catch(() => {});
  }
  return result;
}

// ----------------------------------------------------------------

async function main() {
  let result;
  switch (scenario) {
    case "inspector2":
      result = await inspector2();
      break;
    case "inspector1-proxy":
      result = await inspector1("Via Proxy");
      break;
    case "inspector1-direct":
      result = await inspector1("Direct");
      break;
    case "login":
      result = await loginStep(process.argv[3]);
      break;
    default:
      throw new Error(`unknown scenario ${scenario}`);
  }
  console.log(`RESULT ${JSON.stringify(result)}`);
  if (result.cors?.length) {
    log(`CORS errors: ${result.cors.join(" | ")}`);
    process.exitCode = 1;
  }
}

main().catch((e) => {
  log(`FAILED: ${e.stack ?? e}`);
  if (e.watch) {
    log(`CORS errors: ${JSON.stringify(e.watch.cors)}`);
    log(`console errors: ${JSON.stringify(e.watch.consoleErrors.slice(0, 20))}`);
    log(`requests: ${JSON.stringify(e.watch.requests.slice(-40))}`);
  }
  console.log(`RESULT ${JSON.stringify({ scenario, error: String(e.message ?? e) })}`);
  process.exit(1);
});
