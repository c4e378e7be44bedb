//! What of outside text may be echoed to stderr or into the cache's failure records: secret
//! values blanked whatever the key's spelling or the body's shape (JSON, JSON inside a JSON
//! string, cut off, not JSON at all), in time linear in the text, and a few hundred characters
//! at most.

use serde_json::Value;

const REDACTED: &str = "<redacted>";

/// Characters of a body shown in an error.
const SHOWN: usize = 300;

/// JSON inside a JSON string inside ...: levels unwrapped before treating the rest as text.
const DEPTH: u8 = 4;

/// Whether a key names a secret, compared lowercased with `_` and `-` dropped, so that
/// `SessionToken`, `sessionToken`, `session_token` and `SESSION-TOKEN` are one key.
fn is_secret_key(key: &str) -> bool {
    const EXACT: &[&str] = &["otp", "otpcode", "accesskeyid", "consoleurl"];
    const WITHIN: &[&str] = &[
        "token",
        "secret",
        "password",
        "credential",
        "signin",
        "sessionkey",
        "apikey",
        "privatekey",
        "authorization",
        "cookie",
    ];
    let key: String = key
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    EXACT.contains(&key.as_str()) || WITHIN.iter().any(|w| key.contains(w))
}

/// A portal body fit for an error message: secrets blanked, cut short, on one line.
pub fn body(text: &str) -> String {
    shorten(&scrub_str(text.trim(), DEPTH))
}

/// A serde_json error by category and position only: its message can quote the input.
pub fn json_error(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Eof => "cut off",
        serde_json::error::Category::Data => "unexpected type or value",
        serde_json::error::Category::Io => "read error",
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

/// Remove literal secrets (the token we sent) from text about to reach stderr.
pub fn literal(text: &str, secrets: &[&str]) -> String {
    secrets
        .iter()
        .filter(|s| s.len() >= 4)
        .fold(text.to_string(), |acc, s| acc.replace(s, REDACTED))
}

/// A string that may hold JSON, JSON encoded again as a JSON string, or plain text.
fn scrub_str(text: &str, depth: u8) -> String {
    if depth > 0
        && let Ok(mut value) = serde_json::from_str::<Value>(text)
    {
        scrub_value(&mut value, depth - 1);
        return value.to_string();
    }
    scrub_text(text)
}

fn scrub_value(value: &mut Value, depth: u8) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if is_secret_key(k) {
                    *v = Value::String(REDACTED.into());
                } else {
                    scrub_value(v, depth);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| scrub_value(v, depth)),
        Value::String(s) => *s = scrub_str(s, depth),
        _ => {}
    }
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Text that is not JSON (cut off, HTML, a query string, JSON inside a cut-off string): blank
/// the value after every secret-named key, in one pass.
fn scrub_text(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len().min(1 << 16));
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if !is_key_byte(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_key_byte(bytes[i]) {
            i += 1;
        }
        // Spans start and end on ASCII bytes, which are always char boundaries.
        if is_secret_key(&text[start..i])
            && let Some((from, to)) = value_after_key(bytes, i)
        {
            out.push_str(&text[copied..from]);
            out.push_str(REDACTED);
            copied = to;
            i = to;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// How many `byte`s in a row start at `at`.
fn run_of(bytes: &[u8], at: usize, byte: u8) -> usize {
    bytes[at.min(bytes.len())..]
        .iter()
        .take_while(|b| **b == byte)
        .count()
}

fn skip_space(bytes: &[u8], at: usize) -> usize {
    at + bytes[at.min(bytes.len())..]
        .iter()
        .take_while(|b| b.is_ascii_whitespace())
        .count()
}

/// The span of the value after a key that ends at `at`: `"k": "v"`, `\"k\":\"v\"` (nested),
/// `k=v`, `<k>v<`. A quoted value ends at a quote escaped no more than the key's own quotes;
/// a more escaped one belongs to the value, so a doubt blanks more, never less.
fn value_after_key(bytes: &[u8], mut at: usize) -> Option<(usize, usize)> {
    let key_escapes = run_of(bytes, at, b'\\');
    let escapes = if bytes.get(at + key_escapes) == Some(&b'"') {
        at += key_escapes + 1;
        key_escapes
    } else {
        0
    };
    at = skip_space(bytes, at);
    if !matches!(bytes.get(at), Some(b':' | b'=' | b'>')) {
        return None;
    }
    at = skip_space(bytes, at + 1);
    let open = run_of(bytes, at, b'\\');
    if bytes.get(at + open) == Some(&b'"') {
        let start = at + open + 1;
        let mut slashes = 0;
        for (j, b) in bytes.iter().enumerate().skip(start) {
            match b {
                b'\\' => slashes += 1,
                b'"' if slashes <= escapes => return Some((start, j - slashes)),
                _ => slashes = 0,
            }
        }
        return Some((start, bytes.len()));
    }
    let len = bytes[at.min(bytes.len())..]
        .iter()
        .take_while(|b| {
            !b.is_ascii_whitespace()
                && !matches!(b, b',' | b'}' | b']' | b'&' | b';' | b'<' | b'"' | b'\\')
        })
        .count();
    (len > 0).then_some((at, at + len))
}

/// At most `SHOWN` characters, control characters (newlines, terminal escapes) made spaces.
fn shorten(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(SHOWN)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if s.chars().nth(SHOWN).is_some() {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_secrets_are_redacted_and_rest_kept() {
        let out = body(
            r#"{"Message":"boom","SessionToken":"SECRETTOKEN","nested":[{"SecretAccessKey":"S3"}]}"#,
        );
        assert!(out.contains("boom"), "{out}");
        assert!(
            !out.contains("SECRETTOKEN") && !out.contains("S3\""),
            "{out}"
        );
    }

    #[test]
    fn cut_off_json_is_scrubbed_too() {
        let out =
            body(r#"{"AccessKeyId":"AKIA","SecretAccessKey" : "abc\"def","SessionToken":"tok"#);
        assert!(
            !out.contains("AKIA") && !out.contains("def") && !out.contains("tok"),
            "{out}"
        );
        assert_eq!(out.matches(REDACTED).count(), 3, "{out}");
    }

    #[test]
    fn any_key_spelling_and_any_nesting() {
        for key in [
            "sessionToken",
            "session_token",
            "SESSION-TOKEN",
            "secretAccessKey",
            "x-amz-security-token",
        ] {
            let inner = format!(r#"{{"message":"boom","{key}":"S3CR3T"}}"#);
            let once = Value::String(inner.clone()).to_string();
            let twice = Value::String(once.clone()).to_string();
            let cut = &inner[..inner.len() - 2];
            let cut_once = Value::String(cut.to_string()).to_string();
            for text in [
                &inner,
                &once,
                &twice,
                cut,
                &cut_once,
                &format!("{key}=S3CR3T&x=1"),
            ] {
                let out = body(text);
                assert!(!out.contains("S3CR3T"), "{text} -> {out}");
            }
            assert!(body(&twice).contains("boom"));
        }
        let xml = "<Error><SessionToken>S3CR3T</SessionToken></Error>";
        assert!(!body(xml).contains("S3CR3T"), "{}", body(xml));
    }

    #[test]
    fn long_plain_bodies_are_cut_on_a_char_boundary_and_one_line() {
        let out = body(&"é\n".repeat(400));
        assert!(
            out.ends_with("...") && out.chars().count() == SHOWN + 3,
            "{out}"
        );
        assert!(!out.contains('\n'));
    }

    /// The old scrubber rescanned the text after every match: a 6 MB body took 10.8 s.
    #[test]
    fn a_mebibyte_of_secret_keys_is_one_pass() {
        let text = r#""SessionToken" : "S3CR3T", "#.repeat(40_000);
        let out = scrub_text(&text);
        assert_eq!(out.matches(REDACTED).count(), 40_000);
        assert!(!out.contains("S3CR3T"));
    }

    #[test]
    fn json_errors_never_quote_the_input() {
        let e = serde_json::from_str::<u8>(r#""S3CR3T""#).expect_err("a string is no u8");
        assert!(e.to_string().contains("S3CR3T"), "serde quotes it: {e}");
        assert_eq!(
            json_error(&e),
            "unexpected type or value at line 1 column 8"
        );
    }
}
