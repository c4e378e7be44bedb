// The CLI login (docs/protocol.md §2) as a user does it: open the URL `jit aws --interactive`
// printed, sign in, come back to the CLI page, click Authorize or Cancel. When the CLI is gone,
// reports the page's message as handoffFailed.
//
// Env: LOGIN_URL, USERNAME, PASSWORD, ACTION (authorize, cancel, or cancel-unsigned: Cancel on
// the sign-in page, without signing in; default authorize).

import {
  clickAndWait, maybe, need, newContext, pathOf, run, shot, submitSignIn, text, textIfAny, fail,
} from './browser.mjs';

run(async (browser) => {
  const login = need('LOGIN_URL');
  const user = need('USERNAME');
  const password = need('PASSWORD');
  const action = maybe('ACTION', 'authorize');
  if (!['authorize', 'cancel', 'cancel-unsigned'].includes(action)) fail(`ACTION ${action}?`);
  const portal = new URL(login).origin;
  const context = await newContext(browser, { origin: portal });
  const page = await context.newPage();
  const seen = {};

  await page.goto(login);
  seen.landed = pathOf(page.url());
  seen.next = new URL(page.url()).searchParams.get('next');
  if (action === 'cancel-unsigned') {
    seen.waiting = await text(page, '#cli-waiting');
    await clickAndWait(page, '#cancel-cli');
    seen.final = page.url();
    seen.body = (await page.locator('body').innerText()).trim().slice(0, 200);
    return seen;
  }
  await submitSignIn(page, user, password);
  seen.back = pathOf(page.url());
  seen.ask = await text(page, '#ask');
  await shot(page, 'cli-login');

  await clickAndWait(page, `#${action}`);
  // A refusal (say, admin access for a user who is no admin) stays on the portal's page.
  seen.error = await textIfAny(page, '.error:not(#handoff-failed)');
  if (seen.error !== null) {
    seen.final = page.url();
    await shot(page, 'cli-login-refused');
    return seen;
  }
  // Authorize: the page hands the token to the CLI's listener and goes on to the portal's done
  // page, or says the hand-over failed (the CLI is no longer listening) and stays.
  if (action === 'authorize' && !page.url().includes('success=true')) {
    const failed = page.locator('#handoff-failed');
    await Promise.race([
      page.waitForURL(/success=true/),
      failed.waitFor({ state: 'visible' }),
    ]);
    if (await failed.isVisible()) {
      seen.handoffFailed = (await failed.innerText()).trim();
      seen.final = page.url();
      await shot(page, 'cli-login-handoff-failed');
      return seen;
    }
  }
  seen.final = page.url();
  seen.done = await textIfAny(page, '#done');
  seen.body = (await page.locator('body').innerText()).trim().slice(0, 200);
  if (action === 'authorize') {
    seen.done = await text(page, '#done');
    seen.doneWho = await textIfAny(page, '#who');
    await shot(page, 'cli-login-done');
  }
  return seen;
});
