// Accessibility of the portal's pages: axe-core's WCAG 2 A and AA rules in headless Chromium, at
// a desktop and a phone size, plus "nothing wider than a phone's screen" and "every control
// reachable with the keyboard".
//
//   PORTAL_URL=http://127.0.0.1:PORT USERNAME=root PASSWORD=... \
//   PAGES=/profile,/admin/tenants CLICK=#creds-admin node tests/web/a11y.mjs
//
// Signs in with the password first (the sign-in page is checked before that), then checks each
// page of PAGES and, when CLICK is set, the page that clicking that button on /profile opens.
// Prints one JSON object: {"<page> <size>": {"violations": [...], "overflow": px, "unfocusable":
// [...]}}. It exits non-zero only when it cannot do its job; the test judges the findings.
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const axePath = require.resolve("axe-core/axe.min.js");
const { PORTAL_URL: base, USERNAME: user, PASSWORD: password } = process.env;
const pages = (process.env.PAGES || "/profile").split(",").filter(Boolean);
const sizes = { desktop: { width: 1000, height: 700 }, phone: { width: 390, height: 844 } };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
const found = {};

async function check(page, name) {
  // axe is injected as a script tag; the context bypasses the portal's CSP for that alone.
  await page.addScriptTag({ path: axePath });
  const result = await page.evaluate(() =>
    globalThis.axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] }),
  );
  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  );
  // What sticks out, innermost first, to say what to fix.
  const wide = await page.evaluate(() => {
    const edge = document.documentElement.clientWidth;
    return [...document.querySelectorAll("body *")]
      .filter((el) => el.getBoundingClientRect().right > edge + 0.5)
      .filter((el) => ![...el.children].some((c) => c.getBoundingClientRect().right > edge + 0.5))
      .map((el) => el.id || el.tagName.toLowerCase() + (el.className ? `.${el.className}` : ""))
      .slice(0, 5);
  });
  // Every visible control takes keyboard focus (no tabindex=-1 traps, no divs posing as buttons).
  const unfocusable = await page.evaluate(() =>
    [...document.querySelectorAll("a[href], button, input:not([type=hidden]), select, textarea")]
      .filter((el) => el.offsetParent !== null)
      .filter((el) => {
        el.focus();
        return document.activeElement !== el;
      })
      .map((el) => el.id || el.outerHTML.slice(0, 60)),
  );
  found[name] = {
    violations: result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5),
    })),
    overflow,
    wide,
    unfocusable,
  };
}

try {
  for (const [size, viewport] of Object.entries(sizes)) {
    const context = await browser.newContext({ viewport, bypassCSP: true });
    const page = await context.newPage();
    page.setDefaultTimeout(15000);
    await page.goto(`${base}/login`);
    await check(page, `/login ${size}`);
    await page.fill("#username", user);
    await page.fill("#password", password);
    await Promise.all([page.waitForURL(/\/profile/), page.click("#signin")]);
    for (const path of pages) {
      const response = await page.goto(`${base}${path}`);
      if (!response || response.status() !== 200) {
        throw new Error(`${path}: status ${response && response.status()}`);
      }
      await check(page, `${path} ${size}`);
    }
    if (process.env.CLICK) {
      await page.goto(`${base}/profile`);
      await Promise.all([page.waitForNavigation(), page.click(process.env.CLICK)]);
      await check(page, `${process.env.CLICK} ${size}`);
    }
    await context.close();
  }
} catch (e) {
  console.error(`a11y: ${e.message}`);
  await browser.close();
  process.exit(1);
}
await browser.close();
console.log(JSON.stringify(found));
