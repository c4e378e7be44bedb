//! Time on the wire: RFC 3339 in UTC to the second with a `Z`, as duplo-jit prints `Expiration`
//! and as kubectl reads `expirationTimestamp`.

use jiff::Timestamp;

/// `ts` as `2026-02-27T19:04:05Z`.
pub fn rfc3339(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `#[serde(with = "jit_wire::time::rfc3339_secs")]` for a `Timestamp` field.
pub mod rfc3339_secs {
    use jiff::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(ts: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::rfc3339(*ts))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let raw = String::deserialize(d)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn fractions_are_dropped_and_utc_is_z() {
        let ts: jiff::Timestamp = "2026-02-27T21:04:05.987+02:00".parse().expect("ts");
        assert_eq!(super::rfc3339(ts), "2026-02-27T19:04:05Z");
    }
}
