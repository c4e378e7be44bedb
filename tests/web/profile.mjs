// The profile page's buttons as a user clicks them: JIT AWS Console (a new tab that lands on
// the AWS federation sign-in URL), Copy AWS Console URL (read back from the clipboard), an API
// token created, tried and revoked, and Temporary AWS Credentials (copied, and printed for the
// test to use with the AWS CLI).
//
// Env: PORTAL_URL, USERNAME, PASSWORD, TARGET (a target's key, as in #console-KEY; default the
// first on the page). With JIT_SCREENSHOTS, also a phone-sized shot of the profile.

import {
  PHONE, TIMEOUT, clickAndWait, fail, maybe, need, newContext, pathOf, portalUrl, run, shot,
  signIn, text, textIfAny,
} from './browser.mjs';

async function clipboard(page) {
  return page.evaluate(() => navigator.clipboard.readText());
}

/// Wait until the element's text is no longer `from` (a script changed it).
async function changed(page, selector, from) {
  await page.waitForFunction(
    ([sel, old]) => {
      const el = document.querySelector(sel);
      return el && el.textContent.trim() !== '' && el.textContent.trim() !== old;
    },
    [selector, from],
    { timeout: TIMEOUT },
  );
  return text(page, selector);
}

run(async (browser) => {
  const portal = portalUrl();
  const user = need('USERNAME');
  const password = need('PASSWORD');
  const context = await newContext(browser, { origin: portal });
  const page = await context.newPage();
  await signIn(page, portal, user, password);
  if (pathOf(page.url()) !== '/profile') fail(`sign-in ended on ${page.url()}`);
  const seen = { user: await text(page, '#user') };
  seen.targets = await page.$$eval('.target', (els) => els.map((e) => e.id.replace(/^target-/, '')));
  const key = maybe('TARGET', seen.targets[0]);
  if (!key) fail('no target on the profile page');
  seen.target = key;
  await shot(page, 'profile');

  // JIT AWS Console opens a new tab, which the portal sends on to AWS.
  const [tab] = await Promise.all([
    context.waitForEvent('page', { timeout: TIMEOUT }),
    page.click(`#console-${key}`),
  ]);
  await tab.waitForURL((u) => !u.href.startsWith(portal), { timeout: TIMEOUT, waitUntil: 'commit' });
  seen.console = tab.url();
  await tab.close();

  // Copy AWS Console URL: the page's script puts a fresh URL on the clipboard.
  await page.evaluate(() => navigator.clipboard.writeText('nothing yet'));
  await page.click(`#copy-url-${key}`);
  seen.copyStatus = await changed(page, `#status-${key}`, 'Getting a sign-in URL...');
  seen.copiedUrl = await clipboard(page);
  seen.stillOn = pathOf(page.url());
  await shot(page, 'profile-copied');

  // An API token: created, shown once, copied, it works; then revoked from the list.
  await page.selectOption('#lifetime', '3600');
  await clickAndWait(page, '#create-token');
  seen.token = {
    id: await text(page, '#new-token-id'),
    value: await page.inputValue('#new-token'),
  };
  await page.click('button[data-copy="new-token"]');
  seen.token.button = await changed(page, 'button[data-copy="new-token"]', 'Copy');
  seen.token.copied = (await clipboard(page)) === seen.token.value;
  const tried = await fetch(`${portal}/admin/GetTenantsForUser`, {
    headers: { Authorization: `Bearer ${seen.token.value}` },
  });
  seen.token.statusBefore = tried.status;
  await shot(page, 'token-created');
  await page.goto(`${portal}/profile#tokens`);
  seen.token.listed = (await page.locator(`#token-${seen.token.id}`).count()) === 1;
  await clickAndWait(page, `#revoke-${seen.token.id}`);
  seen.token.afterRevoke = pathOf(page.url());
  seen.token.notice = await textIfAny(page, '#notice');
  seen.token.listedAfter = (await page.locator(`#token-${seen.token.id}`).count()) === 1;

  // Temporary AWS Credentials: a page of their own, each block with a Copy button.
  await clickAndWait(page, `#creds-${key}`);
  seen.credentials = {
    url: pathOf(page.url()),
    heading: await text(page, 'h1'),
    accessKeyId: await text(page, '#access-key-id'),
    posix: await text(page, '#creds-posix'),
  };
  await page.click('#copy-creds');
  seen.credentials.button = await changed(page, '#copy-creds', 'Copy');
  seen.credentials.copied = (await clipboard(page)).trim() === seen.credentials.posix;
  await shot(page, 'credentials');

  // On a phone: the page must not scroll sideways (wide tables and code scroll on their own).
  const phone = await newContext(browser, { origin: portal, viewport: PHONE, isMobile: true });
  const small = await phone.newPage();
  await signIn(small, portal, user, password);
  seen.phone = await small.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const wide = [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > width + 1)
      // What scrolls inside a .table-wrap or pre counts only when positioned out of it.
      .filter((e) => ['absolute', 'fixed'].includes(getComputedStyle(e).position)
        || !e.parentElement.closest('.table-wrap, pre'))
      .map((e) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}`);
    return { width, scrollWidth: document.documentElement.scrollWidth, wide: wide.slice(0, 10) };
  });
  await shot(small, 'profile-phone');
  await phone.close();
  return seen;
});
