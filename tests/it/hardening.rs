//! Attacks on what jit reads and keeps: hostile portal bodies, endless files, a clock that ran
//! ahead, a cache dir someone else planted, callers with different tokens, overlong keys.

use crate::support::{Portal, Sandbox, assert_no_secrets, register_secret};

/// Every file the cache holds, checked like stderr: no secret may be written into a failure.
fn assert_cache_holds_no_secrets(sb: &Sandbox) {
    for entry in std::fs::read_dir(sb.cache_dir()).into_iter().flatten() {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "json")
            && path.to_string_lossy().contains("failed")
        {
            let text = std::fs::read_to_string(&path).expect("read failure record");
            assert_no_secrets(&text, &path.display().to_string());
        }
    }
}

fn secret(prefix: &str) -> String {
    let s = format!("{prefix}-{}", crate::support::random_hex(24));
    register_secret(&s);
    s
}

#[test]
fn double_encoded_and_camel_case_bodies_leak_nothing() {
    let portal = Portal::start();
    let sb = Sandbox::new().env("JIT_TOKEN", &portal.admin_token);
    let args = ["aws", "--admin", "--host", portal.url.as_str()];
    let creds = serde_json::json!({
        "AccessKeyId": "ASIADOUBLE",
        "SecretAccessKey": secret("sk"),
        "SessionToken": secret("st"),
        "ConsoleUrl": format!("https://signin.aws.amazon.com/federation?SigninToken={}", secret("si")),
        "Validity": 3600,
    })
    .to_string();
    // 200 with the credentials JSON inside a JSON string: serde quotes the string it rejects.
    portal.state().raw_body = Some(serde_json::Value::String(creds.clone()).to_string());
    sb.run(&args).fails(1, "malformed JSON");
    assert_cache_holds_no_secrets(&sb);
    portal.state().raw_body = None;

    let camel = serde_json::json!({
        "message": "assume role failed",
        "secretAccessKey": secret("sk"),
        "sessionToken": secret("st"),
        "session_token": secret("st"),
        "Session-Token": secret("st"),
        "details": { "credentials": { "SECRET_ACCESS_KEY": secret("sk") } },
    })
    .to_string();
    let double = serde_json::Value::String(camel.clone()).to_string();
    let cut = camel[..camel.len() - 20].to_string();
    for body in [
        camel,
        double,
        cut.clone(),
        serde_json::Value::String(cut).to_string(),
    ] {
        portal.state().fail = Some((500, body));
        let run = sb.run(&args).fails(1, "status 500");
        assert!(run.stderr.contains("<redacted>"), "{}", run.stderr);
        assert_cache_holds_no_secrets(&sb);
    }
}
