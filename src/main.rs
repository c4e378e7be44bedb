//! Entry point: parse the command line, run the command, turn the outcome into an exit code.

mod api;
mod argv;
mod atomic;
mod cache;
mod cli;
mod cmd;
mod config;
mod console;
mod creds;
mod credserver;
mod duration;
mod envvars;
#[cfg(test)]
mod fuzz;
mod host;
mod login;
mod model;
mod output;
mod server;
mod shell;
mod supervise;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

/// The variable that asks jit for completions. Not clap's default `COMPLETE`: an unrelated
/// setting of that name must never turn a `credential_process` call into a completion script.
pub const COMPLETE_VAR: &str = "JIT_COMPLETE";

fn main() -> ExitCode {
    let completing = clap_complete::CompleteEnv::with_factory(cli::Cli::command)
        .var(COMPLETE_VAR)
        .try_complete(std::env::args_os(), std::env::current_dir().ok().as_deref());
    match completing {
        Ok(true) => return ExitCode::SUCCESS,
        Ok(false) => {}
        Err(e) => return clap_exit(&e),
    }
    let cli =
        match cli::Cli::try_parse_from(argv::normalize(std::env::args_os(), cli::Cli::command)) {
            Ok(cli) => cli,
            Err(e) => return clap_exit(&e),
        };
    output::set_verbose(
        cli.verbose || std::env::var("JIT_VERBOSE").is_ok_and(|v| !v.is_empty() && v != "0"),
    );
    match cmd::run(cli.command) {
        Ok(code) => code,
        Err(err) if output::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            output::error(&err);
            ExitCode::from(model::ExitError::code_of(&err))
        }
    }
}

/// Print clap's own message (help and version on stdout, errors on stderr) and its exit code.
fn clap_exit(err: &clap::Error) -> ExitCode {
    // Printing can only fail on a closed stream, and there is no one left to tell then.
    let _ = err.print();
    ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2))
}
