//! Signed, single-use, short-lived links, the kind a notification carries ("open request
//! r_... in the portal"). The link's token is sealed with the portal's key (nobody can make one
//! or change where it leads) and names the page it opens, who it was sent to and when it
//! stops working; it is spent on first use (`links_spent`). A link is no credential: it opens
//! a page where the reader must still be signed in (with a second factor where the policy asks
//! for one), and the web door answers it with a redirect, so the token never stays in the
//! address bar.

use serde::{Deserialize, Serialize};

use crate::db::Db;
use crate::secret;

/// What a link's seal is for: a value sealed for another purpose does not open as a link.
const PURPOSE: &str = "jit-link-v1";
/// The longest a link may live.
pub const MAX_LINK_SECS: i64 = 24 * 3600;

/// Where a link leads, and for whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// The portal page it opens (a path, `/requests/r_...`).
    pub path: String,
    /// Who it was sent to (a user name or a channel), for the audit trail.
    pub to: String,
    /// Unix seconds after which it is refused.
    pub expires: i64,
    /// Makes each link distinct, so spending one spends no other.
    nonce: String,
}

/// A link's token to `path` (a portal path: the web door checks it again before it
/// redirects) for `to`, valid until `expires` (at most [`MAX_LINK_SECS`] from `now`).
pub fn issue(
    key: &[u8; 32],
    path: &str,
    to: &str,
    now: i64,
    expires: i64,
) -> anyhow::Result<String> {
    let link = Link {
        path: path.into(),
        to: to.into(),
        expires: expires.min(now + MAX_LINK_SECS),
        nonce: secret::hex(&secret::random::<12>()?),
    };
    let json = serde_json::to_vec(&link).map_err(anyhow::Error::new)?;
    secret::seal(key, PURPOSE, &json)
}

/// Why a link did not lead anywhere.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error(
        "This link has expired, was used already, or is not one of this portal's: open the portal and find the request there"
    )]
    Gone,
    /// The portal's own trouble.
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

fn gone() -> LinkError {
    LinkError::Gone
}

/// Where the link with this token leads, without spending it (a mail scanner that fetches
/// every link must not use it up). Refused when it was not made by this portal or has expired.
pub fn check(key: &[u8; 32], token: &str, now: i64) -> Result<Link, LinkError> {
    let link: Link = secret::open(key, PURPOSE, token)
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or_else(gone)?;
    if now > link.expires {
        return Err(gone());
    }
    Ok(link)
}

/// Follow the link with this token at `now`: where it leads, once. Refused as [`check`]
/// refuses, and when it was followed before.
pub async fn follow(db: &Db, key: &[u8; 32], token: &str, now: i64) -> Result<Link, LinkError> {
    let link = check(key, token, now)?;
    if !db
        .spend_link(&secret::digest(token), link.expires)
        .await
        .map_err(|e| LinkError::Failed(e.context("cannot record the link as used")))?
    {
        return Err(gone());
    }
    Ok(link)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_link_leads_once_until_it_expires_and_only_if_the_portal_made_it() {
        let (_dir, db) = Db::open_temp().await;
        let key = [7u8; 32];
        let token = issue(&key, "/requests/r_1", "bob", 100, 200).expect("issue");
        assert_eq!(
            check(&key, &token, 150).expect("check").path,
            "/requests/r_1"
        );
        let link = follow(&db, &key, &token, 150).await.expect("first use");
        assert_eq!(
            (link.path.as_str(), link.to.as_str(), link.expires),
            ("/requests/r_1", "bob", 200)
        );
        assert!(matches!(
            follow(&db, &key, &token, 151).await,
            Err(LinkError::Gone)
        ));

        let late = issue(&key, "/requests/r_1", "bob", 100, 200).expect("issue");
        assert!(matches!(
            follow(&db, &key, &late, 201).await,
            Err(LinkError::Gone)
        ));
        let other_key = issue(&[8u8; 32], "/requests/r_1", "bob", 100, 200).expect("issue");
        assert!(matches!(
            follow(&db, &key, &other_key, 150).await,
            Err(LinkError::Gone)
        ));
        let mut changed = issue(&key, "/requests/r_1", "bob", 100, 200).expect("issue");
        changed.push('A');
        assert!(matches!(
            follow(&db, &key, &changed, 150).await,
            Err(LinkError::Gone)
        ));
        // Capped at a day, whatever was asked.
        let long = issue(&key, "/requests/r_2", "bob", 100, i64::MAX).expect("issue");
        assert_eq!(
            follow(&db, &key, &long, 150).await.expect("long").expires,
            100 + MAX_LINK_SECS
        );
    }
}
