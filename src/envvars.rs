//! The environment a jit session puts in front of a program (docs/protocol.md §4): what it sets
//! and what it clears, checked before any shell evaluates it, in JSON or in a shell's syntax.

use anyhow::{Result, bail};

use crate::model::{AwsCreds, rfc3339};
use crate::shell::Shell;

/// Variables that would make SDKs pick some other credentials over ours.
pub const CLEARED: &[&str] = &[
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_FILE",
    "AWS_SDK_LOAD_CONFIG",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
];

/// Every variable jit sets, some only for some environments; `jitoff` clears the same list
/// (the hook scripts repeat it, and a test keeps them equal).
pub const OWN: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_SESSION_EXPIRATION",
    "JIT_ENV",
    "JIT_EXPIRES",
    GRANT_END,
    ENDPOINT_MARK,
];

/// Set while the credentials ride an access grant (docs/protocol.md §13): its end in Unix
/// seconds, so a prompt that renews can count down the grant and knows that no renewal outlives
/// it.
pub const GRANT_END: &str = "JIT_GRANT_END";

/// Set for environments with an `endpoint_url`. A user may have set it before jit for their own
/// reasons, so it is cleared only while it still equals `ENDPOINT_MARK`, which jit sets beside it.
pub const ENDPOINT: &str = "AWS_ENDPOINT_URL";
pub const ENDPOINT_MARK: &str = "JIT_ENDPOINT_URL";

/// What to put in front of a program: `set` these, remove `unset`, and remove `ENDPOINT` if jit
/// set it (when this environment has no endpoint of its own).
pub struct Exports {
    pub set: Vec<(&'static str, String)>,
    pub unset: Vec<&'static str>,
    pub clear_own_endpoint: bool,
}

pub fn exports(creds: &AwsCreds, env_name: &str, endpoint_url: Option<&str>) -> Result<Exports> {
    check_access_key_id(&creds.access_key_id)?;
    check_region(&creds.region)?;
    if let Some(url) = endpoint_url {
        check_endpoint_url(url)?;
    }
    let expiration = rfc3339(creds.expiration);
    let mut set = vec![
        ("AWS_ACCESS_KEY_ID", creds.access_key_id.clone()),
        ("AWS_SECRET_ACCESS_KEY", creds.secret_access_key.clone()),
        ("AWS_SESSION_TOKEN", creds.session_token.clone()),
    ];
    if !creds.region.is_empty() {
        set.push(("AWS_REGION", creds.region.clone()));
        set.push(("AWS_DEFAULT_REGION", creds.region.clone()));
    }
    set.extend([
        ("AWS_CREDENTIAL_EXPIRATION", expiration.clone()),
        ("AWS_SESSION_EXPIRATION", expiration),
        ("JIT_ENV", env_name.to_string()),
        ("JIT_EXPIRES", creds.expiration.as_second().to_string()),
    ]);
    if let Some(grant) = &creds.grant {
        set.push((GRANT_END, grant.end.as_second().to_string()));
    }
    if let Some(url) = endpoint_url {
        set.push((ENDPOINT, url.to_string()));
        set.push((ENDPOINT_MARK, url.to_string()));
    }
    for (name, value) in &set {
        if value.contains('\0') {
            bail!("the value for {name} contains a NUL byte, which no environment can hold");
        }
    }
    let unset = CLEARED
        .iter()
        .chain(OWN)
        .filter(|name| !set.iter().any(|(k, _)| k == *name))
        .copied()
        .collect();
    Ok(Exports {
        set,
        unset,
        clear_own_endpoint: endpoint_url.is_none(),
    })
}

/// STS documents access key ids as 16 to 128 word characters.
fn check_access_key_id(id: &str) -> Result<()> {
    if (16..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Ok(());
    }
    bail!(
        "the portal sent an access key id that is not one (16 to 128 letters, digits or _): {:?}",
        shorten(id)
    )
}

fn check_region(region: &str) -> Result<()> {
    if region.len() <= 64
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Ok(());
    }
    bail!(
        "region {:?} is not an AWS region name (lowercase letters, digits and -, like us-west-2)",
        shorten(region)
    )
}

fn check_endpoint_url(raw: &str) -> Result<()> {
    // url::Url::parse drops tabs and newlines silently; the raw text is what gets exported.
    let clean = !raw.is_empty() && !raw.chars().any(|c| c.is_whitespace() || c.is_control());
    let parsed = url::Url::parse(raw).ok();
    if clean
        && let Some(url) = parsed
        && matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some_and(|h| !h.is_empty())
    {
        return Ok(());
    }
    bail!(
        "endpoint_url {:?} is not an http:// or https:// URL",
        shorten(raw)
    )
}

/// Enough of a bad value to recognise it in an error line.
fn shorten(value: &str) -> String {
    value.chars().take(80).collect()
}

/// The `set` variables as one JSON object (a data format: it lists what is set, nothing else).
pub fn render_json(exports: &Exports) -> String {
    let map: serde_json::Map<String, serde_json::Value> = exports
        .set
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.clone())))
        .collect();
    format!("{}\n", serde_json::Value::Object(map))
}

/// Code that leaves the shell with exactly this environment's variables and none of another's.
pub fn render(shell: Shell, exports: &Exports) -> String {
    let mut out = String::new();
    // Before ENDPOINT_MARK itself is unset below.
    if exports.clear_own_endpoint {
        out.push_str(&shell.unset_env_if_marked(ENDPOINT, ENDPOINT_MARK));
    }
    for name in &exports.unset {
        out.push_str(&shell.unset_env(name));
    }
    for (name, value) in &exports.set {
        out.push_str(&shell.set_env(name, value));
    }
    out
}

/// Whether the process environment's AWS_ENDPOINT_URL is the one jit set (for `jit exec`, which
/// edits a child's environment instead of printing code).
pub fn endpoint_is_ours() -> bool {
    match (std::env::var_os(ENDPOINT), std::env::var_os(ENDPOINT_MARK)) {
        (Some(url), Some(mark)) => !mark.is_empty() && url == mark,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(key: &str, region: &str) -> AwsCreds {
        AwsCreds {
            console_url: String::new(),
            access_key_id: key.into(),
            secret_access_key: "s".into(),
            region: region.into(),
            session_token: "t".into(),
            expiration: "2026-02-27T19:04:05Z".parse().expect("ts"),
            grant: None,
        }
    }

    const KEY: &str = "ASIAEXAMPLE0000000001";

    #[test]
    fn unsets_everything_it_manages_and_does_not_set() {
        let ex = exports(&creds(KEY, ""), "dev", None).expect("valid");
        for name in [
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            ENDPOINT_MARK,
            "AWS_PROFILE",
        ] {
            assert!(ex.unset.contains(&name), "{name} must be unset");
        }
        assert!(ex.clear_own_endpoint);
        let sh = render(Shell::Bash, &ex);
        let mark = sh.find("JIT_ENDPOINT_URL-").expect("endpoint check");
        let unset_mark = sh.find("unset JIT_ENDPOINT_URL;").expect("mark unset");
        assert!(
            mark < unset_mark,
            "check the mark before clearing it:\n{sh}"
        );

        let ex = exports(
            &creds(KEY, "us-west-2"),
            "dev",
            Some("http://127.0.0.1:5000"),
        )
        .expect("valid");
        assert!(!ex.clear_own_endpoint);
        assert!(ex.unset.iter().all(|n| !ex.set.iter().any(|(k, _)| k == n)));
        assert!(!ex.unset.contains(&"AWS_REGION"));
    }

    #[test]
    fn grant_end_is_set_with_a_grant_and_unset_without() {
        let mut riding = creds(KEY, "us-west-2");
        riding.grant = Some(crate::model::VendGrant {
            id: "g_1".into(),
            end: "2026-02-27T20:00:00Z".parse().expect("ts"),
        });
        let ex = exports(&riding, "dev", None).expect("valid");
        let end: jiff::Timestamp = "2026-02-27T20:00:00Z".parse().expect("ts");
        assert!(
            ex.set.contains(&(GRANT_END, end.as_second().to_string())),
            "{:?}",
            ex.set
        );
        assert!(!ex.unset.contains(&GRANT_END));
        let set = Shell::Bash.set_env(GRANT_END, &end.as_second().to_string());
        assert!(render(Shell::Bash, &ex).contains(&set));

        // Standing access: a grant's end from before is cleared.
        let ex = exports(&creds(KEY, "us-west-2"), "dev", None).expect("valid");
        assert!(ex.set.iter().all(|(k, _)| *k != GRANT_END), "{:?}", ex.set);
        assert!(ex.unset.contains(&GRANT_END));
        assert!(render(Shell::Fish, &ex).contains(&Shell::Fish.unset_env(GRANT_END)));
    }

    #[test]
    fn every_hook_clears_what_jit_sets() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish, Shell::Powershell] {
            let hook = crate::shell::hook(shell, "jit", true);
            let start = hook.find("__jit_vars").expect("a __jit_vars list");
            let end = start + hook[start..].find("\n\n").expect("a blank line after it");
            let mut listed: Vec<&str> = hook[start + "__jit_vars".len()..end]
                .split(|c: char| !(c.is_ascii_uppercase() || c == '_'))
                .filter(|w| w.len() > 1)
                .collect();
            listed.sort_unstable();
            let mut own = OWN.to_vec();
            own.sort_unstable();
            assert_eq!(listed, own, "{shell:?}");
        }
    }

    #[test]
    fn portal_values_that_would_become_code_are_refused() {
        for bad in [
            "ASIA{A,B}",
            "ASIA$(id)XXXXXXXXXX",
            "short",
            "ASIA'XXXXXXXXXXXXXXX",
        ] {
            let err = exports(&creds(bad, "us-west-2"), "dev", None)
                .err()
                .unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(format!("{err}").contains("access key id"), "{err}");
        }
        for bad in ["us-west-2; id", "US-WEST-2", "eu west", "a\nb"] {
            let err = exports(&creds(KEY, bad), "dev", None)
                .err()
                .unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(format!("{err}").contains("not an AWS region name"), "{err}");
        }
        for bad in [
            "localhost:4566",
            "ftp://x",
            "http://a\n.example",
            "http:// x",
            "",
        ] {
            let err = exports(&creds(KEY, "us-west-2"), "dev", Some(bad))
                .err()
                .unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert!(format!("{err}").contains("endpoint_url"), "{err}");
        }
        let mut nul = creds(KEY, "us-west-2");
        nul.session_token = "a\0b".into();
        assert!(exports(&nul, "dev", None).is_err());
        exports(
            &creds(KEY, "us-west-2"),
            "dev",
            Some("https://s3.example.com:8443/x"),
        )
        .expect("valid endpoint");
    }
}
