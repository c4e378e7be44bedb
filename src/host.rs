//! Portal URLs are trust anchors: a token goes to whatever host we accept, so the rules are strict.

use anyhow::{Context, Result, bail};

/// A validated portal base URL with one trailing `/` trimmed, as given otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host(String);

impl Host {
    /// Accept `https://` anywhere, and plain `http://` only for a loopback host named exactly.
    pub fn parse(raw: &str) -> Result<Self> {
        let trimmed = raw.strip_suffix('/').unwrap_or(raw);
        if !trimmed.contains("://") && !trimmed.is_empty() {
            bail!("invalid host URL '{raw}': no scheme; did you mean https://{trimmed}?");
        }
        let url = url::Url::parse(trimmed).with_context(|| format!("invalid host URL '{raw}'"))?;
        if !url.username().is_empty() || url.password().is_some() {
            bail!("invalid host URL '{raw}': credentials in the URL are not allowed");
        }
        if url.query().is_some() || url.fragment().is_some() {
            bail!("invalid host URL '{raw}': no query or fragment allowed");
        }
        match url.scheme() {
            "https" => {}
            "http" => {
                let loopback = matches!(
                    url.host(),
                    Some(url::Host::Domain("localhost"))
                        | Some(url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST))
                        | Some(url::Host::Ipv6(std::net::Ipv6Addr::LOCALHOST))
                );
                if !loopback {
                    bail!(
                        "invalid host URL '{raw}': must start with https:// (http:// only for 127.0.0.1, ::1 or localhost)"
                    );
                }
            }
            other => bail!("invalid host URL '{raw}': unsupported scheme '{other}', use https://"),
        }
        Ok(Host(trimmed.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The host without its scheme, as duplo-jit names cache entries.
    pub fn key(&self) -> &str {
        self.0
            .strip_prefix("https://")
            .or_else(|| self.0.strip_prefix("http://"))
            .unwrap_or(&self.0)
    }

    /// `scheme://host[:port]`, what a browser sends as `Origin`.
    pub fn origin(&self) -> String {
        url::Url::parse(&self.0)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_else(|_| self.0.clone())
    }
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_https_and_loopback_http() {
        for ok in [
            "https://portal.example.com",
            "https://portal.example.com/",
            "http://127.0.0.1:8080",
            "http://localhost:1",
            "http://[::1]:9",
        ] {
            let host = Host::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert!(!host.as_str().ends_with('/'), "{ok}");
        }
        assert_eq!(
            Host::parse("https://a.b/")
                .map(|h| h.key().to_string())
                .ok(),
            Some("a.b".into())
        );
    }

    #[test]
    fn a_host_without_a_scheme_gets_a_suggestion() {
        for (raw, hint) in [
            (
                "portal.example.com",
                "did you mean https://portal.example.com?",
            ),
            (
                "portal.example.com:8443/",
                "did you mean https://portal.example.com:8443?",
            ),
        ] {
            let err = Host::parse(raw).map(|_| ()).expect_err(raw);
            assert!(format!("{err:#}").contains(hint), "{err:#}");
        }
    }

    #[test]
    fn rejects_lookalikes_and_plain_http() {
        for bad in [
            "http://localhost.evil.com",
            "http://localhost@evil.com",
            "http://127.0.0.2",
            "http://example.com",
            "ftp://example.com",
            "portal.example.com",
            "https://user:pw@example.com",
            "",
        ] {
            assert!(Host::parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}
