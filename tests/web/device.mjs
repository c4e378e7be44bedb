// The device login (docs/protocol.md §2.1) as a user does it on another device: open the short
// URL `jit login --device` printed, sign in, type the code, see the host, address and access
// asked for, then Approve or Deny. With SECRET_FILE, the sign-in asks for the next TOTP code of
// that secret (from pyotp through $PYTHON). A page that offers no Approve (the login asks more
// than the session may give) is reported as `refused`, and an Approve posted anyway as `forced`.
//
// Env: DEVICE_URL, CODE, USERNAME, PASSWORD, ACTION (approve or deny; default approve);
// SECRET_FILE and PYTHON (optional).

import { readFileSync } from 'node:fs';
import {
  clickAndLand, clickAndWait, maybe, need, newContext, pathOf, run, shot, submitSignIn, text,
  textIfAny, totp, fail,
} from './browser.mjs';

run(async (browser) => {
  const url = need('DEVICE_URL');
  const code = need('CODE');
  const user = need('USERNAME');
  const password = need('PASSWORD');
  const action = maybe('ACTION', 'approve');
  if (!['approve', 'deny'].includes(action)) fail(`ACTION ${action}?`);
  const context = await newContext(browser, { origin: new URL(url).origin });
  const page = await context.newPage();
  const seen = {};

  await page.goto(url);
  seen.landed = pathOf(page.url());
  await submitSignIn(page, user, password);
  const secretFile = maybe('SECRET_FILE');
  if (secretFile) {
    seen.factor = pathOf(page.url());
    // An enrolment just spent its step's code: the next step's signs in.
    await page.fill('#code', totp(readFileSync(secretFile, 'utf8').trim(), 30));
    await clickAndLand(page, '#verify');
  }
  seen.back = pathOf(page.url());
  // Typed as a person might: lower case, no dash.
  await page.fill('#code', code.replace('-', '').toLowerCase());
  await clickAndWait(page, '#continue');
  seen.ask = await text(page, '#ask');
  seen.host = await text(page, '#host');
  seen.client = await text(page, '#client');
  seen.scope = await text(page, '#scope');
  await shot(page, 'device-confirm');
  seen.refused = await textIfAny(page, '#error');
  if (action === 'approve' && (await page.locator('#approve').count()) === 0) {
    // Approve as a forged form would: the same session, its CSRF token, the code.
    const csrf = await page.inputValue('input[name=csrf]');
    const forced = await page.request.post(new URL('/device', url).href, {
      form: { csrf, code, action: 'approve' },
    });
    seen.forced = forced.status();
    return seen;
  }
  await clickAndWait(page, `#${action}`);
  seen.message = await text(page, '#message');
  await shot(page, `device-${action}`);

  // The code is spent: typing it again finds nothing.
  await page.goto(url);
  await page.fill('#code', code);
  await clickAndWait(page, '#continue');
  seen.again = await text(page, '#error');
  return seen;
});
