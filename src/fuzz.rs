//! Hostile input, generated: every parser that sees outside data must neither panic nor echo a
//! secret. Case counts are set per property; the README reports the totals.

use proptest::prelude::*;

use crate::api::creds_from_body;
use crate::redact;

const SECRET: &str = "S3CR3T-VALUE-0123456789";

fn now() -> jiff::Timestamp {
    jiff::Timestamp::from_second(1_800_000_000).expect("ts")
}

/// JSON-ish portal bodies: right keys with odd values, cut off at a random point.
fn portal_body() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        Just(format!("\"{SECRET}\"")),
        any::<i64>().prop_map(|v| v.to_string()),
        ".{0,12}".prop_map(|s| serde_json::to_string(&s).expect("json")),
        Just("null".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
    ];
    let key = prop_oneof![
        Just("AccessKeyId"),
        Just("SecretAccessKey"),
        Just("SessionToken"),
        Just("ConsoleUrl"),
        Just("Region"),
        Just("Validity"),
        Just("Expiration"),
        Just("Other"),
    ];
    (
        prop::collection::vec((key, value), 0..9),
        any::<prop::sample::Index>(),
        any::<bool>(),
    )
        .prop_map(|(fields, cut, truncate)| {
            // The secret value only ever stands under a secret-bearing key.
            let public = ["Region", "Validity", "Expiration", "Other"];
            let body = format!(
                "{{{}}}",
                fields
                    .iter()
                    .map(|(k, v)| match public.contains(k) && v.contains(SECRET) {
                        true => format!("\"{k}\":\"x\""),
                        false => format!("\"{k}\":{v}"),
                    })
                    .collect::<Vec<_>>()
                    .join(",")
            );
            if truncate {
                let mut at = cut.index(body.len() + 1);
                while !body.is_char_boundary(at) {
                    at -= 1;
                }
                body[..at].to_string()
            } else {
                body
            }
        })
}

/// A secret-bearing key as anyone might spell it: any case, words joined by nothing, `_` or `-`.
fn spelled_key() -> impl Strategy<Value = String> {
    let words = prop_oneof![
        Just(vec!["secret", "access", "key"]),
        Just(vec!["session", "token"]),
        Just(vec!["access", "key", "id"]),
        Just(vec!["console", "url"]),
        Just(vec!["duplo", "token"]),
        Just(vec!["signin", "token"]),
    ];
    let sep = prop_oneof![Just(""), Just("_"), Just("-")];
    (words, sep, prop::collection::vec(any::<bool>(), 20)).prop_map(|(words, sep, upper)| {
        words
            .join(sep)
            .chars()
            .zip(upper.iter().cycle())
            .map(|(c, up)| if *up { c.to_ascii_uppercase() } else { c })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn portal_bodies_never_panic_or_leak(body in portal_body()) {
        if let Err(e) = creds_from_body(&body, "http://127.0.0.1/x", None, now()) {
            let msg = format!("{e:#}");
            prop_assert!(!msg.contains("S3CR3T"), "secret in error: {msg}");
        }
        prop_assert!(!redact::body(&body).contains("S3CR3T"));
    }

    #[test]
    fn redaction_ignores_key_spelling_and_body_shape(
        key in spelled_key(),
        wraps in 0u8..3,
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut body = format!(r#"{{"Message":"boom","{key}":"{SECRET}","Validity":1}}"#);
        for _ in 0..wraps {
            body = serde_json::Value::String(body).to_string();
        }
        if truncate {
            body.truncate(cut.index(body.len() + 1));
        }
        prop_assert!(!redact::body(&body).contains("S3CR3T"), "{body}");
        if let Err(e) = creds_from_body(&body, "u", None, now()) {
            prop_assert!(!format!("{e:#}").contains("S3CR3T"), "{body}");
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = creds_from_body(&text, "u", Some("d"), now());
        let _ = redact::body(&text);
        let _ = serde_json::from_str::<crate::creds::Entry>(&text);
        let _ = serde_json::from_str::<crate::login::TokenEntry>(&text);
        let _ = serde_json::from_str::<crate::login::CachedToken>(&text);
        if let Ok(cfg) = toml::from_str::<crate::config::Config>(&text) {
            for (name, env) in &cfg.envs {
                let _ = env.validate(name);
            }
        }
        let _ = crate::login::parse_token(&text, true);
        let _ = crate::login::parse_token(&text, false);
        let _ = shell_words::split(&text);
    }

    #[test]
    fn config_files_never_panic(
        host in prop_oneof![Just("https://p.example.com".to_string()), "\\PC{0,30}"],
        tenant in proptest::option::of("\\PC{0,20}"),
        admin in any::<bool>(),
        extra in "[a-z_]{0,8}",
    ) {
        let mut text = format!("[env.x]\nhost = {}\nadmin = {admin}\n", toml::Value::String(host.clone()));
        if let Some(t) = &tenant {
            text.push_str(&format!("tenant = {}\n", toml::Value::String(t.clone())));
        }
        if !extra.is_empty() {
            text.push_str(&format!("{extra} = 1\n"));
        }
        if let Ok(cfg) = toml::from_str::<crate::config::Config>(&text) {
            let ok = cfg.envs["x"].validate("x").is_ok();
            prop_assert!(!ok || crate::host::Host::parse(&host).is_ok());
        }
    }

    #[test]
    fn hosts_accepted_are_https_or_exact_loopback(raw in "(https?|ftp)://[a-z0-9.:@\\[\\]/-]{0,30}") {
        if let Ok(host) = crate::host::Host::parse(&raw) {
            let url = url::Url::parse(host.as_str()).expect("accepted hosts parse");
            prop_assert!(
                url.scheme() == "https"
                    || matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]")),
                "{raw}"
            );
        }
    }

    #[test]
    fn argv_after_double_dash_is_untouched(
        before in prop::collection::vec("-{0,2}[a-z-]{0,10}(=[a-z]{0,4})?".prop_filter("not --", |a| a != "--"), 0..6),
        after in prop::collection::vec("\\PC{0,12}", 0..6),
    ) {
        let mut args = vec!["jit".to_string(), "exec".to_string()];
        args.extend(before);
        args.push("--".into());
        args.extend(after.clone());
        let cmd = <crate::cli::Cli as clap::CommandFactory>::command();
        let out = crate::argv::normalize(args.iter().map(Into::into), || cmd);
        let out: Vec<String> = out.into_iter().map(|a| a.to_string_lossy().into_owned()).collect();
        let tail = out.iter().position(|a| a == "--").map(|i| out[i + 1..].to_vec());
        prop_assert_eq!(tail, Some(after));
    }

    #[test]
    fn callback_queries_never_panic(query in "\\PC{0,80}") {
        let t = url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "t").map(|(_, v)| v.into_owned());
        if let Some(t) = t {
            let _ = crate::login::parse_token(&t, true);
            let _ = crate::login::parse_token(&t, false);
        }
    }
}
