//! The environment a jit session puts in front of a program (docs/protocol.md §4), in every shell's syntax.

use crate::cli::EnvFormat;
use crate::model::{AwsCreds, rfc3339};

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

pub fn set(
    creds: &AwsCreds,
    env_name: &str,
    endpoint_url: Option<&str>,
) -> Vec<(&'static str, String)> {
    let expiration = rfc3339(creds.expiration);
    let mut vars = vec![
        ("AWS_ACCESS_KEY_ID", creds.access_key_id.clone()),
        ("AWS_SECRET_ACCESS_KEY", creds.secret_access_key.clone()),
        ("AWS_SESSION_TOKEN", creds.session_token.clone()),
    ];
    if !creds.region.is_empty() {
        vars.push(("AWS_REGION", creds.region.clone()));
        vars.push(("AWS_DEFAULT_REGION", creds.region.clone()));
    }
    vars.extend([
        ("AWS_CREDENTIAL_EXPIRATION", expiration.clone()),
        ("AWS_SESSION_EXPIRATION", expiration),
        ("JIT_ENV", env_name.to_string()),
        ("JIT_EXPIRES", creds.expiration.as_second().to_string()),
    ]);
    if let Some(url) = endpoint_url {
        // JIT_ENDPOINT_URL tells jitoff that AWS_ENDPOINT_URL is ours to clear.
        vars.push(("AWS_ENDPOINT_URL", url.to_string()));
        vars.push(("JIT_ENDPOINT_URL", url.to_string()));
    }
    vars
}

pub fn render(format: EnvFormat, vars: &[(&str, String)]) -> String {
    let mut out = String::new();
    match format {
        EnvFormat::Json => {
            let map: serde_json::Map<String, serde_json::Value> = vars
                .iter()
                .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.clone())))
                .collect();
            out.push_str(&serde_json::Value::Object(map).to_string());
            out.push('\n');
        }
        EnvFormat::Sh => {
            out.push_str(&format!("unset {};\n", CLEARED.join(" ")));
            for (k, v) in vars {
                out.push_str(&format!("export {k}={};\n", shell_words::quote(v)));
            }
        }
        EnvFormat::Fish => {
            out.push_str(&format!("set -e {};\n", CLEARED.join(" ")));
            for (k, v) in vars {
                out.push_str(&format!("set -gx {k} {};\n", fish_quote(v)));
            }
        }
        EnvFormat::Powershell => {
            for k in CLEARED {
                out.push_str(&format!(
                    "Remove-Item -Path Env:{k} -ErrorAction SilentlyContinue\n"
                ));
            }
            for (k, v) in vars {
                out.push_str(&format!("$Env:{k} = '{}'\n", v.replace('\'', "''")));
            }
        }
    }
    out
}

fn fish_quote(v: &str) -> String {
    format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_hostile_values() {
        let vars = vec![("JIT_ENV", "a'b $(rm -rf /) \\ \"c\"".to_string())];
        let sh = render(EnvFormat::Sh, &vars);
        assert!(
            sh.contains("export JIT_ENV='a'\\''b $(rm -rf /) \\ \"c\"';"),
            "{sh}"
        );
        let fish = render(EnvFormat::Fish, &vars);
        assert!(
            fish.contains("set -gx JIT_ENV 'a\\'b $(rm -rf /) \\\\ \"c\"';"),
            "{fish}"
        );
        let ps = render(EnvFormat::Powershell, &vars);
        assert!(
            ps.contains("$Env:JIT_ENV = 'a''b $(rm -rf /) \\ \"c\"'"),
            "{ps}"
        );
    }
}
