//! `jit-portal` (also run as `jit portal`): a self-hostable JIT access portal that speaks the
//! commercial portal's API (docs/protocol.md §1-2) and vends credentials from STS AssumeRole.
//! Entry point: parse, run, turn the outcome into an exit code.

mod api;
mod aws;
mod cli;
mod cmd;
mod db;
mod domain;
mod log;
mod metrics;
mod net;
mod notify;
mod output;
mod password;
mod router;
mod secret;
mod sso;
mod state;
mod stream;
mod web;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Printing can only fail on a closed stream, and there is no one left to tell then.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let verbose = std::env::var("JIT_VERBOSE").is_ok_and(|v| !v.is_empty() && v != "0");
    let (format, statements) = match &cli.command {
        cli::Command::Serve(args) => (args.log_format, args.metrics_listen.is_some()),
        _ => (log::LogFormat::Text, false),
    };
    log::init(format, verbose, statements);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            crate::output::error(&anyhow::anyhow!("cannot start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cmd::run(cli)) {
        Ok(code) => code,
        Err(err) if crate::output::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) if log::is_json() => {
            tracing::error!("{}", crate::log::escape(&format!("{err:#}")));
            ExitCode::FAILURE
        }
        Err(err) => {
            crate::output::error(&err);
            ExitCode::FAILURE
        }
    }
}
