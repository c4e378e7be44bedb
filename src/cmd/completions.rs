//! `jit completions <shell>`: clap_complete's registration script, which asks jit itself for
//! candidates so environment names come from the local config.

use std::process::ExitCode;

use anyhow::{Result, anyhow};

use crate::cli::CompletionsArgs;
use crate::shell::Shell;

/// clap_complete's zsh script is made to be sourced. Installed on `$fpath` as `_jit`, zsh
/// autoloads it on the first Tab and runs it as the completion function: it would only register
/// the real one then, and that Tab would complete nothing. So, when autoloaded, complete now.
const ZSH_AUTOLOAD: &str = "
# Autoloaded from $fpath as _jit: complete this Tab too, not only the next ones.
if [[ ${funcstack[1]-} == _jit ]]; then
    _clap_dynamic_completer_jit \"$@\"
fi
";

pub fn run(args: CompletionsArgs) -> Result<ExitCode> {
    let name = args.shell.0.name();
    let shells = clap_complete::env::Shells::builtins();
    let completer = shells
        .completer(name)
        .ok_or_else(|| anyhow!("no completer for {name}"))?;
    let mut buf = Vec::new();
    completer.write_registration(crate::COMPLETE_VAR, "jit", "jit", "jit", &mut buf)?;
    let mut script = String::from_utf8_lossy(&buf).into_owned();
    if args.shell.0 == Shell::Zsh {
        script.push_str(ZSH_AUTOLOAD);
    }
    crate::output::print_raw(&script)?;
    Ok(ExitCode::SUCCESS)
}
