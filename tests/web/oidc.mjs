// Single sign-on as a user does it: the portal's sign-in page, "Sign in with ..." (#oidc-sign-in),
// the provider's own sign-in and consent pages (tests/web/oidc-provider.mjs), and back to the
// portal: the profile, the page in NEXT (say the CLI login page), or a refusal.
//
// Env:
//   PORTAL_URL     the portal
//   OIDC_LOGIN     the login name at the provider (alice, bob, mallory)
//   OIDC_PASSWORD  default "pw"
//   NEXT           where the portal should send the browser after sign-in (a path); or
//   START_URL      a page to open first instead of /login, which must send a stranger to
//                  /login (the CLI login URL `jit aws --interactive` prints)
//   ACTION         sign-in (default): sign in at the provider and allow; cancel: follow the
//                  provider's Cancel link instead
//   AUTHORIZE      1: back on the CLI login page, click #authorize and wait for the done page
//   SECRET_FILE    with PYTHON: when the portal asks for its own second factor after the
//                  provider, set one up (/login/enrol: the key is written to SECRET_FILE) or
//                  type the next TOTP code of the key in SECRET_FILE (/login/factor), from pyotp
//
// Prints: start (the portal's sign-in page), button (its SSO button text), providerOrigin,
// consent (whether the consent page came), status (the portal's answer at the end), url, path,
// who, message (a refusal page's #message), startAgain, cookie ({name, path, secure, httpOnly,
// sameSite} of the session cookie, or null), cli ({ask, final, done, doneWho} with AUTHORIZE),
// factor ({path, required, sessionBefore, enrolled, path after} when the portal asked for its
// own second factor).
// JIT_SCREENSHOTS: login-sso, oidc-provider-login, oidc-provider-consent, oidc-refused.

import { readFileSync, writeFileSync } from 'node:fs';
import {
  clickAndLand, cookieShape, fail, maybe, need, newContext, pathOf, portalUrl, run,
  SESSION_COOKIE, shot, signInAtProvider, text, textIfAny, totp,
} from './browser.mjs';

const hasSession = async (context, portal) => (await context.cookies(portal))
  .some((c) => c.name === SESSION_COOKIE);

// The portal's own second factor after the provider: set one up or type the next code.
async function portalFactor(page, portal, secretFile) {
  const factor = {
    path: pathOf(page.url()),
    required: await textIfAny(page, '#required'),
    sessionBefore: await hasSession(page.context(), portal),
  };
  if (factor.path === '/login/enrol') {
    const secret = await page.inputValue('#secret');
    writeFileSync(secretFile, secret);
    await page.fill('#code', totp(secret));
    await clickAndLand(page, '#confirm');
    factor.enrolled = await textIfAny(page, '#enrolled');
    await clickAndLand(page, '#continue');
  } else {
    // An enrolment may just have spent its step's code: the next step's signs in.
    await page.fill('#code', totp(readFileSync(secretFile, 'utf8').trim(), 30));
    await clickAndLand(page, '#verify');
  }
  factor.after = pathOf(page.url());
  return factor;
}

run(async (browser) => {
  const portal = portalUrl();
  const login = need('OIDC_LOGIN');
  const password = maybe('OIDC_PASSWORD', 'pw');
  const next = maybe('NEXT');
  const startUrl = maybe('START_URL');
  const action = maybe('ACTION', 'sign-in');
  if (action !== 'sign-in' && action !== 'cancel') fail(`ACTION ${action}?`);
  const authorize = maybe('AUTHORIZE') === '1';
  const context = await newContext(browser, { origin: portal });
  const page = await context.newPage();
  const seen = {};

  let first = startUrl;
  if (!first) first = next ? `${portal}/login?next=${encodeURIComponent(next)}` : `${portal}/login`;
  await page.goto(first);
  if (new URL(page.url()).pathname !== '/login') fail(`not sent to /login: ${page.url()}`);
  seen.start = pathOf(page.url());
  seen.button = await text(page, '#oidc-sign-in');
  await shot(page, 'login-sso');

  await clickAndLand(page, '#oidc-sign-in');
  const provider = new URL(page.url()).origin;
  if (provider === portal) fail(`the SSO button stayed on the portal: ${page.url()}`);
  seen.providerOrigin = provider;
  if ((await page.locator('form#login').count()) === 0) fail(`no provider sign-in form on ${page.url()}`);
  await shot(page, 'oidc-provider-login');

  let response;
  if (action === 'cancel') {
    response = await clickAndLand(page, 'a#cancel');
  } else {
    ({ response, consent: seen.consent } = await signInAtProvider(
      page, login, password, { consent: 'oidc-provider-consent' },
    ));
  }
  if (new URL(page.url()).origin !== portal) fail(`not back at the portal: ${page.url()}`);
  const secretFile = maybe('SECRET_FILE');
  const path = new URL(page.url()).pathname;
  if (secretFile && (path === '/login/enrol' || path === '/login/factor')) {
    seen.factor = await portalFactor(page, portal, secretFile);
  }

  seen.status = response ? response.status() : null;
  seen.url = page.url();
  seen.path = pathOf(page.url());
  seen.who = await textIfAny(page, '#who');
  seen.message = await textIfAny(page, '#message');
  seen.startAgain = (await page.locator('#start-again').count()) > 0;
  const cookie = (await context.cookies(portal)).find((c) => c.name === SESSION_COOKIE);
  seen.cookie = cookie ? cookieShape(cookie) : null;
  if (seen.message !== null) await shot(page, 'oidc-refused');

  if (authorize) {
    const cli = { ask: await text(page, '#ask') };
    await clickAndLand(page, '#authorize');
    // The CLI's listener sends the browser on to the portal's done page.
    if (!page.url().includes('success=true')) await page.waitForURL(/success=true/);
    cli.final = page.url();
    cli.done = await text(page, '#done');
    cli.doneWho = await textIfAny(page, '#who');
    seen.cli = cli;
  }
  return seen;
});
