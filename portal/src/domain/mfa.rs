//! Second factors for the web sign-in: TOTP (RFC 6238 through `totp-rs`: SHA-1, 6 digits, 30 s
//! steps, one step either side) with ten single-use recovery codes, the replay rule, the
//! second-factor policy, and the enrol, remove and reset changes both doors make.
//!
//! The TOTP secret is stored in the database as base32 text, not sealed: the only key the portal
//! has (`server_keys`) lives in the same database, so sealing with it would hide nothing from a
//! database reader and only pretend to. Whoever can read the database can compute a user's codes
//! (as they can read every other row); the password is still needed, and the audit trail still
//! records each use. Recovery codes are 80 random bits each, so a SHA-256 digest is enough to
//! store them (as for tokens, `secret.rs`).
//!
//! Replay: each factor keeps the last step a code was accepted for; a code for that step or an
//! earlier one is refused, and the step moves up in the same transaction that starts the
//! session (`db::Claim`), so two tabs racing with one code start one session.

use anyhow::{Context, anyhow};
use totp_rs::{Builder, Secret};

use super::{Actor, Error, Result};
use crate::db::{AuditEntry, AuditEvent, Authed, Db, Factors, NewTotp, Session, TokenScope};
use crate::secret;

/// Seconds per TOTP step.
pub const STEP: i64 = 30;
/// How long the one-time code the CLI-login page hands duplo-jit with a token stays good.
pub const OTP_PROOF_SECS: i64 = 600;

/// Whether a token of this user answers `IsOtpNeeded` (docs/protocol.md §1): the policy covers
/// the user, or the user is an admin and admin vends need a second factor. Only admin calls
/// then want duplo-jit's one-time code (`Otpcode`), as duplo-jit asks for one only for admin
/// access; a user who is no admin is refused those calls anyway.
pub fn otp_needed(require_mfa: &str, admin_vends_need_mfa: bool, admin: bool) -> bool {
    Policy::stored(require_mfa).covers(admin) || (admin && admin_vends_need_mfa)
}

/// Whether `who`'s token answers `IsOtpNeeded` under the settings its own query read
/// ([`otp_needed`]).
pub fn token_needs_otp(who: &Authed) -> bool {
    otp_needed(&who.require_mfa, who.admin_vends_need_mfa, who.admin)
}

/// What a CLI-login page (the browser's, docs/protocol.md §2, and the device approval, §2.1)
/// says when admin access wants duplo-jit's one-time code and the session signed in without its
/// second factor.
pub const LOGIN_NEEDS_FACTOR: &str = "Admin access on this portal needs a sign-in with your \
     second factor: sign out, sign in again with your code, and run the command again.";

/// Whether a CLI login for `admin` access, approved by `session`, must come with duplo-jit's
/// one-time code: [`otp_needed`] under the stored settings. Such a login is approved only from a
/// session that used its second factor ([`LOGIN_NEEDS_FACTOR`] otherwise).
pub async fn login_needs_otp(db: &Db, session: &Session, admin: bool) -> Result<bool> {
    if !admin {
        return Ok(false);
    }
    let s = db.settings().await.map_err(unreadable)?;
    Ok(otp_needed(
        &s.require_mfa,
        s.admin_vends_need_mfa,
        session.admin,
    ))
}

/// The one-time code to hand over with a login token just minted, read back as `who`: for an
/// admin login whose token answers `IsOtpNeeded` and whose sign-in used the second factor;
/// None for any other (its admin calls are refused as without a code).
pub fn login_otp(key: &[u8; 32], who: &Authed, now: i64) -> anyhow::Result<Option<String>> {
    if who.scope == TokenScope::Admin && who.mfa && token_needs_otp(who) {
        Ok(Some(otp_proof(key, &who.token_id, now)?))
    } else {
        Ok(None)
    }
}

/// The sealing's associated data: the proof opens only for the token it was made for.
fn otp_aad(token_id: &str) -> String {
    format!("jit-otp-proof:{token_id}")
}

/// duplo-jit's one-time code for the login token `token_id` (docs/protocol.md §2): its expiry,
/// sealed with the server key and bound to the token. Nothing is stored: only the page that
/// mints the token makes one, so each token has exactly one, good for [`OTP_PROOF_SECS`].
pub fn otp_proof(key: &[u8; 32], token_id: &str, now: i64) -> anyhow::Result<String> {
    secret::seal(
        key,
        &otp_aad(token_id),
        &(now + OTP_PROOF_SECS).to_be_bytes(),
    )
}

/// Whether `proof` is the unexpired code made for the token `token_id`.
pub fn otp_proof_ok(key: &[u8; 32], token_id: &str, proof: &str, now: i64) -> bool {
    secret::open(key, &otp_aad(token_id), proof.trim())
        .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_slice()).ok())
        .is_some_and(|expiry| now < i64::from_be_bytes(expiry))
}

/// Recovery codes made at each enrolment.
pub const RECOVERY_CODES: usize = 10;
/// What an authenticator app shows beside the account.
const ISSUER: &str = "jit portal";

/// Who must sign in with a second factor (`jit portal set --require-mfa`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    None,
    Admins,
    All,
}

impl Policy {
    pub fn parse(text: &str) -> Option<Policy> {
        match text {
            "none" => Some(Policy::None),
            "admins" => Some(Policy::Admins),
            "all" => Some(Policy::All),
            _ => None,
        }
    }

    /// The stored value; an unknown one (never written) reads as the strictest.
    pub fn stored(text: &str) -> Policy {
        Policy::parse(text).unwrap_or(Policy::All)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Policy::None => "none",
            Policy::Admins => "admins",
            Policy::All => "all",
        }
    }

    /// Whether a user (admin or not) must have a second factor.
    pub fn covers(self, admin: bool) -> bool {
        match self {
            Policy::None => false,
            Policy::Admins => admin,
            Policy::All => true,
        }
    }
}

/// A new TOTP secret: 160 random bits (RFC 4226's recommendation), as base32.
pub fn new_secret() -> anyhow::Result<String> {
    Ok(Secret::from(secret::random::<20>()?.to_vec()).to_base32())
}

fn totp(secret_b32: &str, user: &str) -> anyhow::Result<totp_rs::Totp> {
    let bytes = Secret::try_from_base32(secret_b32).map_err(|e| anyhow!("bad TOTP secret: {e}"))?;
    Builder::new()
        .with_secret(bytes)
        .with_skew(0)
        .with_account_name(user.replace(':', "_"))
        .with_issuer(Some(ISSUER))
        .build()
        .map_err(|e| anyhow!("cannot make a TOTP: {e}"))
}

/// What the enrolment page shows: the secret to type, and the QR code of its `otpauth://` URL
/// as an inline SVG.
pub struct Enrolment {
    pub secret: String,
    pub svg: String,
}

pub fn enrolment(secret_b32: &str, user: &str) -> anyhow::Result<Enrolment> {
    let url = totp(secret_b32, user)?
        .to_url()
        .map_err(|e| anyhow!("cannot make the otpauth URL: {e}"))?;
    let code = qrcode::QrCode::new(url.as_bytes()).context("cannot make the QR code")?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build();
    // The renderer starts with an XML declaration, which has no place inside HTML.
    let svg = match svg.find("<svg") {
        Some(at) => svg[at..].to_string(),
        None => svg,
    };
    Ok(Enrolment {
        secret: secret_b32.to_string(),
        svg,
    })
}

/// Whether what was typed has the shape of a TOTP code (six digits, spaces allowed).
pub fn is_totp_code(code: &str) -> bool {
    let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit())
}

/// The step `code` is accepted for at `now`: one of the current step and its neighbours, and
/// later than `last_step` (the last one accepted), so no code is accepted twice.
pub fn accept(secret_b32: &str, code: &str, now: i64, last_step: i64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if !is_totp_code(&code) {
        return None;
    }
    let totp = totp(secret_b32, "x").ok()?;
    let origin = now.div_euclid(STEP);
    (origin - 1..=origin + 1)
        .filter(|step| *step > last_step && *step >= 0)
        .find(|step| {
            u64::try_from(step * STEP)
                .ok()
                .and_then(|t| totp.check(&code, t))
                .is_some()
        })
}

/// Ten new recovery codes, each 80 random bits as four groups of five hex digits.
pub fn new_recovery_codes() -> anyhow::Result<Vec<String>> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let hex = secret::hex(&secret::random::<10>()?);
            Ok(format!(
                "{}-{}-{}-{}",
                &hex[0..5],
                &hex[5..10],
                &hex[10..15],
                &hex[15..20]
            ))
        })
        .collect()
}

/// The stored digest of a recovery code as typed (any case, with or without dashes and
/// spaces); None for what cannot be one.
pub fn recovery_digest(code: &str) -> Option<String> {
    let plain: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (plain.len() == 20 && plain.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| secret::digest(&format!("recovery:{plain}")))
}

fn digests(codes: &[String]) -> Vec<String> {
    codes.iter().filter_map(|c| recovery_digest(c)).collect()
}

fn unreadable(e: anyhow::Error) -> Error {
    Error::Failed(e.context("portal state unreadable"))
}

/// Confirm an enrolment: `code` must be right for `secret_b32` now. Stores the factor with ten
/// new recovery codes and returns them (shown once). Refused when the user has a factor.
pub async fn enrol(
    db: &Db,
    user: &str,
    client: Option<String>,
    secret_b32: &str,
    code: &str,
    now: i64,
) -> Result<Vec<String>> {
    let step = accept(secret_b32, code, now, -1)
        .ok_or_else(|| Error::Invalid("That code is not right: try the next one".into()))?;
    let codes = new_recovery_codes()?;
    let digests = digests(&codes);
    let new = NewTotp {
        secret: secret_b32,
        step,
        recovery_digests: &digests,
    };
    let audit = enrol_audit(user, client);
    if !db.add_totp(user, &new, audit).await.map_err(unreadable)? {
        return Err(Error::Invalid(
            "You have a second factor already: remove it first".into(),
        ));
    }
    Ok(codes)
}

/// The audit row of an enrolment.
pub fn enrol_audit(user: &str, client: Option<String>) -> AuditEntry {
    let mut audit = AuditEntry::new(AuditEvent::MfaEnrol, user)
        .user(user)
        .detail(format!("totp, {RECOVERY_CODES} recovery codes"));
    audit.client = client;
    audit
}

/// An enrolment confirmed at sign-in (the policy asked for one): the step of the code and the
/// recovery codes to show, for `db::Claim::Enrol`.
pub fn confirm_at_sign_in(
    secret_b32: &str,
    code: &str,
    now: i64,
) -> Result<(i64, Vec<String>, Vec<String>)> {
    let step = accept(secret_b32, code, now, -1)
        .ok_or_else(|| Error::Invalid("That code is not right: try the next one".into()))?;
    let codes = new_recovery_codes()?;
    let digests = digests(&codes);
    Ok((step, codes, digests))
}

/// A user removes their own TOTP factor (and recovery codes), proven by a current code.
pub async fn remove(
    db: &Db,
    user: &str,
    client: Option<String>,
    code: &str,
    now: i64,
) -> Result<()> {
    let (secret, last) = db
        .totp_secret(user)
        .await
        .map_err(unreadable)?
        .ok_or_else(|| Error::NotFound("You have no second factor".into()))?;
    let Some(step) = accept(&secret, code, now, last) else {
        return Err(wrong_code(db, user, client, "removing totp").await);
    };
    let mut audit = AuditEntry::new(AuditEvent::MfaRemove, user)
        .user(user)
        .detail("totp and recovery codes");
    audit.client.clone_from(&client);
    if !db
        .remove_totp(user, step, audit)
        .await
        .map_err(unreadable)?
    {
        return Err(wrong_code(db, user, client, "removing totp").await);
    }
    Ok(())
}

/// A wrong (or replayed) code proving a factor's removal: an `mfa failed` row, as a wrong code
/// at sign-in writes, so the trail shows someone guessing; then the refusal.
pub(super) async fn wrong_code(db: &Db, user: &str, client: Option<String>, what: &str) -> Error {
    let mut audit = AuditEntry::new(AuditEvent::MfaFailed, user)
        .user(user)
        .detail(format!("{what}: wrong code"));
    audit.client = client;
    if let Err(e) = db.audit(&audit).await {
        return unreadable(e.context("cannot record the wrong code"));
    }
    Error::Invalid("That code is not right (or was used already)".into())
}

/// A user's second factors (`jit portal user mfa NAME`, the users page).
pub async fn factors(db: &Db, name: &str) -> Result<Factors> {
    if !db.user_exists(name).await.map_err(unreadable)? {
        return Err(Error::NotFound(format!(
            "no portal user '{}'",
            crate::log::escape(name)
        )));
    }
    Ok(db
        .all_factors()
        .await
        .map_err(unreadable)?
        .remove(name)
        .unwrap_or_default())
}

/// An admin removes every second factor of a user (a lost phone) and ends every session of
/// theirs, with the CLI tokens those minted: whoever held one signed in with the old factor.
/// Audited even when there was nothing to remove. Returns (factors removed, sessions ended).
pub async fn reset(db: &Db, actor: &Actor, name: &str) -> Result<(u64, u64)> {
    if !db.user_exists(name).await.map_err(unreadable)? {
        return Err(Error::NotFound(format!(
            "no portal user '{}'",
            crate::log::escape(name)
        )));
    }
    let audit = actor.audit(AuditEvent::MfaReset).user(name);
    Ok(db.reset_factors(name, audit).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B's SHA-1 secret, "12345678901234567890", as base32.
    const RFC: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    #[test]
    fn the_one_time_code_opens_only_for_its_token_and_until_it_expires() {
        let key = [7u8; 32];
        let proof = otp_proof(&key, "tok_a", 1000).expect("seal");
        assert!(otp_proof_ok(&key, "tok_a", &proof, 1000));
        assert!(otp_proof_ok(
            &key,
            "tok_a",
            &proof,
            1000 + OTP_PROOF_SECS - 1
        ));
        assert!(!otp_proof_ok(&key, "tok_a", &proof, 1000 + OTP_PROOF_SECS));
        assert!(!otp_proof_ok(&key, "tok_b", &proof, 1000));
        assert!(!otp_proof_ok(&[8u8; 32], "tok_a", &proof, 1000));
        assert!(!otp_proof_ok(&key, "tok_a", "123456", 1000));
    }

    #[test]
    fn is_otp_needed_follows_the_policy_and_admin_vends() {
        assert!(!otp_needed("none", false, true));
        assert!(otp_needed("admins", false, true));
        assert!(!otp_needed("admins", false, false));
        assert!(otp_needed("all", false, false));
        assert!(otp_needed("none", true, true));
        assert!(!otp_needed("none", true, false));
    }

    fn code_at(t: i64) -> String {
        totp(RFC, "x")
            .expect("totp")
            .generate(u64::try_from(t).expect("t"))
            .to_string()
    }

    #[test]
    fn the_rfc_vectors_pass() {
        // RFC 6238 B: 94287082 at 59 s (8 digits); the 6-digit code is its last six.
        assert_eq!(code_at(59), "287082");
        assert_eq!(code_at(1_111_111_109), "081804");
    }

    #[test]
    fn a_code_is_accepted_once_and_only_near_its_time() {
        let now = 1_111_111_109;
        let step = now / STEP;
        let code = code_at(now);
        assert_eq!(accept(RFC, &code, now, 0), Some(step));
        assert_eq!(accept(RFC, &code, now, step), None, "the same code again");
        assert_eq!(
            accept(RFC, &code, now, step + 1),
            None,
            "a later one was used"
        );
        assert_eq!(accept(RFC, &code, now + STEP, 0), Some(step), "a step late");
        assert_eq!(
            accept(RFC, &code, now - STEP, 0),
            Some(step),
            "a step early"
        );
        assert_eq!(accept(RFC, &code, now + 2 * STEP, 0), None, "too late");
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert_eq!(accept(RFC, &spaced, now, 0), Some(step));
        assert_eq!(accept(RFC, "12345", now, 0), None);
        assert_eq!(accept(RFC, "abcdef", now, 0), None);
    }

    #[test]
    fn recovery_codes_are_distinct_and_read_back_however_typed() {
        let codes = new_recovery_codes().expect("codes");
        assert_eq!(codes.len(), RECOVERY_CODES);
        let ds = digests(&codes);
        assert_eq!(ds.len(), RECOVERY_CODES);
        assert_eq!(
            ds.iter().collect::<std::collections::HashSet<_>>().len(),
            RECOVERY_CODES
        );
        let c = &codes[0];
        assert_eq!(recovery_digest(&c.to_uppercase()), Some(ds[0].clone()));
        assert_eq!(recovery_digest(&c.replace('-', " ")), Some(ds[0].clone()));
        assert!(!ds[0].contains(&c.replace('-', "")));
        assert_eq!(recovery_digest("123456"), None);
        assert_eq!(recovery_digest(&c[..c.len() - 1]), None);
    }

    #[test]
    fn the_enrolment_has_an_inline_svg_and_the_secret() {
        let e = enrolment(&new_secret().expect("secret"), "alice").expect("enrolment");
        assert!(e.svg.starts_with("<svg"), "{}", &e.svg[..40]);
        assert_eq!(e.secret.len(), 32);
    }

    #[test]
    fn the_policy_covers_whom_it_says() {
        assert!(!Policy::None.covers(true));
        assert!(Policy::Admins.covers(true) && !Policy::Admins.covers(false));
        assert!(Policy::All.covers(false));
        assert_eq!(Policy::stored("bogus"), Policy::All);
    }
}
