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
        Shell::Fish => (FISH, format!("'{}'", exe.replace('\\', "\\\\").replace('\'', "\\'"))),
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
