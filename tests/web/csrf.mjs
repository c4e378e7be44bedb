// Cross-site request forgery: with the victim signed in, pages from other origins auto-submit
// forms to the portal's sign-out and to the CLI page's Authorize. Two attackers: one on another
// port of the portal's host (same site, so the session cookie goes along and only the CSRF token
// stops it) and one on another host (cross site). The attackers' pages are served by the
// browser's request routing, so no server is needed for them.
//
// Env: PORTAL_URL, USERNAME, PASSWORD, CLI_PORT (the localPort the forged Authorize names).

import {
  maybe, need, newContext, pathOf, portalUrl, run, sessionCookie, shot, signIn, text, TIMEOUT,
} from './browser.mjs';

function escapeHtml(s) {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/// A page that posts `fields` to `action` as soon as it loads.
function forgery(action, fields) {
  const inputs = Object.entries(fields)
    .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
    .join('');
  return `<!doctype html><title>You won a prize</title>
<form id="f" method="post" action="${escapeHtml(action)}">${inputs}</form>
<script>document.getElementById('f').submit();</script>`;
}

run(async (browser) => {
  const portal = portalUrl();
  const user = need('USERNAME');
  const password = need('PASSWORD');
  const cliPort = maybe('CLI_PORT', '45678');
  const portalPort = Number(new URL(portal).port || 80);
  const otherPort = portalPort === 18081 ? 18082 : 18081;
  const attackers = [
    { kind: 'same-site', origin: `http://127.0.0.1:${otherPort}` },
    { kind: 'cross-site', origin: `http://127.0.0.2:${otherPort}` },
  ];
  const targets = [
    { name: 'logout', path: '/logout', fields: {} },
    { name: 'logout-forged-csrf', path: '/logout', fields: { csrf: 'jit_forged' } },
    {
      name: 'authorize',
      path: '/app/user/verify-token',
      fields: { localPort: cliPort, isAdmin: 'false', state: 'guess', action: 'authorize' },
    },
    {
      name: 'authorize-forged-csrf',
      path: '/app/user/verify-token',
      fields: {
        csrf: 'jit_forged', localPort: cliPort, isAdmin: 'false', state: 'guess', action: 'authorize',
      },
    },
  ];

  const context = await newContext(browser, { origin: portal });
  const victim = await context.newPage();
  await signIn(victim, portal, user, password);
  const before = await sessionCookie(context, portal);
  const seen = { signedIn: await text(victim, '#who'), attacks: [] };

  for (const attacker of attackers) {
    for (const target of targets) {
      const evil = `${attacker.origin}/${target.name}.html`;
      const page = await context.newPage();
      await page.route(evil, (route) => route.fulfill({
        status: 200,
        contentType: 'text/html',
        body: forgery(`${portal}${target.path}`, target.fields),
      }));
      const posted = page.waitForResponse(
        (r) => r.url().startsWith(`${portal}${target.path}`) && r.request().method() === 'POST',
        { timeout: TIMEOUT },
      );
      await page.goto(evil);
      const response = await posted;
      await page.waitForLoadState('load');
      if (attacker.kind === 'same-site' && target.name === 'authorize') await shot(page, 'csrf-refused');
      seen.attacks.push({
        attacker: attacker.kind,
        target: target.name,
        status: response.status(),
        location: response.headers().location ?? null,
        landed: page.url().startsWith(portal) ? pathOf(page.url()) : page.url(),
      });
      await page.close();
    }
  }

  await victim.goto(`${portal}/profile`);
  seen.after = pathOf(victim.url());
  seen.who = await text(victim, '#who');
  seen.sameCookie = before !== null && before === (await sessionCookie(context, portal));
  return seen;
});
