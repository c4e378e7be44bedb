//! One module per `jit-portal` subcommand, each with a `run`.

mod admin;
pub(crate) mod audit;
mod serve;

use std::process::ExitCode;

use anyhow::{Result, bail};

use crate::cli::{Cli, Command};
use crate::db::Db;

pub async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve::run(*args, cli.db).await,
        command => {
            let db = open(cli.db, false).await?;
            let result = match command {
                Command::User(c) => admin::user(&db, c).await,
                Command::Tenant(c) => admin::tenant(&db, c).await,
                Command::Token(c) => admin::token(&db, c).await,
                Command::Set(a) => admin::set(&db, a).await,
                Command::Audit(a) => audit::run(&db, a).await,
                Command::Serve(_) => Ok(()),
            };
            db.close().await;
            result.map(|()| ExitCode::SUCCESS)
        }
    }
}

/// The database named by --db / JIT_PORTAL_DB, else the default file.
pub async fn open(target: Option<String>, demo: bool) -> Result<Db> {
    let target = match target.filter(|t| !t.is_empty()) {
        Some(t) => t,
        None => crate::db::default_path(demo)?.display().to_string(),
    };
    Db::open(&target).await
}

/// Names end up in STS session names, logs and the audit trail: keep them plain.
pub fn check_name(kind: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if !ok {
        bail!(
            "invalid {kind} name '{}': use 1-64 of A-Z a-z 0-9 _ + = , . @ -",
            crate::log::escape(name)
        );
    }
    Ok(())
}

/// The shape of an IAM role ARN: `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`. `label` names
/// the input in the message (a flag, or a form field).
pub fn check_role(label: &str, arn: &str) -> Result<()> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = arn.len() <= 2048
        && matches!(parts.as_slice(), ["arn", partition, "iam", "", account, resource]
        if !partition.is_empty()
            && partition.chars().all(|c| c.is_ascii_lowercase() || c == '-')
            && account.len() == 12
            && account.chars().all(|c| c.is_ascii_digit())
            && resource.strip_prefix("role/").is_some_and(|name| {
                !name.is_empty()
                    && !name.ends_with('/')
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-/".contains(c))
            }));
    if !ok {
        bail!("{label} must be an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)");
    }
    Ok(())
}

/// A Kubernetes cluster name: it is signed into tokens, so no spaces or control characters.
pub fn check_k8s_cluster(label: &str, name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 255
        || name.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        bail!("{label} must be a cluster name without spaces");
    }
    Ok(())
}

/// A cluster's API server: an http(s) URL with a host.
pub fn check_k8s_server(label: &str, server: &str) -> Result<()> {
    let ok = server.len() <= 2048
        && url::Url::parse(server).is_ok_and(|u| {
            (u.scheme() == "https" || u.scheme() == "http") && u.host_str().is_some()
        });
    if !ok {
        bail!(
            "{label} must be an https:// URL, not '{}'",
            crate::log::escape(server)
        );
    }
    Ok(())
}

/// A cluster CA as kubeconfig's `certificate-authority-data` wants it: base64 of a PEM
/// certificate.
pub fn k8s_ca_data(pem: &[u8]) -> Result<String> {
    use base64::Engine as _;
    if !String::from_utf8_lossy(pem).contains("-----BEGIN CERTIFICATE-----") {
        bail!("the cluster CA must be a PEM certificate (-----BEGIN CERTIFICATE-----)");
    }
    Ok(base64::engine::general_purpose::STANDARD.encode(pem))
}

/// A CA given as base64 of its PEM, decoded.
pub fn decode_k8s_ca(label: &str, text: &str) -> Result<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|_| anyhow::anyhow!("{label} must be base64 of a PEM certificate"))
}

/// Who makes an admin change from the command line, for the audit trail.
pub fn cli_actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_must_have_the_iam_role_shape() {
        for good in [
            "arn:aws:iam::111111111111:role/dev01",
            "arn:aws-us-gov:iam::123456789012:role/team/path/Name_+=,.@-",
        ] {
            assert!(check_role("--role-arn", good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "arn:",
            "arn:aws:iam::1111:role/dev01",
            "arn:aws:iam::111111111111:user/dev01",
            "arn:aws:iam::111111111111:role/",
            "arn:aws:sts::111111111111:role/dev01",
            "arn:aws:iam::111111111111:role/with space",
        ] {
            let err = check_role("Role ARN", bad).expect_err(bad).to_string();
            assert!(err.starts_with("Role ARN must be an IAM role ARN"), "{err}");
        }
    }

    #[test]
    fn cluster_checks() {
        assert!(check_k8s_cluster("c", "prod-1").is_ok());
        assert!(check_k8s_cluster("c", "two words").is_err());
        assert!(check_k8s_server("s", "https://k8s.example:6443").is_ok());
        assert!(check_k8s_server("s", "ftp://k8s.example").is_err());
        assert!(check_k8s_server("s", "k8s.example").is_err());
        let pem = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let data = k8s_ca_data(pem).expect("pem");
        assert_eq!(decode_k8s_ca("ca", &data).expect("base64"), pem);
        assert!(k8s_ca_data(b"not a cert").is_err());
        assert!(decode_k8s_ca("ca", "%%%").is_err());
    }
}
