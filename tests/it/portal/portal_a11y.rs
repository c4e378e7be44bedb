//! The portal's pages pass axe-core's WCAG 2.1 A and AA rules in headless Chromium, at a desktop
//! and a phone size, fit a phone's width, and take keyboard focus (tests/web/a11y.mjs).

use crate::portal::portal_profile::{ROOT_PASSWORD, portal_with_console};
use crate::portal::portal_server::admin;
use crate::support::{Sandbox, finish};

/// Every page an admin can open, and the credentials page behind a button.
const PAGES: &str = "/profile,/access,/admin/access,/admin/tenants,/admin/tenants/dev01,/admin/users,/admin/users/alice,/admin/settings,/admin/audit";

#[test]
fn every_page_is_accessible_and_fits_a_phone() {
    let sb = Sandbox::new();
    let (portal, _stand_in, _, _) = portal_with_console(&sb);
    // Something on the access pages: a form with a choice, a rule, a policy and a group.
    for args in [
        &["eligible", "add", "admin", "root"][..],
        &["approver", "add", "dev01", "root"],
        &["policy", "set", "dev01", "--approvals", "2"],
        &["group", "add", "oncall"],
    ] {
        admin(&sb, args);
    }
    let mut node = sb.command("node");
    node.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/web/a11y.mjs"))
        .env("PORTAL_URL", &portal.url)
        .env("USERNAME", "root")
        .env("PASSWORD", ROOT_PASSWORD)
        .env("PAGES", PAGES)
        .env("CLICK", "#creds-tenant-dev01");
    let run = finish(node.output().expect("node")).ok();
    let found = run.json();
    let pages = found.as_object().expect("an object");
    assert!(pages.len() >= 18, "{found}");
    let mut problems = Vec::new();
    for (page, f) in pages {
        if f["violations"].as_array().is_none_or(|v| !v.is_empty()) {
            problems.push(format!("{page}: {}", f["violations"]));
        }
        if f["overflow"].as_i64().is_none_or(|px| px > 0) {
            problems.push(format!(
                "{page}: {} px wider than the screen: {}",
                f["overflow"], f["wide"]
            ));
        }
        if f["unfocusable"].as_array().is_none_or(|v| !v.is_empty()) {
            problems.push(format!("{page}: not focusable: {}", f["unfocusable"]));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
