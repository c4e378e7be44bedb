//! The server's log on stderr, one event per line. Anything a client or an admin chose (paths,
//! names) is escaped, so a request can neither forge a log line nor send terminal escapes.

use std::fmt::Write;

/// `s` with control characters, backslashes and quotes spelled out (`\n`, `\x1b`, `\u{85}`).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 && c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            // C1 controls, and the Unicode line and paragraph separators and bidi overrides that
            // some terminals and viewers honour.
            c if c.is_control()
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') =>
            {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// A line of the server's log. Callers pass only text that is no secret; `escape` what a
/// client could have chosen.
pub fn line(msg: impl std::fmt::Display) {
    eprintln!("jit portal: {msg}");
}

/// A failure inside the portal, in full and escaped: `what` and the error's whole chain.
pub fn failure(what: &str, e: &anyhow::Error) {
    line(format_args!("{what}: {}", escape(&format!("{e:#}"))));
}

/// A status line for the person at the terminal (`jit: saved ...`).
pub fn status(msg: impl std::fmt::Display) {
    crate::output::status(msg);
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn control_characters_cannot_forge_lines_or_drive_the_terminal() {
        assert_eq!(escape("/ok/path"), "/ok/path");
        assert_eq!(
            escape("/x\njit portal: GET /admin 200 root"),
            "/x\\njit portal: GET /admin 200 root"
        );
        assert_eq!(escape("\x1b[2J\x07\r"), "\\x1b[2J\\x07\\r");
        assert_eq!(
            escape("a\u{85}b\u{2028}c\u{202e}"),
            "a\\u{85}b\\u{2028}c\\u{202e}"
        );
        assert_eq!(escape("back\\slash \"q\""), "back\\\\slash \\\"q\\\"");
        assert!(!escape("\u{7f}").contains('\u{7f}'));
    }
}
