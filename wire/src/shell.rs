//! Every shell jit writes code for, and how each one quotes a value, sets and unsets a variable.
//! `jit env` and the portal's Temporary AWS Credentials page both speak through here, so there
//! is one quoting rule per shell.

/// A shell jit writes code for. bash and zsh share the POSIX syntax (`jit env --format sh`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

impl Shell {
    pub const ALL: [Shell; 4] = [Shell::Bash, Shell::Zsh, Shell::Fish, Shell::Powershell];

    pub fn name(self) -> &'static str {
        match self {
            Shell::Bash => "bash",
            Shell::Zsh => "zsh",
            Shell::Fish => "fish",
            Shell::Powershell => "powershell",
        }
    }

    /// `value` as one word (PowerShell: one expression) that evaluates to exactly `value`.
    pub fn quote(self, value: &str) -> String {
        match self {
            Shell::Bash | Shell::Zsh => posix_quote(value),
            Shell::Fish => fish_quote(value),
            Shell::Powershell => powershell_quote(value),
        }
    }

    /// A statement that exports `name` (a fixed identifier of ours) with `value`.
    pub fn set_env(self, name: &str, value: &str) -> String {
        let value = self.quote(value);
        match self {
            Shell::Bash | Shell::Zsh => format!("export {name}={value};\n"),
            Shell::Fish => format!("set -gx {name} {value};\n"),
            Shell::Powershell => format!("$Env:{name} = {value}\n"),
        }
    }

    /// A statement that removes `name`, whether or not it is set.
    pub fn unset_env(self, name: &str) -> String {
        match self {
            Shell::Bash | Shell::Zsh => format!("unset {name};\n"),
            // `set -e` of an unset variable fails with status 4, which would become jitnow's.
            Shell::Fish => format!("set -e {name}; or true;\n"),
            Shell::Powershell => {
                format!("Remove-Item -Path Env:{name} -ErrorAction SilentlyContinue\n")
            }
        }
    }

    /// A statement that removes `name` only while it still equals `mark`, the variable that
    /// records the value jit gave it: a value the user set is left alone.
    pub fn unset_env_if_marked(self, name: &str, mark: &str) -> String {
        match self {
            Shell::Bash | Shell::Zsh => format!(
                "if [ -n \"${{{mark}-}}\" ] && [ \"${{{name}-}}\" = \"${{{mark}}}\" ]; then unset {name}; fi;\n"
            ),
            Shell::Fish => format!(
                "if set -q {mark}; and test \"${name}\" = \"${mark}\"; set -e {name}; end;\n"
            ),
            Shell::Powershell => format!(
                "if ($Env:{mark} -and $Env:{name} -ceq $Env:{mark}) {{ Remove-Item -Path Env:{name} -ErrorAction SilentlyContinue }}\n"
            ),
        }
    }
}

/// Bytes no POSIX shell treats specially anywhere in a word (`=` and `~` are not among them: zsh
/// expands both at the start of an assignment's value).
fn posix_bare(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./:,+@%".contains(&b))
}

/// Single quotes end only at `'`: everything else, newlines and `\` included, is literal.
fn posix_quote(value: &str) -> String {
    if posix_bare(value) {
        return value.to_string();
    }
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// In fish's single quotes `\\` and `\'` are the only escapes.
fn fish_quote(value: &str) -> String {
    if posix_bare(value) {
        return value.to_string();
    }
    format!("'{}'", value.replace('\\', r"\\").replace('\'', r"\'"))
}

/// PowerShell ends a single-quoted string at any of these, and reads two in a row as the second.
const PS_QUOTES: [char; 5] = ['\'', '\u{2018}', '\u{2019}', '\u{201A}', '\u{201B}'];

/// Characters kept out of the literal so every statement stays on one line: `jitnow` reads
/// `jit env` output as lines, and PowerShell splits lines at CR as well as LF.
fn ps_outside_literal(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// A single-quoted literal with each quote character doubled; line breaks and other control
/// characters joined in as `[char]N`. It starts with a string, so `+` concatenates.
fn powershell_quote(value: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut literal = String::new();
    for c in value.chars() {
        if ps_outside_literal(c) {
            if !literal.is_empty() || parts.is_empty() {
                parts.push(format!("'{literal}'"));
                literal.clear();
            }
            parts.push(format!("[char]{}", u32::from(c)));
        } else {
            if PS_QUOTES.contains(&c) {
                literal.push(c);
            }
            literal.push(c);
        }
    }
    if !literal.is_empty() || parts.is_empty() {
        parts.push(format!("'{literal}'"));
    }
    parts.join(" + ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values a portal or a config file could send to break out of a quoted string (shared
    /// with the integration tests, which evaluate them in real shells).
    fn hostile() -> Vec<String> {
        serde_json::from_str(include_str!("../../tests/hostile.json")).expect("tests/hostile.json")
    }

    #[test]
    fn posix_quotes_braces_tilde_and_equals() {
        assert_eq!(posix_quote("ASIA{A,B}"), "'ASIA{A,B}'");
        assert_eq!(posix_quote("~root"), "'~root'");
        assert_eq!(posix_quote("=ls"), "'=ls'");
        assert_eq!(posix_quote(""), "''");
        assert_eq!(posix_quote("it's"), r"'it'\''s'");
        assert_eq!(posix_quote("us-west-2"), "us-west-2");
        assert_eq!(fish_quote(r"a\'b"), r"'a\\\'b'");
    }

    /// PowerShell's tokenizer, reduced to what `powershell_quote` emits: single-quoted literals
    /// (any of the five quote characters opens and closes one; two in a row stand for the
    /// second) and `[char]N`, joined by ` + `. Returns the string the expression evaluates to.
    fn ps_eval(expr: &str) -> Result<String, String> {
        let mut out = String::new();
        let mut chars = expr.chars().peekable();
        loop {
            match chars.next() {
                Some(q) if PS_QUOTES.contains(&q) => loop {
                    match chars.next() {
                        None => return Err(format!("unterminated string in {expr:?}")),
                        Some(c) if PS_QUOTES.contains(&c) => match chars.peek() {
                            Some(next) if PS_QUOTES.contains(next) => {
                                out.push(*next);
                                chars.next();
                            }
                            _ => break,
                        },
                        Some(c) => out.push(c),
                    }
                },
                Some('[') => {
                    let rest: String = chars.by_ref().take_while(|c| *c != ' ').collect();
                    let n = rest
                        .strip_prefix("char]")
                        .and_then(|n| n.parse::<u32>().ok())
                        .and_then(char::from_u32)
                        .ok_or_else(|| format!("bad [char] in {expr:?}"))?;
                    out.push(n);
                    if chars.peek().is_none() {
                        return Ok(out);
                    }
                    if chars.next() != Some('+') || chars.next() != Some(' ') {
                        return Err(format!("expected + in {expr:?}"));
                    }
                    continue;
                }
                other => return Err(format!("unexpected {other:?} in {expr:?}")),
            }
            match (chars.next(), chars.next(), chars.next()) {
                (None, _, _) => return Ok(out),
                (Some(' '), Some('+'), Some(' ')) => {}
                _ => return Err(format!("code after a string in {expr:?}")),
            }
        }
    }

    #[test]
    fn powershell_quoting_round_trips_by_its_tokenizer_rules() {
        for value in hostile() {
            let quoted = powershell_quote(&value);
            assert_eq!(ps_eval(&quoted), Ok(value), "{quoted}");
            assert!(!quoted.contains(['\n', '\r']), "one line: {quoted:?}");
            assert!(quoted.starts_with('\''), "starts with a string: {quoted}");
        }
        assert_eq!(powershell_quote("it\u{2019}s"), "'it\u{2019}\u{2019}s'");
        assert_eq!(powershell_quote("a\nb"), "'a' + [char]10 + 'b'");
        assert_eq!(powershell_quote("\n"), "'' + [char]10");
        // The old rule, doubling only ASCII quotes, lets U+2019 end the string: the check sees it.
        let naive = format!("'{}'", "\u{2019}; x".replace('\'', "''"));
        assert!(ps_eval(&naive).is_err(), "{naive}");
    }

    proptest::proptest! {
        #[test]
        fn powershell_quoting_round_trips_anything(value in "\\PC*|[\u{2018}-\u{201B}'\n\r`$ ]{0,12}") {
            proptest::prop_assert_eq!(ps_eval(&powershell_quote(&value)), Ok(value));
        }
    }

    #[test]
    fn statements_per_shell() {
        assert_eq!(Shell::Zsh.set_env("K", "a b"), "export K='a b';\n");
        assert_eq!(Shell::Fish.set_env("K", "a b"), "set -gx K 'a b';\n");
        assert_eq!(Shell::Powershell.set_env("K", "a b"), "$Env:K = 'a b'\n");
        assert_eq!(Shell::Bash.unset_env("K"), "unset K;\n");
        assert_eq!(Shell::Fish.unset_env("K"), "set -e K; or true;\n");
        assert_eq!(
            Shell::Powershell.unset_env("K"),
            "Remove-Item -Path Env:K -ErrorAction SilentlyContinue\n"
        );
    }
}
