//! The profile page over HTTP: JIT AWS Console, Copy AWS Console URL, Temporary AWS
//! Credentials (used with the real AWS CLI against moto), the workstation lines and the user's
//! own API tokens. `portal_browser` clicks the same buttons in Chromium.

use crate::portal::portal_ops::serve_on;
use crate::portal::portal_server::{Served, admin, get, provision, state};
use crate::portal::portal_web::{ALICE_PASSWORD, Browser, Page, SESSION_COOKIE, passwd};
use crate::support::moto::moto;
use crate::support::stand_in::StandIn;
use crate::support::{Sandbox, assert_no_secrets, finish, register_secret, venv_bin};

pub const ROOT_PASSWORD: &str = "root-web-password-9";
pub const PUBLIC_URL: &str = "https://portal.example.com";

/// A provisioned portal (see `provision`) whose console URLs come from the stand-in's
/// federation endpoint, with passwords for alice and root. Returns (portal, stand-in,
/// alice's token, root's token).
pub fn portal_with_console(sb: &Sandbox) -> (Served, StandIn, String, String) {
    let (alice, root) = provision(sb);
    passwd(sb, "alice", &format!("{ALICE_PASSWORD}\n")).ok();
    passwd(sb, "root", &format!("{ROOT_PASSWORD}\n")).ok();
    let stand_in = StandIn::start();
    let signin = format!("{}/federation", stand_in.url);
    let portal = serve_on(
        sb,
        &state(sb),
        &["--signin-url", &signin, "--public-url", PUBLIC_URL],
    );
    (portal, stand_in, alice, root)
}

/// The text of the element with `id` (up to its closing tag), unescaped.
#[track_caller]
fn text_of(page: &Page, id: &str) -> String {
    let marker = format!("id=\"{id}\"");
    let at = page
        .body
        .find(&marker)
        .unwrap_or_else(|| panic!("no #{id} in {}", page.body));
    let start = at + page.body[at..].find('>').expect("tag end") + 1;
    let end = start + page.body[start..].find("</").expect("closing tag");
    page.body[start..end]
        .replace("&#39;", "'")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

/// `export NAME='VALUE';` lines as pairs.
fn exports(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.trim_end_matches(';').split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
        .collect()
}

#[test]
fn the_profile_vends_the_console_and_credentials_for_what_the_user_may_use() {
    let sb = Sandbox::new();
    let (portal, stand_in, _, _) = portal_with_console(&sb);
    let mut alice = Browser::new(&portal);
    let signed_in = alice.sign_in("alice", ALICE_PASSWORD);
    assert_eq!(signed_in.status, 303);
    // Plain HTTP here, but users reach it at an https --public-url (a TLS proxy): Secure.
    let cookie = signed_in.header("set-cookie");
    assert!(
        cookie.contains(&format!("{SESSION_COOKIE}=")) && cookie.contains("; Secure"),
        "{cookie}"
    );
    let page = alice.get("/profile");
    assert_eq!(page.status, 200);
    assert_eq!(page.header("strict-transport-security"), "max-age=31536000");
    assert!(
        page.body.contains("id=\"console-tenant-dev01\""),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("console-tenant-big"),
        "not alice's tenant"
    );
    assert!(!page.body.contains("console-admin"), "alice is no admin");
    // The workstation lines, filled in for this portal and user.
    assert_eq!(
        text_of(&page, "ws-sync"),
        format!("jit config sync --host {PUBLIC_URL} --interactive")
    );
    assert!(
        text_of(&page, "ws-aws-config").contains(&format!(
            "[profile dev01]\nregion = us-east-1\ncredential_process = jit aws --host {PUBLIC_URL} --tenant dev01 --interactive"
        )),
        "{}",
        page.body
    );
    assert_eq!(text_of(&page, "ws-hook"), "eval \"$(jit init zsh)\"");
    assert_eq!(text_of(&page, "ws-jitnow"), "jitnow dev01");
    let csrf = page.hidden("csrf");

    // JIT AWS Console: straight to the federation sign-in URL.
    let console = alice.post("/profile/console", &[("csrf", &csrf), ("target", "dev01")]);
    assert_eq!(console.status, 303, "{}", console.body);
    let to = console.header("location");
    register_secret(&to);
    assert!(
        to.starts_with(&format!("{}/federation?Action=login", stand_in.url))
            && to.contains("SigninToken=signin-"),
        "{to}"
    );
    // Another tenant, or no CSRF token: refused, and nothing vended.
    let other = alice.post("/profile/console", &[("csrf", &csrf), ("target", "big")]);
    assert_eq!(other.status, 403, "{}", other.body);
    let forged = alice.post("/profile/console", &[("target", "dev01")]);
    assert_eq!(forged.status, 403, "{}", forged.body);

    // Copy AWS Console URL: JSON for the page's script, a page without it.
    let json = alice.post_accepting(
        "/profile/console-url",
        &[("csrf", &csrf), ("target", "dev01")],
        "application/json",
    );
    assert_eq!(json.status, 200, "{}", json.body);
    let body: serde_json::Value = serde_json::from_str(&json.body).expect("json");
    let url = body["url"].as_str().expect("url");
    register_secret(url);
    assert!(url.contains("SigninToken=signin-"), "{url}");
    assert_eq!(
        body["validity"], 900,
        "dev01's 60 s, clamped to STS's least"
    );
    let plain = alice.post(
        "/profile/console-url",
        &[("csrf", &csrf), ("target", "dev01")],
    );
    assert!(text_of(&plain, "console-url").contains("SigninToken=signin-"));

    // Temporary AWS Credentials: shown once, never stored, and they work.
    let creds = alice.post(
        "/profile/credentials",
        &[("csrf", &csrf), ("target", "dev01")],
    );
    assert_eq!(creds.status, 200, "{}", creds.body);
    assert_eq!(creds.header("cache-control"), "no-store");
    let vars = exports(&text_of(&creds, "creds-posix"));
    for (k, v) in &vars {
        if k == "AWS_SECRET_ACCESS_KEY" || k == "AWS_SESSION_TOKEN" {
            register_secret(v);
        }
    }
    let var = |name: &str| {
        vars.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {name} in {vars:?}"))
    };
    assert!(var("AWS_ACCESS_KEY_ID").starts_with("ASIA"));
    assert_eq!(var("AWS_REGION"), "us-east-1");
    assert!(text_of(&creds, "creds-fish").contains("set -gx AWS_SESSION_TOKEN "));
    assert!(text_of(&creds, "creds-powershell").contains("$Env:AWS_SECRET_ACCESS_KEY = "));
    assert!(!text_of(&creds, "expiration").is_empty());
    let mut aws = sb.command(venv_bin("aws"));
    aws.env("AWS_ENDPOINT_URL", &moto().url)
        .env("AWS_ACCESS_KEY_ID", var("AWS_ACCESS_KEY_ID"))
        .env("AWS_SECRET_ACCESS_KEY", var("AWS_SECRET_ACCESS_KEY"))
        .env("AWS_SESSION_TOKEN", var("AWS_SESSION_TOKEN"))
        .env("AWS_DEFAULT_REGION", var("AWS_DEFAULT_REGION"))
        .args(["sts", "get-caller-identity", "--output", "json"]);
    let who = finish(aws.output().expect("aws")).ok().json();
    let arn = who["Arn"].as_str().expect("arn");
    assert!(
        arn.contains(":assumed-role/dev01/") && arn.ends_with("alice"),
        "{arn}"
    );

    // Every vend is in the audit trail, saying it came from the web session.
    let audit = admin(&sb, &["audit", "--user", "alice"]);
    let vends: Vec<&str> = audit
        .lines()
        .filter(|l| l.contains("\tvend\t") && l.contains("via web session ses_"))
        .collect();
    assert_eq!(vends.len(), 4, "{audit}");
    assert_no_secrets(&audit, "the audit trail");
    assert_no_secrets(&portal.log(), "the portal's log");
}

#[test]
fn an_admin_gets_the_admin_role_and_every_tenant() {
    let sb = Sandbox::new();
    let (portal, _stand_in, _, _) = portal_with_console(&sb);
    let mut root = Browser::new(&portal);
    root.sign_in("root", ROOT_PASSWORD);
    let page = root.get("/profile");
    for id in [
        "console-admin",
        "console-tenant-dev01",
        "console-tenant-big",
    ] {
        assert!(page.body.contains(&format!("id=\"{id}\"")), "{id}");
    }
    assert!(
        text_of(&page, "ws-aws-config").contains(&format!(
            "[profile admin]\nregion = us-east-1\ncredential_process = jit aws --host {PUBLIC_URL} --admin --interactive"
        ))
    );
    assert_eq!(
        text_of(&page, "ws-sync"),
        format!("jit config sync --host {PUBLIC_URL} --interactive --admin")
    );
    assert_eq!(text_of(&page, "ws-jitnow"), "jitnow admin");
    let csrf = page.hidden("csrf");
    let json = root.post_accepting(
        "/profile/console-url",
        &[("csrf", &csrf), ("target", "admin")],
        "application/json",
    );
    let body: serde_json::Value = serde_json::from_str(&json.body).expect("json");
    register_secret(body["url"].as_str().expect("url"));
    assert_eq!(body["validity"], 43200, "AdminJitSessionDuration, clamped");
    // A tenant that does not exist is refused like one that is not yours.
    let none = root.post(
        "/profile/credentials",
        &[("csrf", &csrf), ("target", "nope")],
    );
    assert_eq!(none.status, 403);
}

#[test]
fn users_make_and_revoke_their_own_tokens_only() {
    let sb = Sandbox::new();
    let (portal, _stand_in, _, root_token) = portal_with_console(&sb);
    let mut alice = Browser::new(&portal);
    alice.sign_in("alice", ALICE_PASSWORD);
    let csrf = alice.get("/profile").hidden("csrf");
    let bad = alice.post("/profile/tokens", &[("csrf", &csrf), ("lifetime", "5")]);
    assert_eq!(bad.status, 400);
    let made = alice.post("/profile/tokens", &[("csrf", &csrf), ("lifetime", "3600")]);
    assert_eq!(made.status, 200, "{}", made.body);
    let token = {
        let marker = "id=\"new-token\" readonly value=\"";
        let start = made.body.find(marker).expect("token shown") + marker.len();
        made.body[start..start + made.body[start..].find('"').expect("quote")].to_string()
    };
    register_secret(&token);
    let id = text_of(&made, "new-token-id");
    let tenants = format!("{}/admin/GetTenantsForUser", portal.url);
    assert_eq!(get(&tenants, &token).0, 200, "the new token works");
    let listed = alice.get("/profile");
    assert!(listed.body.contains(&format!("id=\"token-{id}\"")));
    assert!(!listed.body.contains(&token), "shown once only");

    // root's token is not alice's to revoke.
    let root_id = admin(&sb, &["token", "list", "--user", "root"])
        .lines()
        .find_map(|l| l.split_whitespace().find(|w| w.starts_with("tok_")))
        .expect("root's token id")
        .to_string();
    let theirs = alice.post(
        "/profile/tokens/revoke",
        &[("csrf", &csrf), ("id", root_id.as_str())],
    );
    assert_eq!(theirs.status, 404);
    assert_eq!(
        get(&tenants, &root_token).0,
        200,
        "root's token still works"
    );

    let gone = alice.post(
        "/profile/tokens/revoke",
        &[("csrf", &csrf), ("id", id.as_str())],
    );
    assert_eq!(gone.status, 303);
    assert_eq!(get(&tenants, &token).0, 401, "revoked");
    let audit = admin(&sb, &["audit", "--user", "alice"]);
    assert!(
        audit
            .lines()
            .any(|l| l.contains("\ttoken create\t") && l.contains("profile page")),
        "{audit}"
    );
    assert!(
        audit.lines().any(|l| l.contains("\ttoken revoke\t")),
        "{audit}"
    );
}
