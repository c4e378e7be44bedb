// The shared part of the browser flows in tests/web: Debian's chromium driven by playwright-core.
//
// A flow script takes its inputs from env vars, drives the portal, and prints ONE JSON object
// with what it saw; tests/it/portal/portal_browser.rs asserts on it. A missing element or a
// wrong page makes the script exit 1 with a message on stderr.
//
// Env: JIT_SCREENSHOTS=DIR saves a full-page PNG of each page the flow names; CHROMIUM overrides
// the browser binary (default /usr/bin/chromium).
//
// A new flow: tests/web/NAME.mjs calls `run(async (browser) => { ...; return seen; })`, reads its
// inputs with need()/maybe(), makes a context with newContext(), signs in with signIn(), reads
// elements with text() (which fails when one is missing) and names screenshots with shot(). The
// test calls `flow(&sb, "NAME", &[("PORTAL_URL", ..), ..])` in tests/it/portal/portal_browser.rs
// and asserts on the JSON. Run one by hand against any portal:
//   PORTAL_URL=http://127.0.0.1:PORT USERNAME=demo PASSWORD=... node tests/web/signin.mjs

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

// No single wait is longer than this.
export const TIMEOUT = 15_000;
// The whole flow gives up after this.
const FLOW_TIMEOUT = 90_000;

export const DESKTOP = { width: 1000, height: 700 };
export const PHONE = { width: 390, height: 844 };

// A flow's failure: printed on stderr, exit status 1.
export class FlowError extends Error {}

export function fail(message) {
  throw new FlowError(message);
}

// An env var the flow needs.
export function need(name) {
  const value = process.env[name];
  if (value === undefined || value === '') fail(`env ${name} is not set`);
  return value;
}

// An env var the flow may use.
export function maybe(name, fallback = undefined) {
  const value = process.env[name];
  return value === undefined || value === '' ? fallback : value;
}

// The portal's URL without a trailing slash.
export function portalUrl() {
  return need('PORTAL_URL').replace(/\/+$/, '');
}

// A fresh context: no downloads, the clipboard readable and writable for `origin`.
export async function newContext(
  browser,
  { origin, viewport = DESKTOP, isMobile = false, javaScriptEnabled = true } = {},
) {
  const context = await browser.newContext({
    acceptDownloads: false,
    viewport,
    isMobile,
    hasTouch: isMobile,
    javaScriptEnabled,
  });
  if (origin) {
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
  }
  context.setDefaultTimeout(TIMEOUT);
  context.setDefaultNavigationTimeout(TIMEOUT);
  return context;
}

// Save a full-page PNG named `name` when JIT_SCREENSHOTS is set.
export async function shot(page, name) {
  const dir = maybe('JIT_SCREENSHOTS');
  if (!dir) return;
  fs.mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
}

// The trimmed text of the element `selector`; fails when it does not show up.
export async function text(page, selector) {
  const el = page.locator(selector).first();
  try {
    await el.waitFor({ state: 'visible', timeout: TIMEOUT });
  } catch {
    fail(`no ${selector} on ${page.url()}`);
  }
  return (await el.innerText()).trim();
}

// The trimmed text of `selector` if the page has it now, else null.
export async function textIfAny(page, selector) {
  const el = page.locator(selector).first();
  return (await el.count()) > 0 ? (await el.innerText()).trim() : null;
}

// Click `selector` and wait for the navigation it starts to settle.
export async function clickAndWait(page, selector) {
  const el = page.locator(selector).first();
  try {
    await el.waitFor({ state: 'visible', timeout: TIMEOUT });
  } catch {
    fail(`no ${selector} to click on ${page.url()}`);
  }
  await Promise.all([page.waitForNavigation({ timeout: TIMEOUT }), el.click()]);
}

// Click `selector` and return the response of the navigation it starts, once it settles.
export async function clickAndLand(page, selector) {
  const el = page.locator(selector).first();
  try {
    await el.waitFor({ state: 'visible', timeout: TIMEOUT });
  } catch {
    fail(`no ${selector} to click on ${page.url()}`);
  }
  const [response] = await Promise.all([page.waitForNavigation({ timeout: TIMEOUT }), el.click()]);
  return response;
}

// On the single sign-on provider's sign-in page (tests/web/oidc-provider.mjs): sign in and
// allow on its consent page when it asks. Returns the response of the last navigation (back at
// the portal) and whether consent was asked, with `shots` naming the screenshots of the two
// provider pages, if any.
export async function signInAtProvider(page, login, password, shots = {}) {
  const provider = new URL(page.url()).origin;
  await page.fill('form#login input[name="login"]', login);
  await page.fill('form#login input[name="password"]', password);
  let response = await clickAndLand(page, 'button#sign-in');
  const providerError = await textIfAny(page, '#error');
  if (providerError !== null) fail(`the provider refused the sign-in: ${providerError}`);
  const consent = new URL(page.url()).origin === provider
    && (await page.locator('form#consent').count()) > 0;
  if (consent) {
    if (shots.consent) await shot(page, shots.consent);
    response = await clickAndLand(page, 'button#allow');
  }
  return { response, consent };
}

// Fill in the sign-in form on the current page and submit it.
export async function submitSignIn(page, user, password) {
  const form = page.locator('#signin');
  try {
    await form.waitFor({ state: 'visible', timeout: TIMEOUT });
  } catch {
    fail(`no sign-in form on ${page.url()}`);
  }
  await page.fill('#username', user);
  await page.fill('#password', password);
  await clickAndWait(page, '#signin');
}

// The TOTP code for `secret` at now + `offset` seconds, from pyotp (an independent
// implementation, through $PYTHON); the secret on stdin, never in argv.
export function totp(secret, offset = 0) {
  const script = 'import pyotp, sys, time\n'
    + 'print(pyotp.TOTP(sys.stdin.read().strip()).at(time.time() + float(sys.argv[1])))';
  return execFileSync(need('PYTHON'), ['-c', script, String(offset)], { input: secret })
    .toString().trim();
}

// Open the portal's sign-in page (coming back to `next`) and sign in with a password.
export async function signIn(page, portal, user, password, next = '/profile') {
  await page.goto(`${portal}/login?next=${encodeURIComponent(next)}`);
  await submitSignIn(page, user, password);
}

// The portal's session cookie on a loopback URL (docs/protocol.md §11): `__Host-`, so Secure,
// Path=/ and no Domain.
export const SESSION_COOKIE = '__Host-jit_session';

// The session cookie the context holds for `portal`, or null.
export async function sessionCookie(context, portal) {
  const cookies = await context.cookies(portal);
  const found = cookies.find((c) => c.name === SESSION_COOKIE);
  return found ? found.value : null;
}

// What a stored cookie is, without its value (values are secrets).
export function cookieShape(c) {
  return {
    name: c.name, path: c.path, secure: c.secure, httpOnly: c.httpOnly, sameSite: c.sameSite,
  };
}

// A cookie planted as another server on the portal's host could (cookies ignore the port): the
// name without its `__Host-` prefix (a browser keeps a prefixed one only at Path=/), at `path`.
export async function plantTwin(context, portal, name, value, path) {
  await context.addCookies([{
    name: name.replace(/^__Host-/, ''),
    value,
    domain: new URL(portal).hostname,
    path,
    httpOnly: true,
    sameSite: 'Lax',
  }]);
}

// A URL's path and query, for the JSON answers.
export function pathOf(url) {
  const u = new URL(url);
  return u.pathname + u.search;
}

const LAUNCH = {
  executablePath: maybe('CHROMIUM', '/usr/bin/chromium'),
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  timeout: TIMEOUT,
};

// Run a flow: launch chromium, call `body(browser)`, print its result as one JSON line.
export async function run(body) {
  await runWith(() => chromium.launch(LAUNCH), body);
}

// Run a flow in a persistent profile (a real user data directory, `userDataDir`, with its
// History and other files on disk): call `body(context)`, print its result as one JSON line.
// The body may close the context itself to make Chromium write its files out.
export async function runPersistent(userDataDir, { javaScriptEnabled = true } = {}, body) {
  await runWith(async () => {
    const context = await chromium.launchPersistentContext(userDataDir, {
      ...LAUNCH,
      acceptDownloads: false,
      viewport: DESKTOP,
      javaScriptEnabled,
    });
    context.setDefaultTimeout(TIMEOUT);
    context.setDefaultNavigationTimeout(TIMEOUT);
    return context;
  }, body);
}

async function runWith(launch, body) {
  const guard = setTimeout(() => {
    console.error(`flow: gave up after ${FLOW_TIMEOUT / 1000} s`);
    process.exit(1);
  }, FLOW_TIMEOUT);
  let browser;
  let code = 0;
  try {
    browser = await launch();
    const seen = await body(browser);
    process.stdout.write(`${JSON.stringify(seen)}\n`);
  } catch (e) {
    console.error(`flow: ${e instanceof FlowError ? e.message : e.stack || e}`);
    code = 1;
  } finally {
    if (browser) await browser.close().catch(() => {});
    clearTimeout(guard);
  }
  process.exit(code);
}
