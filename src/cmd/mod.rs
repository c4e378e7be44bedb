//! One module per subcommand, each with a `run`; `select` turns flags and environments into a target.

mod aws;
mod clear_cache;
mod completions;
mod config;
mod console;
mod duplo;
mod env;
mod exec;
mod init;
mod k8s;
mod kubeconfig;
mod login;
mod ls;
mod portal;
mod request;
mod select;
mod sync;

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::Command;
pub use select::{select, target, target_for};

pub fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Aws(args) => aws::run(args),
        Command::Duplo(args) => duplo::run(args),
        Command::K8s(args) => k8s::run(args),
        Command::Kubeconfig(args) => kubeconfig::run(args),
        Command::Exec(args) => exec::run(args),
        Command::Env(args) => env::run(args),
        Command::Console(args) => console::run(args),
        Command::Ls(args) => ls::run(args),
        Command::Config(args) => config::run(args),
        Command::Init(args) => init::run(args),
        Command::Completions(args) => completions::run(args),
        Command::Portal(args) => portal::run(args),
        Command::Login(args) => login::run(args),
        Command::Request(args) => request::run(args),
        Command::ClearCache(args) => clear_cache::run(args),
        Command::Version => {
            crate::output::print_line(&format!("jit version {}", crate::VERSION))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub use crate::model::UsageError;
