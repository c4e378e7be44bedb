//! Entry point: parse the command line, run the command, turn the outcome into an exit code.

mod argv;
mod atomic;
mod cache;
mod cli;
mod cmd;
mod config;
mod console;
mod creds;
mod envvars;
#[cfg(test)]
mod fuzz;
mod host;
mod login;
mod output;
mod portal;
mod server;
mod shell;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

fn main() -> ExitCode {
    clap_complete::CompleteEnv::with_factory(cli::Cli::command).complete();
    let cli = cli::Cli::parse_from(argv::normalize(std::env::args_os(), cli::Cli::command));
    output::set_verbose(
        cli.verbose || std::env::var("JIT_VERBOSE").is_ok_and(|v| !v.is_empty() && v != "0"),
    );
    match cmd::run(cli.command) {
        Ok(code) => code,
        Err(err) if output::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("jit: {err:#}");
            if err.downcast_ref::<cmd::UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
