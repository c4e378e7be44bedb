//! Tokens and ids: random, and stored only as digests. A token is 256 random bits, so a fast
//! digest is enough; nobody can guess one to look it up.

use anyhow::{Result, anyhow};
use sha2::{Digest, Sha256};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn random<const N: usize>() -> Result<[u8; N]> {
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
}
