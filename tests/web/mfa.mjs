// Second factors (docs/protocol.md §11): enrol TOTP on the profile's page (codes computed by
// pyotp, an independent implementation, through $PYTHON), sign out, sign in with a code, with a
// recovery code (then refused the same recovery code), refused a reused and a wrong code, and
// throttled. With ENROL_USER: that user's sign-in is sent to enrol before any session.
//
// Env: PORTAL_URL, USERNAME, PASSWORD, PYTHON; ENROL_USER, ENROL_PASSWORD (optional).

import {
  clickAndLand, clickAndWait, maybe, need, newContext, pathOf, portalUrl, run, sessionCookie,
  shot, signIn, totp, textIfAny,
} from './browser.mjs';

// Type `code` on the factor page and submit: the status and the path it lands on.
async function submitCode(page, code) {
  await page.fill('#code', code);
  const response = await clickAndLand(page, '#verify');
  return {
    status: response.status(),
    url: pathOf(page.url()),
    error: await textIfAny(page, '#error'),
  };
}

run(async (browser) => {
  const portal = portalUrl();
  const user = need('USERNAME');
  const password = need('PASSWORD');
  const context = await newContext(browser, { origin: portal });
  const page = await context.newPage();
  const seen = {};

  await signIn(page, portal, user, password);
  seen.before = pathOf(page.url());
  await page.goto(`${portal}/profile/mfa`);
  await clickAndWait(page, '#mfa-start');
  seen.enrolUrl = pathOf(page.url());
  seen.qr = await page.locator('#qr svg').count();
  const secret = await page.inputValue('#secret');
  await shot(page, 'mfa-enrol');
  await page.fill('#code', totp(secret, 300));
  await clickAndWait(page, '#confirm');
  seen.wrongEnrol = await textIfAny(page, '#error');
  const enrolCode = totp(secret);
  await page.fill('#code', enrolCode);
  await clickAndWait(page, '#confirm');
  seen.enrolled = await textIfAny(page, '#enrolled');
  const codes = await page.locator('#recovery-codes code').allInnerTexts();
  seen.recoveryCount = codes.length;
  await page.goto(`${portal}/profile`);
  await clickAndWait(page, '#logout');

  // The password alone no longer signs in: the factor page, and no session yet.
  await signIn(page, portal, user, password);
  seen.factorUrl = pathOf(page.url());
  seen.sessionBeforeCode = Boolean(await sessionCookie(context, portal));
  await shot(page, 'mfa-factor');
  seen.reused = await submitCode(page, enrolCode);
  seen.wrong = await submitCode(page, totp(secret, 300));
  // The enrolment spent this step's code: the next step's is the one to use.
  seen.code = await submitCode(page, totp(secret, 30));
  seen.sessionAfterCode = Boolean(await sessionCookie(context, portal));
  await clickAndWait(page, '#logout');

  // Signed in with a recovery code, and left signed in (for `user mfa --reset` to end).
  await signIn(page, portal, user, password);
  seen.recovery = await submitCode(page, codes[0].toUpperCase());

  // Another browser: the same recovery code again, then wrong codes until the throttle.
  const stranger = await (await newContext(browser, { origin: portal })).newPage();
  await signIn(stranger, portal, user, password);
  seen.recoveryAgain = await submitCode(stranger, codes[0]);
  seen.throttle = [];
  for (let i = 0; i < 6; i += 1) {
    const r = await submitCode(stranger, totp(secret, 300 + 30 * i));
    seen.throttle.push(r.status);
    if (r.status === 429) {
      seen.throttleError = r.error;
      break;
    }
  }

  const enrolUser = maybe('ENROL_USER');
  if (enrolUser) {
    const other = await (await newContext(browser, { origin: portal })).newPage();
    await signIn(other, portal, enrolUser, need('ENROL_PASSWORD'));
    seen.required = {
      url: pathOf(other.url()),
      text: await textIfAny(other, '#required'),
      session: Boolean(await sessionCookie(other.context(), portal)),
    };
    await other.goto(`${portal}/profile`);
    seen.required.profile = pathOf(other.url());
  }
  return seen;
});
