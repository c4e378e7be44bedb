// The profile with scripts off: the Copy buttons stay hidden, and Copy AWS Console URL shows
// the URL on a page of its own to copy by hand.
//
// Env: PORTAL_URL, USERNAME, PASSWORD, TARGET (a target's key; default the first).

import {
  clickAndWait, fail, maybe, need, newContext, pathOf, portalUrl, run, shot, signIn, text,
} from './browser.mjs';

run(async (browser) => {
  const portal = portalUrl();
  const context = await newContext(browser, { origin: portal, javaScriptEnabled: false });
  const page = await context.newPage();
  await signIn(page, portal, need('USERNAME'), need('PASSWORD'));
  const seen = { url: pathOf(page.url()), who: await text(page, '#who') };
  const targets = await page.$$eval('.target', (els) => els.map((e) => e.id.replace(/^target-/, '')));
  const key = maybe('TARGET', targets[0]);
  if (!key) fail('no target on the profile page');
  seen.copyButtons = await page.locator('button.copy').count();
  seen.copyButtonsVisible = await page.locator('button.copy:visible').count();
  await clickAndWait(page, `#copy-url-${key}`);
  seen.consoleUrlPage = {
    url: pathOf(page.url()),
    heading: await text(page, 'h1'),
    value: await page.inputValue('#console-url'),
  };
  await shot(page, 'console-url-nojs');
  return seen;
});
