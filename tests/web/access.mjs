// Access requests in two browsers at once: the requester asks on the profile page's form, the
// approver finds the request on the access page and approves it with a comment, and the
// requester's page then shows it approved with a running grant. The requester never sees their
// own request among those to decide; then the profile offers the granted tenant.
//
// With REQUEST_ID (a request made elsewhere, say by `jit request --wait`), only the approver's
// part runs, and DECISION (approve or deny; default approve) says what they do.
//
// Env: PORTAL_URL, APPROVER, APPROVER_PASSWORD, COMMENT; without REQUEST_ID also REQUESTER,
// REQUESTER_PASSWORD, TARGET_KEY (the checkbox's key: tenant-NAME, admin or duplo-ops), REASON.

import {
  clickAndWait, fail, maybe, need, newContext, pathOf, portalUrl, run, shot, signIn, text,
} from './browser.mjs';

run(async (browser) => {
  const portal = portalUrl();
  const decision = maybe('DECISION', 'approve');
  if (!['approve', 'deny'].includes(decision)) fail(`DECISION ${decision}?`);
  const seen = { requestId: maybe('REQUEST_ID') };

  let asking = null;
  const target = seen.requestId ? null : need('TARGET_KEY');
  if (!seen.requestId) {
    asking = await (await newContext(browser)).newPage();
    await signIn(asking, portal, need('REQUESTER'), need('REQUESTER_PASSWORD'));
    seen.formOnProfile = await asking.locator('#request-access #request-form').count();
    await asking.check(`#request-${target}`);
    await asking.selectOption('#request-duration', '1800');
    await asking.fill('#request-reason', need('REASON'));
    await shot(asking, 'access-request-form');
    await clickAndWait(asking, '#request-submit');
    seen.afterRequest = pathOf(asking.url());
    seen.notice = await text(asking, '#notice');
    const row = asking.locator('#request-list tbody tr').first();
    seen.requestId = (await row.getAttribute('id')).replace(/^request-/, '');
    seen.stateBefore = await text(asking, `#request-${seen.requestId} .state`);
    seen.ownQueue = await asking.locator('#to-approve').count();
    await shot(asking, 'access-requests');
  }

  const deciding = await (await newContext(browser)).newPage();
  await signIn(deciding, portal, need('APPROVER'), need('APPROVER_PASSWORD'), '/access');
  seen.asked = await text(deciding, `#decide-${seen.requestId} h3`);
  await deciding.fill(`#comment-${seen.requestId}`, need('COMMENT'));
  if (asking) await shot(deciding, 'access-approvals');
  await clickAndWait(deciding, `#${decision}-${seen.requestId}`);
  seen.decided = await text(deciding, '#notice');
  seen.queueAfter = await deciding.locator('#to-approve').count();
  if (!asking) return seen;

  await asking.goto(`${portal}/access`);
  seen.stateAfter = await text(asking, `#request-${seen.requestId} .state`);
  seen.grants = await text(asking, '#grant-list tbody');
  await shot(asking, 'access-granted');

  // The profile offers the granted tenant, with the grant's end, and vends within it.
  await asking.goto(`${portal}/profile`);
  seen.grantedTarget = await text(asking, `#target-${target} h3`);
  await clickAndWait(asking, `#creds-${target}`);
  seen.credsFor = await text(asking, '#creds-target');
  seen.credsUntil = await text(asking, '#expiration');
  return seen;
});
