// The CLI login (docs/protocol.md §2) in a persistent Chromium profile, to see what the browser
// keeps: sign in, click Authorize, let the page hand the token to the CLI, close the browser so
// it writes its History file out. Reports every URL a frame navigated to and every request the
// browser made (method and URL); the test reads the profile's History itself.
//
// Env: LOGIN_URL, USERNAME, PASSWORD, PROFILE_DIR (the user data directory to use), JAVASCRIPT
// (on or off; default on: with it off, the page's no-script link finishes the login).

import { clickAndWait, maybe, need, runPersistent, submitSignIn, text, shot, fail } from './browser.mjs';

const javaScript = maybe('JAVASCRIPT', 'on');
if (!['on', 'off'].includes(javaScript)) fail(`JAVASCRIPT ${javaScript}?`);

runPersistent(need('PROFILE_DIR'), { javaScriptEnabled: javaScript === 'on' }, async (context) => {
  const login = need('LOGIN_URL');
  const navigations = [];
  const requests = [];
  context.on('request', (r) => requests.push(`${r.method()} ${r.url()}`));
  const page = context.pages()[0] || (await context.newPage());
  page.on('framenavigated', (frame) => navigations.push(frame.url()));
  const seen = { navigations, requests, fallback: false };

  await page.goto(login);
  await submitSignIn(page, need('USERNAME'), need('PASSWORD'));
  await clickAndWait(page, '#authorize');
  if (!page.url().includes('success=true')) {
    if (javaScript === 'off') {
      await shot(page, 'cli-login-handoff-nojs');
      await clickAndWait(page, '#handoff-link');
      seen.fallback = true;
    } else {
      await page.waitForURL(/success=true/);
    }
  }
  seen.final = page.url();
  seen.done = await text(page, '#done');
  // Closing the browser makes it write its History file.
  await context.close();
  return seen;
});
