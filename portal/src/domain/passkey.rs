//! Passkeys (WebAuthn) as a second factor, beside TOTP (docs/protocol.md §11): the ceremonies
//! through `webauthn-rs`, the relying-party id the host of `--public-url`.
//!
//! Why `webauthn-rs` (which verifies with OpenSSL, libssl-dev to build) and not a pure-Rust
//! crate: it is the maintained, widely deployed relying party (Kanidm, SUSE; audited), with a
//! narrow "passkey" API that fixes the choices a relying party gets wrong (user verification
//! required, attestation not asked, the sign counter and backup flags checked and updated
//! through `Passkey::update_credential`). The pure-Rust ones were younger (`webauthn-rp`, one
//! maintainer) or the client side of the protocol (`passkey-*`, 1Password's authenticator);
//! `coset` is only the COSE encoding. OpenSSL is a build dependency (libssl-dev, installed by
//! scripts/test-deps.sh); release archives link it statically (`--features vendored-openssl`,
//! scripts/release.sh) so they do not depend on the host's libssl.
//!
//! Passkeys are a second factor only: the password comes first. A passwordless sign-in would
//! make a passkey alone worth a session, and the portal's users page, throttle and reset were
//! designed around password-then-factor; left for later.
//!
//! A ceremony's state rides in a sealed cookie (five minutes); the digest of that state is
//! spent in the transaction that stores the passkey or starts the session, so a challenge is
//! answered once (`webauthn_spent`).

use anyhow::{Context, Result, anyhow};
use sha2::{Digest, Sha256};
use webauthn_rs::prelude::{
    AuthenticationResult, CreationChallengeResponse, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, Url, Uuid,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};

/// How long a ceremony's challenge is good for.
pub const CEREMONY_SECS: i64 = 300;

/// The longest passkey name.
pub const MAX_NAME: usize = 64;

/// The relying party of a portal reached at `public_url`: its id is the URL's host (a name:
/// browsers refuse an IP address as an RP id, so a portal tried at a loopback address is
/// reached as `http://localhost:PORT`).
pub fn relying_party(public_url: &str) -> Result<Webauthn> {
    let origin = Url::parse(public_url).context("--public-url is not a URL")?;
    let host = origin
        .domain()
        .ok_or_else(|| anyhow!("passkeys need --public-url with a host name, not an address"))?
        .to_string();
    WebauthnBuilder::new(&host, &origin)
        .map_err(|e| anyhow!("no relying party for {public_url}: {e}"))?
        .rp_name("jit portal")
        .build()
        .map_err(|e| anyhow!("no relying party for {public_url}: {e}"))
}

/// The WebAuthn user handle of a portal user: stable, from the name, revealing nothing more.
fn user_handle(user: &str) -> Uuid {
    let d = Sha256::digest(format!("jit-portal passkey user\0{user}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    Uuid::from_bytes(b)
}

/// Start registering a passkey for `user`, who has `existing` ones (excluded: the authenticator
/// says so instead of making a second).
pub fn start_register(
    rp: &Webauthn,
    user: &str,
    existing: &[Passkey],
) -> Result<(CreationChallengeResponse, PasskeyRegistration)> {
    let exclude = existing.iter().map(|p| p.cred_id().clone()).collect();
    rp.start_passkey_registration(user_handle(user), user, user, Some(exclude))
        .map_err(|e| anyhow!("cannot start a passkey registration: {e}"))
}

/// Verify the browser's answer to a registration: the new passkey, or why not.
pub fn finish_register(
    rp: &Webauthn,
    answer: &RegisterPublicKeyCredential,
    state: &PasskeyRegistration,
) -> std::result::Result<Passkey, String> {
    rp.finish_passkey_registration(answer, state)
        .map_err(|e| format!("the passkey was not accepted: {e}"))
}

/// Start a sign-in's second step with `user`'s passkeys.
pub fn start_use(
    rp: &Webauthn,
    passkeys: &[Passkey],
) -> Result<(RequestChallengeResponse, PasskeyAuthentication)> {
    rp.start_passkey_authentication(passkeys)
        .map_err(|e| anyhow!("cannot start a passkey sign-in: {e}"))
}

/// Verify the browser's assertion: which credential, with its new counter and flags.
pub fn finish_use(
    rp: &Webauthn,
    answer: &PublicKeyCredential,
    state: &PasskeyAuthentication,
) -> Option<AuthenticationResult> {
    rp.finish_passkey_authentication(answer, state).ok()
}

/// A credential id as the table keys it (base64url, as the browser gives it).
pub fn credential_key(p: &Passkey) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(p.cred_id().as_ref())
}

/// The digest a ceremony's sealed state is spent by.
pub fn spent_digest(sealed: &str) -> String {
    let d = Sha256::digest(sealed.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// A user's passkeys (for `jit portal user mfa`), oldest first.
pub async fn of_user(db: &crate::db::Db, name: &str) -> super::Result<Vec<crate::db::PasskeyRow>> {
    db.passkeys(name)
        .await
        .map_err(|e| super::Error::Failed(e.context("portal state unreadable")))
}

/// How a signed-in user proves it is them before a passkey of theirs goes: a current code of
/// their TOTP factor when they have one, else an assertion of one of their passkeys (its
/// ceremony's spent digest, `spent_digest`, and when the ceremony expires).
pub enum Proof<'a> {
    Code(&'a str),
    Assertion {
        challenge: &'a str,
        expires: i64,
        /// The passkey that answered (its credential id, as stored).
        credential: &'a str,
    },
}

/// A user removes one of their passkeys by name, proven as [`Proof`] says; the proof is spent
/// in the transaction that removes it and writes the `mfa remove` row. A session alone is not
/// enough: whoever holds a stolen session cannot take a factor away.
pub async fn remove(
    db: &crate::db::Db,
    session: &crate::db::Session,
    client: Option<String>,
    name: &str,
    proof: Proof<'_>,
    now: i64,
) -> super::Result<()> {
    let user = session.user.as_str();
    let before = session.created;
    use crate::db::{AuditEntry, AuditEvent, Removal, RemovalProof};
    let unreadable = |e: anyhow::Error| super::Error::Failed(e.context("portal state unreadable"));
    let what = format!("removing passkey {name}");
    let totp = db.totp_secret(user).await.map_err(unreadable)?;
    let proof = match (proof, totp) {
        (Proof::Code(code), Some((secret, last))) => {
            let Some(step) = super::mfa::accept(&secret, code, now, last) else {
                return Err(super::mfa::wrong_code(db, user, client, &what).await);
            };
            RemovalProof::Totp { step, before }
        }
        (Proof::Code(_), None) => {
            return Err(super::Error::Invalid(
                "Confirm with one of your passkeys to remove one".into(),
            ));
        }
        (Proof::Assertion { .. }, Some(_)) => {
            return Err(super::Error::Invalid(
                "Type a code from your authenticator app to remove a passkey".into(),
            ));
        }
        (
            Proof::Assertion {
                challenge,
                expires,
                credential,
            },
            None,
        ) => RemovalProof::Passkey {
            challenge,
            expires,
            credential,
            before,
        },
    };
    let mut audit = AuditEntry::new(AuditEvent::MfaRemove, user)
        .user(user)
        .detail(format!("passkey {name}"));
    audit.client.clone_from(&client);
    match db
        .remove_passkey(user, name, &proof, audit)
        .await
        .map_err(unreadable)?
    {
        Removal::Removed => Ok(()),
        Removal::NoSuchPasskey => Err(super::Error::NotFound(
            "There is no passkey of that name.".into(),
        )),
        Removal::TooNew => Err(super::Error::Invalid(
            "A factor added since you signed in cannot remove another: sign out, sign in with it, and try again".into(),
        )),
        Removal::Refused => Err(match proof {
            RemovalProof::Totp { .. } => super::mfa::wrong_code(db, user, client, &what).await,
            RemovalProof::Passkey { .. } => {
                super::Error::Invalid("That passkey confirmation was used already".into())
            }
        }),
    }
}

/// A passkey's name as typed: trimmed, 1 to 64 printable characters.
pub fn valid_name(name: &str) -> std::result::Result<String, String> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > MAX_NAME || n.chars().any(char::is_control) {
        return Err(format!(
            "A passkey name is 1 to {MAX_NAME} printable characters."
        ));
    }
    Ok(n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rp_id_is_the_public_url_host() {
        assert!(relying_party("http://localhost:8080").is_ok());
        assert!(relying_party("https://jit.example.com").is_ok());
        assert!(relying_party("http://127.0.0.1:8080").is_err());
    }

    #[test]
    fn names() {
        assert_eq!(valid_name(" laptop ").as_deref(), Ok("laptop"));
        assert!(valid_name("").is_err());
        assert!(valid_name("a\nb").is_err());
    }
}
