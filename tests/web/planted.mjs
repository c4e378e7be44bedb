// Cookie tossing: another server on the portal's host (cookies ignore the port) plants its own
// session cookie at a narrower path next to the victim's real one. The browser sends the
// narrower one first; the portal must refuse the pair, not use the planted session on the CLI
// login page. Also reports what the browser stored from the portal (names and attributes).
//
// Env: PORTAL_URL, USERNAME, PASSWORD (the victim), PLANTED (the attacker's session value),
// LOGIN_PATH (a CLI login page, path and query).
//
// Prints: stored ([{name, path, secure, httpOnly, sameSite}] after sign-in), who, login
// ({status, message, ask, who} of the CLI login page with the planted cookie).

import {
  cookieShape, need, newContext, plantTwin, portalUrl, run, signIn, textIfAny,
} from './browser.mjs';

run(async (browser) => {
  const portal = portalUrl();
  const context = await newContext(browser, { origin: portal });
  const page = await context.newPage();
  await signIn(page, portal, need('USERNAME'), need('PASSWORD'));
  const seen = { who: await textIfAny(page, '#who') };
  const stored = await context.cookies(portal);
  seen.stored = stored.map(cookieShape);

  const session = stored.find((c) => c.name.endsWith('jit_session'));
  if (session) await plantTwin(context, portal, session.name, need('PLANTED'), '/app');
  const response = await page.goto(`${portal}${need('LOGIN_PATH')}`);
  seen.login = {
    status: response.status(),
    message: await textIfAny(page, '#message'),
    ask: await textIfAny(page, '#ask'),
    who: await textIfAny(page, '#who'),
  };
  return seen;
});
