//! `jit init`: the shell hooks are real script files under `shell/`, embedded at build time.

use crate::cli::Shell;

const BASH: &str = include_str!("../shell/jit.bash");
const ZSH: &str = include_str!("../shell/jit.zsh");
const FISH: &str = include_str!("../shell/jit.fish");
const POWERSHELL: &str = include_str!("../shell/jit.ps1");

/// The one placeholder every script has for the path of this binary.
const PLACEHOLDER: &str = "{{jit}}";

pub fn script(shell: Shell, exe: &str, prompt: bool) -> String {
    let (template, quoted) = match shell {
        Shell::Bash => (BASH, shell_words::quote(exe).into_owned()),
        Shell::Zsh => (ZSH, shell_words::quote(exe).into_owned()),
        Shell::Fish => (
            FISH,
            format!("'{}'", exe.replace('\\', "\\\\").replace('\'', "\\'")),
        ),
        Shell::Powershell => (POWERSHELL, format!("'{}'", exe.replace('\'', "''"))),
    };
    let mut out = template.replace(PLACEHOLDER, &quoted);
    if !prompt {
        let off = match shell {
            Shell::Fish => "set -g JIT_PROMPT 0\n",
            Shell::Powershell => "$Global:JIT_PROMPT = '0'\n",
            _ => "JIT_PROMPT=0\n",
        };
        out.insert_str(0, off);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXE: &str = "/opt/jit tools/bin/jit";

    #[test]
    fn hooks_snapshot() {
        insta::assert_snapshot!("bash", script(Shell::Bash, EXE, true));
        insta::assert_snapshot!("zsh", script(Shell::Zsh, EXE, true));
        insta::assert_snapshot!("fish", script(Shell::Fish, EXE, true));
        insta::assert_snapshot!("powershell", script(Shell::Powershell, EXE, true));
    }

    #[test]
    fn exe_path_is_quoted_per_shell_and_prompt_can_be_off() {
        assert!(script(Shell::Bash, "/a b/it's", true).contains("__jit_bin='/a b/it'\\''s'\n"));
        assert!(
            script(Shell::Fish, "/a b/it's", true).contains("set -g __jit_bin '/a b/it\\'s'\n")
        );
        assert!(
            script(Shell::Powershell, "C:\\it's", true)
                .contains("$Global:__jit_bin = 'C:\\it''s'\n")
        );
        assert!(script(Shell::Zsh, EXE, false).starts_with("JIT_PROMPT=0\n"));
        assert!(!script(Shell::Zsh, EXE, true).contains(PLACEHOLDER));
    }
}
