// Session fixation: a session cookie planted while the victim is on the sign-in form (a
// made-up value, or someone else's live session) must not survive the sign-in, and must give
// no access afterwards.
//
// Env: PORTAL_URL, USERNAME, PASSWORD, PLANTED.

import {
  need, newContext, pathOf, portalUrl, run, SESSION_COOKIE, sessionCookie, submitSignIn, text,
} from './browser.mjs';

run(async (browser) => {
  const portal = portalUrl();
  const user = need('USERNAME');
  const password = need('PASSWORD');
  const planted = need('PLANTED');
  const plant = async (context) => context.addCookies([{
    // Prefixed, so Secure at Path=/: what the portal's own looks like (a `url` would make it
    // not Secure, which a browser refuses for a `__Host-` name).
    name: SESSION_COOKIE, value: planted, domain: new URL(portal).hostname, path: '/',
    secure: true, httpOnly: true, sameSite: 'Lax',
  }]);

  const context = await newContext(browser, { origin: portal });
  const page = await context.newPage();
  await page.goto(`${portal}/login?next=/profile`);
  await plant(context);
  const seen = { plantedBefore: (await sessionCookie(context, portal)) === planted };
  await submitSignIn(page, user, password);
  seen.url = pathOf(page.url());
  seen.who = await text(page, '#who');
  const now = await sessionCookie(context, portal);
  seen.cookieSet = now !== null;
  seen.cookieChanged = now !== planted;
  seen.readableByScript = await page.evaluate(() => document.cookie.includes('jit_session'));

  // The planted value on its own, in a clean browser.
  const other = await newContext(browser, { origin: portal });
  await plant(other);
  const probe = await other.newPage();
  await probe.goto(`${portal}/profile`);
  seen.plantedProfile = pathOf(probe.url());
  return seen;
});
