// Password sign-in: /profile sends a stranger to /login; a wrong password shows #error and
// leaves the browser signed out; the right one lands on /profile with the user in #who.
//
// Env: PORTAL_URL, USERNAME, PASSWORD, WRONG_PASSWORD (optional).

import {
  clickAndWait, maybe, need, newContext, pathOf, portalUrl, run, sessionCookie, shot,
  submitSignIn, text, textIfAny,
} from './browser.mjs';

run(async (browser) => {
  const portal = portalUrl();
  const user = need('USERNAME');
  const password = need('PASSWORD');
  const wrong = maybe('WRONG_PASSWORD');
  const context = await newContext(browser, { origin: portal });
  const page = await context.newPage();
  const seen = {};

  await page.goto(`${portal}/profile`);
  seen.anonymous = pathOf(page.url());
  await shot(page, 'login');

  if (wrong) {
    await submitSignIn(page, user, wrong);
    seen.wrong = {
      url: pathOf(page.url()),
      error: await text(page, '#error'),
      cookie: await sessionCookie(context, portal),
    };
    await shot(page, 'login-error');
    await page.goto(`${portal}/profile`);
    seen.wrong.profileAfter = pathOf(page.url());
  }

  await submitSignIn(page, user, password);
  seen.url = pathOf(page.url());
  seen.title = await page.title();
  seen.who = await text(page, '#who');
  seen.user = await textIfAny(page, '#user');
  seen.cookie = Boolean(await sessionCookie(context, portal));
  await shot(page, 'profile');

  await clickAndWait(page, '#logout');
  seen.afterLogout = pathOf(page.url());
  await page.goto(`${portal}/profile`);
  seen.profileAfterLogout = pathOf(page.url());
  return seen;
});
