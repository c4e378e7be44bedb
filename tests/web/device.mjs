// The device login (docs/protocol.md §2.1) as a user does it on another device: open the short
// URL `jit login --device` printed, sign in, type the code, see the host, address and access
// asked for, then Approve or Deny.
//
// Env: DEVICE_URL, CODE, USERNAME, PASSWORD, ACTION (approve or deny; default approve).

import {
  clickAndWait, maybe, need, newContext, pathOf, run, shot, submitSignIn, text, fail,
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
  seen.back = pathOf(page.url());
  // Typed as a person might: lower case, no dash.
  await page.fill('#code', code.replace('-', '').toLowerCase());
  await clickAndWait(page, '#continue');
  seen.ask = await text(page, '#ask');
  seen.host = await text(page, '#host');
  seen.client = await text(page, '#client');
  seen.scope = await text(page, '#scope');
  await shot(page, 'device-confirm');
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
