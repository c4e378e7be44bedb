//! The `jit` CLI as a library: the binary in `src/main.rs` drives it, and the `jit-portal`
//! crate shares nothing with it but the contract crate, `jit-wire`.

pub mod api;
pub mod argv;
pub mod atomic;
pub mod browser;
pub mod cache;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod console;
pub mod creds;
pub mod credserver;
pub mod device;
pub mod duration;
pub mod envvars;
#[cfg(test)]
mod fuzz;
pub mod handoff;
pub mod host;
pub mod http;
pub mod k8s;
pub mod kubeconfig;
pub mod limit;
pub mod listener;
pub mod login;
pub mod model;
pub mod output;
pub mod peer;
pub mod redact;
pub mod shell;
pub mod supervise;
pub mod trust;

/// The version and the commit it was built from (build.rs), as `jit version` and `--version` say.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("JIT_BUILD_COMMIT"),
    ")"
);

/// The variable that asks jit for completions. Not clap's default `COMPLETE`: an unrelated
/// setting of that name must never turn a `credential_process` call into a completion script.
pub const COMPLETE_VAR: &str = "JIT_COMPLETE";
