// Passkeys (docs/protocol.md §11) through Chromium's virtual authenticators (CDP WebAuthn
// domain): register two on the profile's second-factor page (one per authenticator); a removal
// with the session alone is refused, and so is one proven by a passkey added in the same
// session (what a stolen session could add itself); signed in again with that passkey, the page
// removes it with its confirmation. Then the password and an assertion from the removed passkey
// are refused, one from the kept passkey signs in, once: the same assertion replayed is
// refused. With TOTP on, a code removes a passkey, but only from a session that TOTP predates.
// The portal is at http://localhost:PORT: an IP address is no WebAuthn relying-party id.
//
// Env: PORTAL_URL, USERNAME, PASSWORD.

import {
  TIMEOUT, clickAndWait, fail, maybe, need, newContext, pathOf, portalUrl, run, sessionCookie, shot,
  signIn, textIfAny, totp,
} from './browser.mjs';

// POST the profile's passkey removal form as a forged page would: the session, its CSRF
// token, a name and `code`, nothing else. The status, redirects not followed.
async function removeWithSessionOnly(page, portal, name, code = '') {
  await page.goto(`${portal}/profile/mfa`);
  const csrf = await page.inputValue('#passkey-add input[name=csrf]');
  const r = await page.request.post(`${portal}/profile/passkeys/remove`, {
    form: { csrf, name, code },
    maxRedirects: 0,
  });
  return r.status();
}

// A virtual platform authenticator (user verification on) for the page.
async function authenticator(cdp) {
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return authenticatorId;
}

// Register a passkey named `name` on the profile's page: where the page lands, and its notice.
async function register(page, portal, name) {
  await page.goto(`${portal}/profile/mfa`);
  await page.fill('#passkey-name', name);
  await clickAndWait(page, '#passkey-register');
  return { url: pathOf(page.url()), notice: await textIfAny(page, '#notice') };
}

// Click the passkey's Remove on the profile (the page confirms with a passkey): where it lands,
// or the error the page shows.
async function removeByPasskey(page, portal, name) {
  await page.goto(`${portal}/profile/mfa`);
  const before = page.url();
  await page.locator('#passkeys tr', { hasText: name }).locator('.passkey-remove').click();
  await page.waitForFunction(
    (b) => window.location.href !== b || document.getElementById('passkey-remove-status').textContent,
    before,
    { timeout: TIMEOUT },
  );
  await page.waitForLoadState();
  return {
    url: pathOf(page.url()),
    error: await textIfAny(page, '#passkey-remove-status'),
    notice: await textIfAny(page, '#notice'),
  };
}

// Click "Use a passkey" on the factor page: the path it lands on, or the error it shows.
async function usePasskey(page) {
  const button = page.locator('#passkey-use-button');
  await button.waitFor({ state: 'visible', timeout: TIMEOUT });
  const before = page.url();
  await button.click();
  await page.waitForFunction(
    (b) => window.location.href !== b || document.getElementById('passkey-status').textContent,
    before,
    { timeout: TIMEOUT },
  );
  await page.waitForLoadState();
  return { url: pathOf(page.url()), error: await textIfAny(page, '#passkey-status') };
}

run(async (browser) => {
  const portal = portalUrl();
  const user = need('USERNAME');
  const password = need('PASSWORD');
  const context = await newContext(browser, { origin: portal });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const seen = {};

  await signIn(page, portal, user, password);
  let a = await authenticator(cdp);
  seen.laptop = await register(page, portal, 'laptop');
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId: a });
  seen.laptopCredentials = credentials.length;
  await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: a });

  // A second authenticator, a second passkey; then removed on the profile.
  const b = await authenticator(cdp);
  seen.phone = await register(page, portal, 'phone');
  seen.listed = await page.locator('#passkeys .passkey-name').allInnerTexts();
  await shot(page, 'passkeys-profile');
  seen.sessionOnly = await removeWithSessionOnly(page, portal, 'phone');
  // Confirmed by phone itself, added in this session: refused.
  seen.tooNew = await removeByPasskey(page, portal, 'phone');
  await page.goto(`${portal}/profile`);
  await clickAndWait(page, '#logout');
  // Signed in again with phone (authenticator b), phone removes itself.
  await signIn(page, portal, user, password);
  seen.viaPhone = await usePasskey(page);
  const removed = await removeByPasskey(page, portal, 'phone');
  seen.removed = removed.notice;
  seen.removedError = removed.error;
  seen.listedAfter = await page.locator('#passkeys .passkey-name').allInnerTexts();
  await page.goto(`${portal}/profile`);
  await clickAndWait(page, '#logout');

  // The password alone: the factor page, which offers a passkey.
  await signIn(page, portal, user, password);
  seen.factorUrl = pathOf(page.url());
  await shot(page, 'passkeys-factor');
  // The removed passkey (the only one authenticator b holds), offered to the portal by
  // rewriting the challenge's allowed credentials in the browser: refused.
  const { credentials: phone } = await cdp.send('WebAuthn.getCredentials', { authenticatorId: b });
  await page.route('**/login/passkey/options', async (route) => {
    const response = await route.fetch();
    const body = await response.json();
    body.publicKey.allowCredentials = [
      { type: 'public-key', id: phone[0].credentialId.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '') },
    ];
    await route.fulfill({ response, json: body });
  });
  seen.removedPasskey = await usePasskey(page);
  seen.sessionAfterRefusal = Boolean(await sessionCookie(context, portal));
  await page.unroute('**/login/passkey/options');
  await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: b });

  // The kept passkey, on a fresh authenticator holding it: signed in.
  a = await authenticator(cdp);
  await cdp.send('WebAuthn.addCredential', { authenticatorId: a, credential: credentials[0] });
  // The browser's cookies as the assertion leaves (the pending sign-in, the ceremony) and the
  // assertion, kept for a replay.
  let before = [];
  let assertion = null;
  await page.route('**/login/passkey', async (route) => {
    before = (await context.cookies(portal)).filter((c) => !c.name.endsWith('jit_session'));
    assertion = route.request().postData();
    await route.continue();
  });
  seen.kept = await usePasskey(page);
  seen.sessionAfterPasskey = Boolean(await sessionCookie(context, portal));

  // The same assertion again, from another browser holding the same cookies: the challenge was
  // spent.
  const replayer = await newContext(browser, { origin: portal });
  await replayer.addCookies(before);
  const replay = await replayer.request.post(`${portal}/login/passkey`, {
    data: assertion,
    headers: { 'Content-Type': 'application/json', Origin: portal },
  });
  seen.replay = {
    status: replay.status(),
    haveAssertion: assertion !== null,
    ceremonyCookie: before.some((c) => c.name.endsWith('jit_passkey')),
  };
  seen.sessionAfterReplay = Boolean(await sessionCookie(replayer, portal));

  if (maybe('PYTHON')) {
    // TOTP beside the passkey: removing the passkey now takes a code from the app, from a
    // session the TOTP factor predates.
    await page.goto(`${portal}/profile/mfa`);
    await clickAndWait(page, '#mfa-start');
    const secret = await page.inputValue('#secret');
    await page.fill('#code', totp(secret));
    await clickAndWait(page, '#confirm');
    const recovery = (await page.locator('#recovery-codes code').allInnerTexts())[0];
    // A third passkey, on an authenticator of its own (the one holding laptop is excluded).
    await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: a });
    await authenticator(cdp);
    seen.spare = await register(page, portal, 'spare');
    const removeSpare = async (code) => {
      await page.goto(`${portal}/profile/mfa`);
      const row = page.locator('#passkeys tr', { hasText: 'spare' });
      await row.locator('.passkey-code').fill(code);
      await clickAndWait(page, '#passkeys tr:has-text("spare") .passkey-remove');
    };
    await removeSpare(totp(secret, 600));
    seen.totpWrong = { error: await textIfAny(page, '#error') };
    await removeSpare(totp(secret, 30));
    seen.totpTooNew = { error: await textIfAny(page, '#error') };
    // Signed in again (a recovery code for the factor step), the same code removes it.
    await page.goto(`${portal}/profile`);
    await clickAndWait(page, '#logout');
    await signIn(page, portal, user, password);
    await page.fill('#code', recovery);
    await clickAndWait(page, '#verify');
    seen.viaRecovery = pathOf(page.url());
    await removeSpare(totp(secret, 30));
    seen.totpRemoved = await textIfAny(page, '#notice');
    seen.listedAtEnd = await page.locator('#passkeys .passkey-name').allInnerTexts();
  }
  return seen;
});
