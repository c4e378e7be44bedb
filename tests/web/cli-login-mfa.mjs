// The CLI login of an admin whom the second-factor policy covers (docs/protocol.md §2):
// PHASE=enrol signs in, enrols TOTP on the profile (codes from pyotp through $PYTHON) and
// writes the secret to SECRET_FILE; PHASE=login opens the URL `jit --interactive` printed,
// signs in with the password and the next code, clicks Authorize and reports the hand-over.
//
// Env: PHASE, USERNAME, PASSWORD, PYTHON, SECRET_FILE; PORTAL_URL (enrol) or LOGIN_URL (login).

import { readFileSync, writeFileSync } from 'node:fs';
import {
  clickAndLand, clickAndWait, need, newContext, pathOf, portalUrl, run, shot, signIn,
  submitSignIn, text, textIfAny, totp,
} from './browser.mjs';

run(async (browser) => {
  const user = need('USERNAME');
  const password = need('PASSWORD');
  const secretFile = need('SECRET_FILE');
  const seen = {};
  if (need('PHASE') === 'enrol') {
    const portal = portalUrl();
    const page = await (await newContext(browser, { origin: portal })).newPage();
    await signIn(page, portal, user, password);
    await page.goto(`${portal}/profile/mfa`);
    await clickAndWait(page, '#mfa-start');
    const secret = await page.inputValue('#secret');
    await page.fill('#code', totp(secret));
    await clickAndWait(page, '#confirm');
    seen.enrolled = await textIfAny(page, '#enrolled');
    writeFileSync(secretFile, secret);
    return seen;
  }
  const login = need('LOGIN_URL');
  const portal = new URL(login).origin;
  const page = await (await newContext(browser, { origin: portal })).newPage();
  await page.goto(login);
  await submitSignIn(page, user, password);
  seen.factor = pathOf(page.url());
  // The enrolment spent its step's code: the next step's signs in.
  await page.fill('#code', totp(readFileSync(secretFile, 'utf8').trim(), 30));
  await clickAndLand(page, '#verify');
  seen.back = pathOf(page.url());
  seen.ask = await textIfAny(page, '#ask');
  await clickAndWait(page, '#authorize');
  seen.error = await textIfAny(page, '.error:not(#handoff-failed)');
  if (seen.error === null && !page.url().includes('success=true')) {
    const failed = page.locator('#handoff-failed');
    await Promise.race([page.waitForURL(/success=true/), failed.waitFor({ state: 'visible' })]);
    seen.handoffFailed = await textIfAny(page, '#handoff-failed:not([hidden])');
  }
  seen.final = pathOf(page.url());
  seen.done = await textIfAny(page, '#done');
  await shot(page, 'cli-login-mfa');
  return seen;
});
