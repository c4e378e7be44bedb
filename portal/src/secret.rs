//! Tokens and ids: random, and stored only as digests. A token is 256 random bits, so a fast
//! digest is enough; nobody can guess one to look it up. And sealed values: what the portal
//! hands a browser to keep for it (a single sign-on login under way, a browser it knows),
//! encrypted and authenticated with a server key (XChaCha20-Poly1305, a random nonce each), so
//! the browser can neither read nor change it.

use anyhow::{Result, anyhow};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `N` bytes from lowercase or uppercase hex, exactly.
pub fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != N * 2 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(out)
}

/// `msg` sealed with `key` for the purpose `aad` (a value sealed for one purpose does not open
/// for another): base64url of nonce and ciphertext, safe in a cookie.
pub fn seal(key: &[u8; 32], aad: &str, msg: &[u8]) -> Result<String> {
    let nonce = random::<24>()?;
    let cipher = XChaCha20Poly1305::new(Key::from_slice(key));
    let sealed = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg,
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| anyhow!("cannot seal a value"))?;
    let mut out = nonce.to_vec();
    out.extend(sealed);
    Ok(URL_SAFE_NO_PAD.encode(out))
}

/// What `seal` sealed with `key` for `aad`; None for anything else (changed, another key,
/// another purpose, not base64).
pub fn open(key: &[u8; 32], aad: &str, sealed: &str) -> Option<Vec<u8>> {
    let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
    if bytes.len() < 24 + 16 {
        return None;
    }
    let (nonce, ciphertext) = bytes.split_at(24);
    XChaCha20Poly1305::new(Key::from_slice(key))
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: aad.as_bytes(),
            },
        )
        .ok()
}

pub fn random<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| anyhow!("cannot get random bytes: {e}"))?;
    Ok(bytes)
}

pub fn digest(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

pub fn new_token() -> Result<String> {
    Ok(format!("jit_{}", hex(&random::<32>()?)))
}

/// A public handle for a token (`tok_...`), safe to show and log.
pub fn new_id(prefix: &str) -> Result<String> {
    Ok(format!("{prefix}{}", hex(&random::<8>()?)))
}

pub fn new_tenant_id() -> Result<String> {
    Ok(hex(&random::<16>()?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_are_random_and_digests_hide_them() {
        let a = super::new_token().expect("token");
        let b = super::new_token().expect("token");
        assert_ne!(a, b);
        assert_eq!(super::digest(&a).len(), 64);
        assert!(!super::digest(&a).contains(&a[4..]));
        assert_eq!(super::new_tenant_id().expect("id").len(), 32);
    }

    #[test]
    fn a_sealed_value_opens_only_with_its_key_and_purpose_and_unchanged() {
        let key = [7u8; 32];
        let sealed = super::seal(&key, "oidc", b"verifier").expect("seal");
        assert!(!sealed.contains("verifier"));
        assert_ne!(
            sealed,
            super::seal(&key, "oidc", b"verifier").expect("seal")
        );
        assert_eq!(
            super::open(&key, "oidc", &sealed).as_deref(),
            Some(&b"verifier"[..])
        );
        assert_eq!(super::open(&[8u8; 32], "oidc", &sealed), None);
        assert_eq!(super::open(&key, "device", &sealed), None);
        let mut changed = sealed.into_bytes();
        let last = changed.len() - 1;
        changed[last] = if changed[last] == b'A' { b'B' } else { b'A' };
        let changed = String::from_utf8(changed).expect("ascii");
        assert_eq!(super::open(&key, "oidc", &changed), None);
        assert_eq!(super::open(&key, "oidc", "short"), None);
        assert_eq!(super::open(&key, "oidc", "not base64!"), None);
    }

    #[test]
    fn hex_goes_both_ways_and_refuses_the_wrong_length() {
        let bytes = [0u8, 1, 0xab, 0xff];
        assert_eq!(super::unhex::<4>(&super::hex(&bytes)), Some(bytes));
        assert_eq!(super::unhex::<4>("00ff"), None);
        assert_eq!(super::unhex::<2>("zz00"), None);
        assert_eq!(super::unhex::<2>("\u{e9}0"), None);
    }
}
