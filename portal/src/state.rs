//! What every request can see: the portal's shared state (`App`), the client's address (from
//! the connection, as axum's `ConnectInfo`), and the name the request log line gives the asker.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;

use crate::aws::{Iam, Signin, Sts};
use crate::db::Db;
use crate::domain;
use crate::domain::vend::Vendor;

pub struct App {
    pub db: Db,
    /// What the portal seals the values it leaves with browsers with (`secret::seal`).
    pub cookie_key: [u8; 32],
    /// Served over TLS, here or at a proxy: browsers are told to keep to HTTPS.
    pub tls: bool,
    /// The portal's cookies are `__Host-` and `Secure` (over TLS, or at a loopback URL):
    /// `web::cookies`.
    pub host_cookies: bool,
    /// Where users reach the portal, without a trailing slash.
    pub public_url: String,
    /// The AWS endpoint vended keys work at, when it is not AWS itself (the demo's moto).
    pub aws_endpoint: Option<String>,
    pub sts: Sts,
    /// The cut-off on revoke (`--cut-off-on-revoke`), when configured.
    pub cut_off: Option<Iam>,
    pub signin: Signin,
    /// Single sign-on through an OpenID Connect provider, when configured.
    pub oidc: Option<crate::sso::Oidc>,
    /// Proxies whose X-Forwarded-For names the client (`--trusted-proxy`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl App {
    /// What the vend engine needs of the state.
    pub fn vendor(&self) -> Vendor<'_> {
        Vendor {
            db: &self.db,
            sts: &self.sts,
            signin: &self.signin,
        }
    }
}

pub type Shared = Arc<App>;

/// The client's address as the portal sees it: the connection's peer, or, when that peer is a
/// trusted proxy, the nearest hop of `X-Forwarded-For` that is not one (a header is only as
/// good as whoever appended to it last: every hop left of an untrusted one could be made up).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

impl ClientAddr {
    /// The client behind `peer`, given the `X-Forwarded-For` values of the request.
    pub fn resolve<'a>(
        peer: IpAddr,
        forwarded: impl DoubleEndedIterator<Item = &'a str>,
        trusted: &[ipnet::IpNet],
    ) -> ClientAddr {
        let is_trusted = |a: &IpAddr| trusted.iter().any(|net| net.contains(a));
        let mut client = peer.to_canonical();
        if !is_trusted(&client) {
            return ClientAddr(client);
        }
        let hops = forwarded.flat_map(|v| v.split(',')).rev();
        for hop in hops {
            let Some(addr) = hop_addr(hop.trim()) else {
                break;
            };
            client = addr.to_canonical();
            if !is_trusted(&client) {
                break;
            }
        }
        ClientAddr(client)
    }
}

/// One hop of `X-Forwarded-For`: an address, maybe with a port (`192.0.2.7:4711`,
/// `[2001:db8::7]:4711`).
fn hop_addr(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// The client's IP address, for the audit trail and the throttles: what `ClientAddr` resolved
/// (the router's outermost layer), else the connection's peer (`ConnectInfo`); absent when a
/// request came another way (a test driving the router in process).
#[derive(Debug, Clone, Default)]
pub struct ClientIp(pub Option<String>);

impl ClientIp {
    pub fn of(extensions: &axum::http::Extensions) -> ClientIp {
        ClientIp(
            extensions
                .get::<ClientAddr>()
                .map(|ClientAddr(a)| *a)
                .or_else(|| {
                    extensions
                        .get::<ConnectInfo<SocketAddr>>()
                        .map(|ConnectInfo(a)| a.ip().to_canonical())
                })
                .map(|a| a.to_string()),
        )
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(ClientIp::of(&parts.extensions))
    }
}

/// Who a request was for, for the request's log line.
#[derive(Clone)]
pub struct Who(pub String);

/// `response`, marked with the user it answered.
pub fn with_who(mut response: Response, who: &str) -> Response {
    response.extensions_mut().insert(Who(who.to_string()));
    response
}

/// The status a domain refusal or failure answers with, the same from the API and the pages.
pub fn status_of(e: &domain::Error) -> StatusCode {
    match e {
        domain::Error::Invalid(_) => StatusCode::BAD_REQUEST,
        domain::Error::Unauthorized => StatusCode::UNAUTHORIZED,
        domain::Error::Forbidden(_) => StatusCode::FORBIDDEN,
        domain::Error::NotFound(_) => StatusCode::NOT_FOUND,
        domain::Error::Upstream(_) => StatusCode::BAD_GATEWAY,
        domain::Error::Failed(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::ClientAddr;

    fn nets(list: &[&str]) -> Vec<ipnet::IpNet> {
        list.iter().map(|n| n.parse().expect("cidr")).collect()
    }

    fn resolve(peer: &str, xff: &[&str], trusted: &[&str]) -> String {
        let peer = peer.parse().expect("peer");
        ClientAddr::resolve(peer, xff.iter().copied(), &nets(trusted))
            .0
            .to_string()
    }

    #[test]
    fn a_forwarded_address_counts_only_from_a_trusted_proxy() {
        let proxy = ["10.0.0.0/8"];
        assert_eq!(
            resolve("10.0.0.5", &["198.51.100.9"], &proxy),
            "198.51.100.9"
        );
        assert_eq!(
            resolve("203.0.113.1", &["198.51.100.9"], &proxy),
            "203.0.113.1",
            "an untrusted peer's header is ignored"
        );
        assert_eq!(resolve("10.0.0.5", &["198.51.100.9"], &[]), "10.0.0.5");
        assert_eq!(resolve("10.0.0.5", &[], &proxy), "10.0.0.5");
    }

    #[test]
    fn the_nearest_untrusted_hop_wins_over_what_a_client_made_up() {
        let proxies = ["10.0.0.0/8", "192.0.2.1/32"];
        // The client sent "1.2.3.4" itself; the proxies appended the real hops.
        assert_eq!(
            resolve("10.0.0.5", &["1.2.3.4, 198.51.100.9, 192.0.2.1"], &proxies),
            "198.51.100.9"
        );
        assert_eq!(
            resolve("10.0.0.5", &["1.2.3.4", "198.51.100.9:4711"], &proxies),
            "198.51.100.9",
            "several header lines read as one list; a port is dropped"
        );
        assert_eq!(
            resolve("10.0.0.5", &["[2001:db8::7]:443"], &proxies),
            "2001:db8::7"
        );
        assert_eq!(
            resolve("10.0.0.5", &["junk, 10.0.0.6"], &proxies),
            "10.0.0.6",
            "a hop that is no address stops the walk at the last known one"
        );
        assert_eq!(
            resolve("::ffff:10.0.0.5", &["::ffff:198.51.100.9"], &proxies),
            "198.51.100.9",
            "IPv4 in IPv6 is read as IPv4"
        );
    }
}
