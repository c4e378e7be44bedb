//! Durations as people type and read them (`45m`, `2h`, `1h30m`, `900s`), for `--min-ttl` and
//! for saying how long credentials have left.

use jiff::SignedDuration;

/// `45m`, `2h`, `900s`, `1h30m`, `1d`; a bare number is seconds. Zero and negatives are refused.
pub fn parse(text: &str) -> Result<SignedDuration, String> {
    let text = text.trim();
    let invalid = || {
        format!("invalid duration '{text}': use a number with s, m, h or d, like 45m, 2h or 900s")
    };
    if text.is_empty() {
        return Err(invalid());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return seconds(text.parse::<i64>().map_err(|_| invalid())?).ok_or_else(invalid);
    }
    let mut total: i64 = 0;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(invalid()),
        };
        let n: i64 = digits.parse().map_err(|_| invalid())?;
        digits.clear();
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(invalid)?;
    }
    if !digits.is_empty() {
        return Err(invalid());
    }
    seconds(total).ok_or_else(invalid)
}

fn seconds(n: i64) -> Option<SignedDuration> {
    // A year is far beyond any session a portal hands out; it keeps the arithmetic safe.
    (1..=366 * 86_400)
        .contains(&n)
        .then(|| SignedDuration::from_secs(n))
}

/// `1h`, `59m 59s`, `45m`, `30s`: rounded to the second, zero units left out.
pub fn human(d: SignedDuration) -> String {
    let secs = (d.as_millis() + 500).div_euclid(1000).max(0);
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let parts: Vec<String> = [(h, "h"), (m, "m"), (s, "s")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    if parts.is_empty() {
        "0s".into()
    } else {
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_people_type() {
        let secs = |t: &str| parse(t).map(|d| d.as_secs());
        assert_eq!(secs("45m"), Ok(2700));
        assert_eq!(secs("2h"), Ok(7200));
        assert_eq!(secs("900s"), Ok(900));
        assert_eq!(secs("900"), Ok(900));
        assert_eq!(secs("1h30m"), Ok(5400));
        assert_eq!(secs(" 1d "), Ok(86_400));
        for bad in [
            "",
            "0",
            "0m",
            "m",
            "45x",
            "1.5h",
            "-5m",
            "h1",
            "45m3",
            "99999999999999999999s",
            "400d",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn prints_rounded_units() {
        let ms = SignedDuration::from_millis;
        assert_eq!(human(ms(3_599_600)), "1h");
        assert_eq!(human(ms(3_599_000)), "59m 59s");
        assert_eq!(human(ms(5_430_000)), "1h 30m 30s");
        assert_eq!(human(ms(29_900)), "30s");
        assert_eq!(human(ms(-5_000)), "0s");
    }
}
