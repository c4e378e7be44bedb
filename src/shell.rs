//! The `jit init` hook per shell: the scripts under `shell/`, embedded at build time, with the
//! path of this binary quoted by the contract's one quoting rule per shell (`jit_wire::shell`).

pub use jit_wire::shell::Shell;

const BASH: &str = include_str!("../shell/jit.bash");
const ZSH: &str = include_str!("../shell/jit.zsh");
const FISH: &str = include_str!("../shell/jit.fish");
const POWERSHELL: &str = include_str!("../shell/jit.ps1");

/// The one placeholder every script has for the path of this binary.
const PLACEHOLDER: &str = "{{jit}}";

/// The `jit init` hook: `jitnow`, `jitoff` and, unless `prompt` is false, the indicator.
pub fn hook(shell: Shell, exe: &str, prompt: bool) -> String {
    let template = match shell {
        Shell::Bash => BASH,
        Shell::Zsh => ZSH,
        Shell::Fish => FISH,
        Shell::Powershell => POWERSHELL,
    };
    let mut out = template.replace(PLACEHOLDER, &shell.quote(exe));
    if !prompt {
        let off = match shell {
            Shell::Fish => "set -g JIT_PROMPT 0\n",
            Shell::Powershell => "$Global:JIT_PROMPT = '0'\n",
            Shell::Bash | Shell::Zsh => "JIT_PROMPT=0\n",
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
        insta::assert_snapshot!("bash", hook(Shell::Bash, EXE, true));
        insta::assert_snapshot!("zsh", hook(Shell::Zsh, EXE, true));
        insta::assert_snapshot!("fish", hook(Shell::Fish, EXE, true));
        insta::assert_snapshot!("powershell", hook(Shell::Powershell, EXE, true));
    }

    #[test]
    fn exe_path_is_quoted_per_shell_and_prompt_can_be_off() {
        assert!(hook(Shell::Bash, "/a b/it's", true).contains("__jit_bin='/a b/it'\\''s'\n"));
        assert!(hook(Shell::Fish, "/a b/it's", true).contains("set -g __jit_bin '/a b/it\\'s'\n"));
        assert!(
            hook(Shell::Powershell, "C:\\it's", true).contains("$Global:__jit_bin = 'C:\\it''s'\n")
        );
        assert!(hook(Shell::Zsh, EXE, false).starts_with("JIT_PROMPT=0\n"));
        for shell in Shell::ALL {
            assert!(!hook(shell, EXE, true).contains(PLACEHOLDER), "{shell:?}");
        }
    }
}
