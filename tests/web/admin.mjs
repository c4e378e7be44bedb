// The admin pages as an admin clicks them: a tenant's AWS Access Token Validity changed on its
// page, the admin session length changed on System Config, and the users and audit pages looked
// at, and a user's email address set on their page. The test then vends and checks that the
// next credentials last the new time.
//
// Env: PORTAL_URL, ADMIN_USERNAME, ADMIN_PASSWORD, TENANT, VALIDITY (seconds), ADMIN_SESSION
// (seconds, optional: System Config is left alone without it), EMAIL_USER and EMAIL (optional:
// the user whose address is set, and the address).

import {
  clickAndWait, maybe, need, newContext, pathOf, portalUrl, run, shot, signIn, text, textIfAny,
} from './browser.mjs';

run(async (browser) => {
  const portal = portalUrl();
  const user = need('ADMIN_USERNAME');
  const password = need('ADMIN_PASSWORD');
  const tenant = need('TENANT');
  const validity = need('VALIDITY');
  const adminSession = maybe('ADMIN_SESSION');
  const emailUser = maybe('EMAIL_USER');
  const email = maybe('EMAIL');
  const context = await newContext(browser, { origin: portal });
  const page = await context.newPage();
  await signIn(page, portal, user, password, '/admin/tenants');
  const seen = { url: pathOf(page.url()), heading: await text(page, 'h1') };
  await shot(page, 'admin-tenants');

  // The tenant's page, through its link in the table.
  await clickAndWait(page, `#tenant-${tenant} a`);
  seen.tenant = {
    url: pathOf(page.url()),
    heading: await text(page, 'h1'),
    id: await text(page, '#tenant-id'),
    validityBefore: await page.inputValue('#validity_secs'),
  };
  await page.fill('#validity_secs', validity);
  await clickAndWait(page, '#save');
  seen.tenant.notice = await textIfAny(page, '#notice');
  seen.tenant.error = await textIfAny(page, '#error');
  seen.tenant.validityAfter = await page.inputValue('#validity_secs');
  await shot(page, 'admin-tenant');
  await page.goto(`${portal}/admin/tenants`);
  seen.tenant.row = await text(page, `#tenant-${tenant}`);

  if (adminSession) {
    await clickAndWait(page, '#nav-settings');
    seen.settings = {
      url: pathOf(page.url()),
      before: await page.inputValue('#admin_session_secs'),
    };
    await page.fill('#admin_session_secs', adminSession);
    await clickAndWait(page, '#save');
    seen.settings.notice = await textIfAny(page, '#notice');
    seen.settings.error = await textIfAny(page, '#error');
    seen.settings.after = await page.inputValue('#admin_session_secs');
    await shot(page, 'admin-settings');
  }

  await clickAndWait(page, '#nav-users');
  seen.users = await page.$$eval('#users tbody tr', (rows) => rows.map((r) => r.id));
  await shot(page, 'admin-users');
  if (emailUser && email) {
    await clickAndWait(page, `#user-${emailUser} a`);
    seen.email = { url: pathOf(page.url()), before: await page.inputValue('#email') };
    await page.fill('#email', email);
    await clickAndWait(page, '#save-email');
    seen.email.notice = await textIfAny(page, '#notice');
    seen.email.error = await textIfAny(page, '#error');
    seen.email.after = await page.inputValue('#email');
    await clickAndWait(page, '#nav-users');
    seen.email.row = await text(page, `#user-${emailUser} td.email`);
  }
  await clickAndWait(page, '#nav-audit');
  seen.audit = { heading: await text(page, 'h1') };
  await page.selectOption('#event', 'tenant set');
  await clickAndWait(page, '#filter');
  seen.audit.url = pathOf(page.url());
  seen.audit.rows = await page.$$eval('table tbody tr', (rows) => rows.map((r) => r.innerText));
  await shot(page, 'admin-audit');
  return seen;
});
