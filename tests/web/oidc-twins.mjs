// Single sign-on with more than one login in a browser.
//
// MODE=tabs: two tabs of one browser each start a sign-in and reach the provider, then each
// finishes its own (the first tab first): both land on the portal signed in.
// MODE=planted: the victim starts a sign-in and is at the provider when another server on the
// portal's host (cookies ignore the port) plants a twin of the victim's login cookie at the
// callback's path, holding the attacker's login (ATTACKER_COOKIE), and sends the victim to the
// attacker's callback (ATTACK_CALLBACK, the attacker's state and code). The portal must refuse
// the pair instead of signing the victim in as the attacker.
//
// Env: PORTAL_URL, MODE, OIDC_LOGIN (tabs), ATTACKER_COOKIE and ATTACK_CALLBACK (planted).
//
// Prints, tabs: underWay (the login cookies, [{name, path, secure, httpOnly, sameSite}], while
// both are at the provider), tabs ([{status, path, who}] in the order they finished), left (login
// cookies left after). planted: victimLogin ({name, ...} of the victim's login cookie), status,
// message, who, session (whether a session cookie is set).

import {
  clickAndLand, cookieShape, fail, need, newContext, pathOf, plantTwin, portalUrl, run,
  signInAtProvider, textIfAny,
} from './browser.mjs';

// The single sign-on logins under way the context holds for `portal`.
async function loginCookies(context, portal) {
  return (await context.cookies(portal)).filter((c) => c.name.includes('jit_oidc'));
}

// A new tab of `context` at the provider's sign-in page, from the portal's SSO button.
async function toProvider(context, portal) {
  const page = await context.newPage();
  await page.goto(`${portal}/login?next=${encodeURIComponent('/profile')}`);
  await clickAndLand(page, '#oidc-sign-in');
  if (new URL(page.url()).origin === portal) fail(`the SSO button stayed on the portal: ${page.url()}`);
  if ((await page.locator('form#login').count()) === 0) fail(`no provider sign-in form on ${page.url()}`);
  return page;
}

run(async (browser) => {
  const portal = portalUrl();
  const mode = need('MODE');
  const context = await newContext(browser, { origin: portal });
  const seen = {};

  if (mode === 'tabs') {
    const login = need('OIDC_LOGIN');
    const one = await toProvider(context, portal);
    const two = await toProvider(context, portal);
    seen.underWay = (await loginCookies(context, portal)).map(cookieShape);
    seen.tabs = [];
    for (const page of [one, two]) {
      const { response } = await signInAtProvider(page, login, 'pw');
      if (new URL(page.url()).origin !== portal) fail(`not back at the portal: ${page.url()}`);
      seen.tabs.push({
        status: response ? response.status() : null,
        path: pathOf(page.url()),
        who: await textIfAny(page, '#who'),
      });
    }
    seen.left = (await loginCookies(context, portal)).map(cookieShape);
    return seen;
  }
  if (mode !== 'planted') fail(`MODE ${mode}?`);

  const page = await toProvider(context, portal);
  const own = (await loginCookies(context, portal))[0];
  if (!own) fail('no login cookie after starting the sign-in');
  seen.victimLogin = cookieShape(own);
  await plantTwin(context, portal, own.name, need('ATTACKER_COOKIE'), '/login/oidc/callback');
  const response = await page.goto(need('ATTACK_CALLBACK'));
  seen.status = response.status();
  seen.path = pathOf(page.url());
  seen.message = await textIfAny(page, '#message');
  seen.who = await textIfAny(page, '#who');
  seen.session = (await context.cookies(portal)).some((c) => c.name.endsWith('jit_session'));
  return seen;
});
