//! The portal's admin pages over HTTP: changes made there reach the next vend through the real
//! portal and moto, every change is audited with the admin as actor, and non-admins, forged
//! forms and bad values change nothing.

use crate::portal::portal_server::{Served, admin, get, provision, serve, vend};
use crate::portal::portal_web::{Browser, Page, passwd, unescape};
use crate::support::{Sandbox, assert_no_secrets, register_secret};

pub(crate) const ROOT_PASSWORD: &str = "root-admin-password-9";
const ALICE_PASSWORD: &str = "alice-admin-test-pw-3";

/// A browser signed in as `user`.
#[track_caller]
pub(crate) fn signed_in(portal: &Served, user: &str, password: &str) -> Browser {
    let mut b = Browser::new(portal);
    let page = b.sign_in(user, password);
    assert_eq!(page.status, 303, "{}", page.body);
    b
}

/// Open `path` (as a browser would before submitting its form) and post `form` with the
/// page's CSRF token.
#[track_caller]
pub(crate) fn submit(b: &mut Browser, path: &str, action: &str, form: &[(&str, &str)]) -> Page {
    let page = b.get(path);
    assert_eq!(page.status, 200, "{path}: {}", page.body);
    let csrf = page.hidden("csrf");
    let mut full = vec![("csrf", csrf.as_str())];
    full.extend_from_slice(form);
    b.post(action, &full)
}

/// A 303 back to `to`, whose page then shows a confirmation.
#[track_caller]
pub(crate) fn redirected(b: &mut Browser, page: &Page, to: &str) {
    assert_eq!(page.status, 303, "{}", page.body);
    let location = page.header("location");
    assert_eq!(location, to);
    let shown = b.get(&location);
    assert_eq!(shown.status, 200);
    assert!(shown.body.contains("role=\"status\""), "{}", shown.body);
}

/// A 400 with an alert that says `needle`.
#[track_caller]
pub(crate) fn refused(page: &Page, needle: &str) {
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("role=\"alert\""), "{}", page.body);
    assert!(unescape(&page.body).contains(needle), "{}", page.body);
}

/// Seconds from now until the `Expiration` of printed credentials.
#[track_caller]
fn lifetime(creds: &serde_json::Value) -> i64 {
    let expires: jiff::Timestamp = creds["Expiration"]
        .as_str()
        .expect("Expiration")
        .parse()
        .expect("RFC 3339");
    expires.as_second() - jiff::Timestamp::now().as_second()
}

#[track_caller]
fn lasts_about(creds: &serde_json::Value, secs: i64) {
    let left = lifetime(creds);
    assert!(
        (secs - 120..=secs + 5).contains(&left),
        "credentials last {left}s, not about {secs}s"
    );
}

/// The audit trail as JSON lines, one value each.
pub(crate) fn audit_json(sb: &Sandbox) -> Vec<serde_json::Value> {
    admin(sb, &["audit", "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

/// What admin changes can touch: tenants, users, and the changes the trail holds.
pub(crate) fn snapshot(sb: &Sandbox) -> String {
    let changes: Vec<String> = audit_json(sb)
        .into_iter()
        .filter(|e| {
            let event = e["event"].as_str().unwrap_or_default();
            event.starts_with("tenant ") || event.starts_with("user ") || event == "settings"
        })
        .map(|e| e.to_string())
        .collect();
    format!(
        "{}\n{}\n{}",
        admin(sb, &["tenant", "list"]),
        admin(sb, &["user", "list"]),
        changes.join("\n")
    )
}

#[test]
fn tenant_validity_and_admin_session_changed_on_the_pages_reach_the_next_vend() {
    let sb = Sandbox::new();
    let (alice, root) = provision(&sb);
    passwd(&sb, "root", &format!("{ROOT_PASSWORD}\n")).ok();
    let portal = serve(&sb);
    let mut b = signed_in(&portal, "root", ROOT_PASSWORD);
    let tf = sb.token_file(&alice);
    lasts_about(&vend(&sb, &portal.url, &tf), 900);

    let list = b.get("/admin/tenants");
    assert_eq!(list.status, 200, "{}", list.body);
    for needle in [
        "id=\"tenants\"",
        "<caption id=\"",
        "class=\"table-wrap\"",
        "id=\"tenant-dev01\"",
        "id=\"tenant-big\"",
        "href=\"/admin/tenants/dev01\"",
        "AWS Access Token Validity (seconds)",
        "arn:aws:iam::111111111111:role/dev01",
        "id=\"tenant-add\"",
        "name=\"validity_secs\" type=\"number\" min=\"900\" max=\"43200\" value=\"3600\"",
        "name=\"max_session_secs\" type=\"number\" min=\"900\" max=\"43200\" value=\"43200\"",
    ] {
        assert!(
            list.body.contains(needle),
            "{needle} missing: {}",
            list.body
        );
    }

    let settings = b.get("/admin/tenants/dev01");
    assert_eq!(settings.status, 200);
    for needle in [
        "id=\"tenant-settings\"",
        "<label for=\"validity_secs\">AWS Access Token Validity (seconds)</label>",
        "name=\"validity_secs\" type=\"number\" min=\"900\" max=\"43200\" value=\"900\"",
        "<textarea id=\"k8s_ca\" name=\"k8s_ca\"",
        "name=\"clear_k8s\"",
        "id=\"save\"",
        "id=\"remove\"",
        "name=\"confirm\"",
    ] {
        assert!(
            settings.body.contains(needle),
            "{needle} missing: {}",
            settings.body
        );
    }
    let tenant_id = {
        let start = settings.body.find("id=\"tenant-id\">").expect("id") + 15;
        settings.body[start..start + 32].to_string()
    };
    let saved = submit(
        &mut b,
        "/admin/tenants/dev01",
        "/admin/tenants/dev01",
        &[
            ("role_arn", "arn:aws:iam::111111111111:role/dev01"),
            ("validity_secs", "1800"),
            ("max_session_secs", "43200"),
            ("k8s_cluster", ""),
            ("k8s_server", ""),
            ("k8s_ca", ""),
        ],
    );
    redirected(&mut b, &saved, "/admin/tenants/dev01?saved=1");
    lasts_about(&vend(&sb, &portal.url, &tf), 1800);
    let (status, body) = get(
        &format!(
            "{}/subscriptions/{tenant_id}/GetAwsConsoleTokenUrl",
            portal.url
        ),
        &alice,
    );
    assert_eq!(status, 200, "{body}");
    register_secret(body["SecretAccessKey"].as_str().expect("secret"));
    register_secret(body["SessionToken"].as_str().expect("session"));
    assert_eq!(body["Validity"], 1800);

    // System Config: the admin vend follows AdminJitSessionDuration; empty roles stay.
    let rt = sb.token_file(&root);
    let admin_vend = || {
        let creds = sb
            .aws()
            .admin()
            .host(&portal.url)
            .token_file(&rt)
            .no_cache()
            .ok()
            .json();
        register_secret(creds["SecretAccessKey"].as_str().expect("secret"));
        register_secret(creds["SessionToken"].as_str().expect("session"));
        creds
    };
    lasts_about(&admin_vend(), 43200);
    let page = b.get("/admin/settings");
    assert_eq!(page.status, 200);
    for needle in [
        "<title>System Config - jit portal</title>",
        "id=\"system-settings\"",
        "<label for=\"admin_session_secs\">AdminJitSessionDuration (seconds)</label>",
        "value=\"43200\"",
        "value=\"arn:aws:iam::333333333333:role/admin\"",
    ] {
        assert!(
            page.body.contains(needle),
            "{needle} missing: {}",
            page.body
        );
    }
    let saved = submit(
        &mut b,
        "/admin/settings",
        "/admin/settings",
        &[
            ("admin_session_secs", "3600"),
            ("admin_role_arn", "arn:aws:iam::333333333333:role/admin"),
            ("ops_role_arn", ""),
        ],
    );
    redirected(&mut b, &saved, "/admin/settings?saved=1");
    let creds = admin_vend();
    lasts_about(&creds, 3600);
    // An emptied role field removes the role: admin vends stop until one is set again.
    let cleared = submit(
        &mut b,
        "/admin/settings",
        "/admin/settings",
        &[
            ("admin_session_secs", "3600"),
            ("admin_role_arn", ""),
            ("ops_role_arn", ""),
        ],
    );
    redirected(&mut b, &cleared, "/admin/settings?saved=1");
    sb.aws()
        .admin()
        .host(&portal.url)
        .token_file(&rt)
        .no_cache()
        .fails(1, "no admin role configured");
    let audit = admin(&sb, &["audit", "--event", "settings"]);
    assert!(
        audit.contains("admin_role_arn arn:aws:iam::333333333333:role/admin -> -"),
        "{audit}"
    );
    let restored = submit(
        &mut b,
        "/admin/settings",
        "/admin/settings",
        &[
            ("admin_session_secs", "3600"),
            ("admin_role_arn", "arn:aws:iam::333333333333:role/admin"),
            ("ops_role_arn", ""),
        ],
    );
    redirected(&mut b, &restored, "/admin/settings?saved=1");
    lasts_about(&admin_vend(), 3600);

    // A new tenant with a cluster, then removed.
    let added = submit(
        &mut b,
        "/admin/tenants",
        "/admin/tenants",
        &[
            ("name", "qa"),
            ("role_arn", "arn:aws:iam::444444444444:role/qa"),
            ("validity_secs", "3600"),
            ("max_session_secs", "7200"),
        ],
    );
    redirected(&mut b, &added, "/admin/tenants?added=1");
    let pem = "-----BEGIN CERTIFICATE-----\nMIIBqa\n-----END CERTIFICATE-----\n";
    let saved = submit(
        &mut b,
        "/admin/tenants/qa",
        "/admin/tenants/qa",
        &[
            ("role_arn", "arn:aws:iam::444444444444:role/qa"),
            ("validity_secs", "3600"),
            ("max_session_secs", "7200"),
            ("k8s_cluster", "qa-eks"),
            ("k8s_server", "https://qa.k8s.example:6443"),
            ("k8s_ca", pem),
        ],
    );
    redirected(&mut b, &saved, "/admin/tenants/qa?saved=1");
    let tenants = admin(&sb, &["tenant", "list"]);
    assert!(
        tenants
            .lines()
            .any(|l| l.starts_with("qa\t")
                && l.ends_with("\t3600s\tqa-eks https://qa.k8s.example:6443")),
        "{tenants}"
    );
    assert!(
        b.get("/admin/tenants/qa")
            .body
            .contains("A CA is set (sha256:"),
        "the page says a CA is set"
    );
    let removed = submit(
        &mut b,
        "/admin/tenants/qa",
        "/admin/tenants/qa/remove",
        &[("confirm", "qa")],
    );
    redirected(&mut b, &removed, "/admin/tenants?removed=1");
    assert!(!admin(&sb, &["tenant", "list"]).contains("qa\t"));
    assert_eq!(b.get("/admin/tenants/qa").status, 404);

    // Every change is in the trail: the admin as actor, the client, and what changed.
    let trail = audit_json(&sb);
    let find = |event: &str, detail: &str| {
        trail
            .iter()
            .find(|e| {
                e["event"] == event && e["detail"].as_str().unwrap_or_default().contains(detail)
            })
            .unwrap_or_else(|| panic!("no {event} with {detail}: {trail:?}"))
    };
    for (event, detail) in [
        ("tenant set", "tenant dev01: validity 900 -> 1800"),
        ("settings", "admin_session 43200 -> 3600"),
        ("tenant add", "tenant qa validity=3600 max_session=7200"),
        ("tenant set", "k8s_cluster - -> qa-eks"),
        ("tenant remove", "tenant qa"),
    ] {
        let e = find(event, detail);
        assert_eq!(e["actor"], "root", "{e}");
        assert_eq!(e["client"], "127.0.0.1", "{e}");
    }
    assert!(
        !find("tenant set", "k8s_cluster - -> qa-eks")["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("BEGIN"),
        "the CA shows as a digest only"
    );
    let log = portal.log();
    assert_no_secrets(&log, "the portal's log");
    assert!(!log.contains(ROOT_PASSWORD));
}

#[test]
fn users_are_added_edited_and_removed_and_the_audit_page_filters_by_user_and_event() {
    let sb = Sandbox::new();
    provision(&sb);
    passwd(&sb, "root", &format!("{ROOT_PASSWORD}\n")).ok();
    let portal = serve(&sb);
    let mut b = signed_in(&portal, "root", ROOT_PASSWORD);

    let list = b.get("/admin/users");
    assert_eq!(list.status, 200, "{}", list.body);
    for needle in [
        "id=\"users\"",
        "<caption id=\"",
        "id=\"user-alice\"",
        "href=\"/admin/users/alice\"",
        "id=\"user-root\"",
        "id=\"user-add\"",
        "<input type=\"checkbox\" id=\"add-tenant-dev01\" name=\"tenants\" value=\"dev01\">",
        "<label for=\"add-tenant-dev01\">dev01</label>",
    ] {
        assert!(
            list.body.contains(needle),
            "{needle} missing: {}",
            list.body
        );
    }
    let row = |page: &Page, name: &str| {
        let start = page.body.find(&format!("id=\"user-{name}\"")).expect("row");
        let end = page.body[start..].find("</tr>").expect("row end");
        let text = &page.body[start..start + end];
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    assert!(
        row(&list, "root").ends_with("<td>yes</td> <td>-</td>"),
        "root has a password and no second factor"
    );
    assert!(
        row(&list, "alice")
            .ends_with("<td>dev01</td> <td class=\"email\">-</td> <td>no</td> <td>-</td>")
    );

    let added = submit(
        &mut b,
        "/admin/users",
        "/admin/users",
        &[("name", "bob"), ("tenants", "dev01"), ("tenants", "big")],
    );
    redirected(&mut b, &added, "/admin/users?added=1");
    assert!(
        admin(&sb, &["user", "list"]).contains("bob\tuser\tbig,dev01\n"),
        "{}",
        admin(&sb, &["user", "list"])
    );

    let before = admin(&sb, &["user", "list"]);
    let again = submit(&mut b, "/admin/users", "/admin/users", &[("name", "bob")]);
    refused(&again, "already exists");
    let bad = submit(
        &mut b,
        "/admin/users",
        "/admin/users",
        &[("name", "bad name"), ("admin", "on"), ("tenants", "big")],
    );
    refused(&bad, "Invalid user name");
    assert!(bad.body.contains("value=\"bad name\""), "the entry is kept");
    assert!(
        bad.body
            .contains("id=\"add-tenant-big\" name=\"tenants\" value=\"big\" checked"),
        "the ticked tenant stays ticked"
    );
    let ghost = submit(
        &mut b,
        "/admin/users",
        "/admin/users",
        &[("name", "carol"), ("tenants", "nope")],
    );
    refused(&ghost, "There is no tenant 'nope'");
    assert_eq!(admin(&sb, &["user", "list"]), before);

    let page = b.get("/admin/users/bob");
    assert_eq!(page.status, 200);
    for needle in [
        "id=\"user-settings\"",
        "name=\"tenant\" value=\"dev01\" checked",
        "name=\"tenant\" value=\"big\" checked",
        "No password is set",
        "id=\"save\"",
        "id=\"remove\"",
    ] {
        assert!(
            page.body.contains(needle),
            "{needle} missing: {}",
            page.body
        );
    }
    let saved = submit(
        &mut b,
        "/admin/users/bob",
        "/admin/users/bob",
        &[("admin", "on"), ("tenant", "big")],
    );
    redirected(&mut b, &saved, "/admin/users/bob?saved=1");
    assert!(admin(&sb, &["user", "list"]).contains("bob\tadmin\tbig\n"));

    // An admin cannot lock themselves out.
    let before = admin(&sb, &["user", "list"]);
    let demote = submit(&mut b, "/admin/users/root", "/admin/users/root", &[]);
    refused(&demote, "cannot drop your own admin flag");
    let suicide = submit(
        &mut b,
        "/admin/users/root",
        "/admin/users/root/remove",
        &[("confirm", "root")],
    );
    refused(&suicide, "cannot remove yourself");
    let unconfirmed = submit(
        &mut b,
        "/admin/users/bob",
        "/admin/users/bob/remove",
        &[("confirm", "bo")],
    );
    refused(&unconfirmed, "type their name (bob)");
    assert_eq!(admin(&sb, &["user", "list"]), before);
    let removed = submit(
        &mut b,
        "/admin/users/bob",
        "/admin/users/bob/remove",
        &[("confirm", "bob")],
    );
    redirected(&mut b, &removed, "/admin/users?removed=1");
    assert!(!admin(&sb, &["user", "list"]).contains("bob"));
    assert_eq!(b.get("/admin/users/bob").status, 404);

    // The audit page: filters by user and by event, the admin as actor.
    let rows = |page: &Page| -> Vec<String> {
        let body = unescape(&page.body);
        let start = body.find("<tbody>").expect("tbody");
        let end = body.find("</tbody>").expect("tbody end");
        body[start..end]
            .split("<tr>")
            .skip(1)
            .map(|r| r.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|r| !r.contains("No entries."))
            .collect()
    };
    let page = b.get("/admin/audit?user=bob");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("id=\"audit\""));
    for field in ["user", "event", "since", "limit"] {
        assert!(
            page.body.contains(&format!("<label for=\"{field}\">")),
            "{field} has a label"
        );
    }
    let bob = rows(&page);
    assert_eq!(bob.len(), 3, "{bob:?}");
    assert!(
        bob[0].contains("<td>user remove</td> <td>root</td> <td>bob</td>"),
        "newest first: {bob:?}"
    );
    assert!(
        bob[1].contains("<td>user set</td> <td>root</td> <td>bob</td>"),
        "{bob:?}"
    );
    assert!(
        bob[1].contains("admin false -> true, tenants big,dev01 -> big"),
        "{bob:?}"
    );
    assert!(
        bob[2].contains("<td>user add</td> <td>root</td> <td>bob</td>"),
        "{bob:?}"
    );
    assert!(
        bob.iter().all(|r| r.contains("<td>127.0.0.1</td>")),
        "{bob:?}"
    );
    let time = time_of(&bob[0]);
    assert!(time.ends_with('Z') && time.len() == 20, "{time}");

    let cli = admin(&sb, &["audit", "--event", "user set", "--user", "bob"]);
    assert_eq!(cli.lines().count(), 1, "{cli}");
    assert!(cli.contains("\tuser set\troot\tbob\t"), "{cli}");
    let sets = rows(&b.get("/admin/audit?event=user+set"));
    assert_eq!(sets.len(), 1, "{sets:?}");
    assert!(sets[0].contains("<td>bob</td>"));
    let both = rows(&b.get("/admin/audit?user=bob&event=user+add&since=1h"));
    assert_eq!(both.len(), 1, "{both:?}");
    let none = rows(&b.get("/admin/audit?user=alice&event=user+set"));
    assert!(none.is_empty(), "{none:?}");
    let one = rows(&b.get("/admin/audit?limit=1"));
    assert_eq!(one.len(), 1, "{one:?}");
    let future = rows(&b.get("/admin/audit?since=2999-01-01T00:00:00Z"));
    assert!(future.is_empty(), "{future:?}");

    let bad = b.get("/admin/audit?since=soon&user=bob");
    refused(&bad, "Since wants an RFC 3339 time");
    assert!(bad.body.contains("value=\"soon\""), "the entry is kept");
    refused(
        &b.get("/admin/audit?limit=5000"),
        "Limit must be a number from 1 to 1000",
    );
    refused(&b.get("/admin/audit?limit=0"), "Limit must be");
}

/// The time cell of an audit row.
fn time_of(row: &str) -> String {
    let start = row.find("datetime=\"").expect("time") + 10;
    row[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn non_admins_forged_forms_and_bad_values_are_refused_and_change_nothing() {
    let sb = Sandbox::new();
    provision(&sb);
    passwd(&sb, "root", &format!("{ROOT_PASSWORD}\n")).ok();
    passwd(&sb, "alice", &format!("{ALICE_PASSWORD}\n")).ok();
    let portal = serve(&sb);
    let before = snapshot(&sb);

    let pages = [
        "/admin/tenants",
        "/admin/tenants/dev01",
        "/admin/users",
        "/admin/users/alice",
        "/admin/settings",
        "/admin/audit",
    ];
    let tenant_form = [
        ("role_arn", "arn:aws:iam::111111111111:role/dev01"),
        ("validity_secs", "1800"),
        ("max_session_secs", "43200"),
    ];
    let posts: [(&str, &[(&str, &str)]); 9] = [
        (
            "/admin/tenants",
            &[
                ("name", "evil"),
                ("role_arn", "arn:aws:iam::111111111111:role/evil"),
                ("validity_secs", "3600"),
                ("max_session_secs", "3600"),
            ],
        ),
        ("/admin/tenants/dev01", &tenant_form),
        ("/admin/tenants/dev01/remove", &[("confirm", "dev01")]),
        ("/admin/users", &[("name", "evil"), ("admin", "on")]),
        (
            "/admin/users/alice",
            &[("admin", "on"), ("tenant", "dev01"), ("tenant", "big")],
        ),
        ("/admin/users/root/remove", &[("confirm", "root")]),
        ("/admin/users/alice/email", &[("email", "eve@example.test")]),
        (
            "/admin/settings",
            &[
                ("admin_session_secs", "900"),
                ("admin_role_arn", "arn:aws:iam::111111111111:role/evil"),
            ],
        ),
        ("/admin/users/alice/remove", &[("confirm", "alice")]),
    ];

    // Not signed in: sent to sign in, and back afterwards.
    let mut anonymous = Browser::new(&portal);
    for path in pages {
        let page = anonymous.get(path);
        assert_eq!(page.status, 303, "{path}");
        let next = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("next", path)
            .finish();
        assert_eq!(page.header("location"), format!("/login?{next}"));
    }
    let page = anonymous.get("/admin/audit?user=alice");
    assert_eq!(
        page.header("location"),
        "/login?next=%2Fadmin%2Faudit%3Fuser%3Dalice"
    );
    for (path, form) in posts {
        assert_eq!(anonymous.post(path, form).status, 303, "{path}");
    }

    // A signed-in user who is no admin: 403 on every page and every form, her own valid CSRF
    // token or not.
    let mut alice = signed_in(&portal, "alice", ALICE_PASSWORD);
    let alice_csrf = alice.get("/profile").hidden("csrf");
    assert!(
        !alice.get("/profile").body.contains("href=\"/admin/"),
        "no admin links for alice"
    );
    for path in pages {
        let page = alice.get(path);
        assert_eq!(page.status, 403, "{path}: {}", page.body);
        assert!(!page.body.contains("arn:aws:iam"), "{path} shows nothing");
    }
    for (path, form) in posts {
        let mut full = vec![("csrf", alice_csrf.as_str())];
        full.extend_from_slice(form);
        assert_eq!(alice.post(path, &full).status, 403, "{path}");
    }

    // An admin's forms without their token, or with another session's, are refused.
    let mut root = signed_in(&portal, "root", ROOT_PASSWORD);
    let mut other = signed_in(&portal, "root", ROOT_PASSWORD);
    let other_csrf = other.get("/admin/tenants").hidden("csrf");
    let root_csrf = root.get("/admin/tenants").hidden("csrf");
    assert_ne!(root_csrf, other_csrf, "each session has its own token");
    for (path, form) in posts {
        assert_eq!(root.post(path, form).status, 403, "{path} without a token");
        let mut forged = vec![("csrf", other_csrf.as_str())];
        forged.extend_from_slice(form);
        assert_eq!(
            root.post(path, &forged).status,
            403,
            "{path} with another token"
        );
        let mut wrong = vec![("csrf", "jit_wrong")];
        wrong.extend_from_slice(form);
        assert_eq!(
            root.post(path, &wrong).status,
            403,
            "{path} with a made-up token"
        );
    }
    assert_eq!(snapshot(&sb), before, "nothing changed");

    // Bad values: 400, a clear alert, the entries kept, and nothing changed.
    let add = |name: &str, role: &str, validity: &str, max: &str| {
        vec![
            ("name".to_string(), name.to_string()),
            ("role_arn".to_string(), role.to_string()),
            ("validity_secs".to_string(), validity.to_string()),
            ("max_session_secs".to_string(), max.to_string()),
        ]
    };
    let arn = "arn:aws:iam::555555555555:role/new";
    for (form, needle) in [
        (
            add("new", "not-an-arn", "3600", "43200"),
            "Role ARN must be an IAM role ARN",
        ),
        (
            add("new", arn, "100", "43200"),
            "AWS Access Token Validity must be a whole number",
        ),
        (add("new", arn, "3600", "99999"), "Max session must be"),
        (
            add("new", arn, "abc", "43200"),
            "AWS Access Token Validity must be",
        ),
        (add("bad/name", arn, "3600", "43200"), "Invalid tenant name"),
        (
            add("dev01", arn, "3600", "43200"),
            "Tenant 'dev01' already exists",
        ),
    ] {
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let page = submit(&mut root, "/admin/tenants", "/admin/tenants", &pairs);
        refused(&page, needle);
        let kept = format!("value=\"{}\"", form[1].1);
        assert!(page.body.contains(&kept), "{kept} kept: {}", page.body);
    }
    let set = |validity: &str, cluster: &str, server: &str, ca: &str| {
        vec![
            (
                "role_arn".to_string(),
                "arn:aws:iam::111111111111:role/dev01".to_string(),
            ),
            ("validity_secs".to_string(), validity.to_string()),
            ("max_session_secs".to_string(), "43200".to_string()),
            ("k8s_cluster".to_string(), cluster.to_string()),
            ("k8s_server".to_string(), server.to_string()),
            ("k8s_ca".to_string(), ca.to_string()),
        ]
    };
    let server = "https://k8s.example";
    for (form, needle) in [
        (
            set("899", "", "", ""),
            "must be a whole number of seconds from 900 to 43200",
        ),
        (set("43201", "", "", ""), "from 900 to 43200"),
        (set("1800", "eks", "", ""), "go together"),
        (set("1800", "", server, ""), "go together"),
        (
            set("1800", "two words", server, ""),
            "cluster name without spaces",
        ),
        (
            set("1800", "eks", "ftp://k8s.example", ""),
            "must be an https:// URL",
        ),
        (set("1800", "eks", server, "%%%"), "must be base64 of a PEM"),
        (
            set("1800", "eks", server, "bm90IGEgY2VydA=="),
            "must be a PEM certificate",
        ),
    ] {
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let page = submit(
            &mut root,
            "/admin/tenants/dev01",
            "/admin/tenants/dev01",
            &pairs,
        );
        refused(&page, needle);
        let kept = format!(
            "name=\"validity_secs\" type=\"number\" min=\"900\" max=\"43200\" value=\"{}\"",
            form[1].1
        );
        assert!(page.body.contains(&kept), "{kept}: {}", page.body);
    }
    let unconfirmed = submit(
        &mut root,
        "/admin/tenants/dev01",
        "/admin/tenants/dev01/remove",
        &[("confirm", "dev02")],
    );
    refused(&unconfirmed, "type its name (dev01)");
    for (form, needle) in [
        (
            [
                ("admin_session_secs", "10"),
                ("admin_role_arn", ""),
                ("ops_role_arn", ""),
            ],
            "AdminJitSessionDuration must be a whole number of seconds from 900 to 43200",
        ),
        (
            [
                ("admin_session_secs", "3600"),
                ("admin_role_arn", "arn:aws:s3:::bucket"),
                ("ops_role_arn", ""),
            ],
            "Admin role ARN must be an IAM role ARN",
        ),
        (
            [
                ("admin_session_secs", "3600"),
                ("admin_role_arn", ""),
                ("ops_role_arn", "role/ops"),
            ],
            "Ops role ARN must be an IAM role ARN",
        ),
    ] {
        let page = submit(&mut root, "/admin/settings", "/admin/settings", &form);
        refused(&page, needle);
        assert!(page.body.contains(&format!("value=\"{}\"", form[0].1)));
    }
    assert_eq!(snapshot(&sb), before, "nothing changed");
    assert_no_secrets(&portal.log(), "the portal's log");
}

/// `jit portal --db DB user passwd NAME`, the password on standard input.
#[track_caller]
fn passwd_on(sb: &Sandbox, db: &str, name: &str, password: &str) {
    use std::io::Write;
    let mut child = sb
        .jit(&["portal", "--db", db, "user", "passwd", name])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn jit");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes())
        .expect("write stdin");
    crate::support::finish(child.wait_with_output().expect("wait jit")).ok();
}

/// The same pages on PostgreSQL: the event filter and the password query run there too.
#[test]
fn the_admin_pages_work_on_postgresql() {
    use crate::portal::portal_ops::{Pg, admin_on, provision_on, serve_on};
    let pg = Pg::start();
    let sb = Sandbox::new();
    let db = pg.database("admin_pages");
    provision_on(&sb, &db);
    admin_on(&sb, &db, &["user", "add", "root", "--admin"]);
    passwd_on(&sb, &db, "root", ROOT_PASSWORD);
    let portal = serve_on(&sb, &db, &[]);
    let mut b = signed_in(&portal, "root", ROOT_PASSWORD);

    let saved = submit(
        &mut b,
        "/admin/tenants/dev01",
        "/admin/tenants/dev01",
        &[
            ("role_arn", "arn:aws:iam::111111111111:role/dev01"),
            ("validity_secs", "1800"),
            ("max_session_secs", "43200"),
        ],
    );
    redirected(&mut b, &saved, "/admin/tenants/dev01?saved=1");
    assert!(
        admin_on(&sb, &db, &["tenant", "list"]).contains(":role/dev01\t1800s"),
        "{}",
        admin_on(&sb, &db, &["tenant", "list"])
    );
    let added = submit(
        &mut b,
        "/admin/users",
        "/admin/users",
        &[("name", "bob"), ("tenants", "dev01")],
    );
    redirected(&mut b, &added, "/admin/users?added=1");
    let saved = submit(
        &mut b,
        "/admin/users/bob",
        "/admin/users/bob",
        &[("admin", "on"), ("tenant", "dev01")],
    );
    redirected(&mut b, &saved, "/admin/users/bob?saved=1");
    assert!(admin_on(&sb, &db, &["user", "list"]).contains("bob\tadmin\tdev01\n"));
    let users = b.get("/admin/users");
    assert!(users.body.contains("id=\"user-root\""), "{}", users.body);
    let saved = submit(
        &mut b,
        "/admin/settings",
        "/admin/settings",
        &[("admin_session_secs", "7200")],
    );
    redirected(&mut b, &saved, "/admin/settings?saved=1");
    assert!(b.get("/admin/settings").body.contains("value=\"7200\""));

    let audit = unescape(&b.get("/admin/audit?user=bob&event=user+set&since=1h").body);
    assert_eq!(audit.matches("<td>user set</td>").count(), 1, "{audit}");
    assert!(!audit.contains("<td>user add</td>"), "{audit}");
    assert!(audit.contains("admin false -> true"), "{audit}");
    let settings = unescape(&b.get("/admin/audit?event=settings").body);
    assert!(
        settings.contains("<td>settings</td>\n      <td>root</td>"),
        "{settings}"
    );
}
