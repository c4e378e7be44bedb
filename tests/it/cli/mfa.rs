//! A portal that wants a one-time code for admin access (`IsOtpNeeded`, docs/protocol.md §1-§2):
//! duplo-jit's wire against the stand-in, and the code kept out of the cache and stderr.

use crate::support::{Jit, Sandbox, StandIn, assert_no_secrets, finish};

const MFA_REFUSED: &str = "server requires MFA but --interactive mode is disabled";

/// Every admin scope duplo-jit checks the code for, with `token_file` as the token.
fn admin_scopes<'a>(sb: &'a Sandbox, stand_in: &StandIn, token_file: &str) -> Vec<Jit<'a>> {
    [
        vec!["aws", "--admin"],
        vec!["aws", "--duplo-ops"],
        vec!["k8s", "--plan", "default"],
        vec!["duplo"],
    ]
    .into_iter()
    .map(|args| sb.jit_cmd(args).host(&stand_in.url).token_file(token_file))
    .collect()
}

/// Every file under the cache, as text, checked for `secret`.
#[track_caller]
fn assert_not_cached(sb: &Sandbox, secret: &str) {
    let Ok(entries) = std::fs::read_dir(sb.cache_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let text = std::fs::read(entry.path()).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&text).contains(secret),
            "the one-time code reached the cache: {}",
            entry.path().display()
        );
    }
}

#[test]
fn a_token_without_interactive_is_refused_for_admin_scopes_as_duplo_jit_does() {
    let stand_in = StandIn::start();
    stand_in.state().otp_needed = true;
    let sb = Sandbox::new();
    let admin = sb.token_file(&stand_in.admin_token);
    for jit in admin_scopes(&sb, &stand_in, &admin) {
        let run = jit.fails(1, MFA_REFUSED);
        assert!(!run.stderr.contains("verify-token"), "{}", run.stderr);
    }
    assert_eq!(
        stand_in.count("jitAccess"),
        0,
        "no admin call without a code"
    );
    assert_eq!(stand_in.count("k8sConfig"), 0);
    // Tenant scopes need no code.
    let user = sb.token_file(&stand_in.user_token);
    sb.aws()
        .tenant("dev01")
        .host(&stand_in.url)
        .token_file(&user)
        .ok();
}

#[test]
fn a_token_with_interactive_logs_in_for_the_code_and_every_admin_call_carries_it() {
    let stand_in = StandIn::start();
    stand_in.state().otp_needed = true;
    let sb = Sandbox::new();
    let admin = sb.token_file(&stand_in.admin_token);
    for jit in admin_scopes(&sb, &stand_in, &admin) {
        let before = stand_in.requests().len();
        let (child, login) = jit.start_login();
        assert!(
            login
                .query_pairs()
                .any(|(k, v)| k == "isAdmin" && v == "true"),
            "{login}"
        );
        let code = stand_in.authorize_with_otp(&login, &stand_in.admin_token);
        let run = finish(child.wait_with_output().expect("wait")).ok();
        assert_no_secrets(&run.stderr, "stderr");
        assert_not_cached(&sb, &code);
        let calls: Vec<_> = stand_in.requests().split_off(before);
        let with_code = |path: &str| {
            calls.iter().any(|r| {
                r.path.contains(path)
                    && r.headers
                        .iter()
                        .any(|(k, v)| k.eq_ignore_ascii_case("otpcode") && *v == code)
            })
        };
        match jit.argv()[0].as_str() {
            "duplo" => {
                assert_eq!(
                    run.json(),
                    serde_json::json!({"Version": 1, "DuploToken": stand_in.admin_token, "NeedOTP": true})
                );
                assert!(with_code("v3/features/system"), "{calls:?}");
            }
            "k8s" => {
                assert!(run.stdout.contains("ExecCredential"), "{}", run.stdout);
                assert!(with_code("k8sConfig"), "{calls:?}");
            }
            _ => {
                assert_eq!(run.key(), stand_in.last_key());
                assert!(with_code("jitAccess"), "{calls:?}");
            }
        }
    }
    // Credentials are cached as always, so the next call needs neither the portal nor a code;
    // a given token is not cached, so nothing could reuse a code with it.
    assert!(
        !sb.cache_dir()
            .join(cache_name(&stand_in, "duplo-creds"))
            .exists()
    );
    let before = stand_in.requests().len();
    let run = sb
        .aws()
        .admin()
        .host(&stand_in.url)
        .token_file(&admin)
        .interactive()
        .ok();
    assert!(!run.stderr.contains("verify-token"), "{}", run.stderr);
    assert_eq!(stand_in.requests().len(), before);
}

fn cache_name(stand_in: &StandIn, what: &str) -> String {
    let host = stand_in
        .url
        .trim_start_matches("http://")
        .replace(':', "%3A");
    format!("{host},{what}.json")
}

#[test]
fn a_browser_login_keeps_its_token_but_not_the_code() {
    let stand_in = StandIn::start();
    stand_in.state().otp_needed = true;
    let sb = Sandbox::new();
    let aws = sb.aws().admin().host(&stand_in.url);
    let (child, login) = aws.start_login();
    let code = stand_in.authorize_with_otp(&login, &stand_in.admin_token);
    finish(child.wait_with_output().expect("wait")).ok();
    assert_not_cached(&sb, &code);
    let cached = std::fs::read_to_string(sb.cache_dir().join(cache_name(&stand_in, "duplo-creds")))
        .expect("token cached");
    let cached: serde_json::Value = serde_json::from_str(&cached).expect("json");
    assert_eq!(cached["DuploToken"], stand_in.admin_token.as_str());
    assert_eq!(cached["NeedOTP"], true);
    // Without the code the cached token is no good for admin access: a new login asks again.
    let (child, login) = aws.refresh().start_login();
    stand_in.authorize_with_otp(&login, &stand_in.admin_token);
    finish(child.wait_with_output().expect("wait")).ok();
    assert_eq!(stand_in.count("v3/admin/aws/jitAccess/admin"), 2);
}
