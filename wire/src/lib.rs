//! The contract between `jit` and `jit-portal` (docs/protocol.md): every body, path and name the
//! two sides exchange, plus what both must build the same way (console sign-in URLs, shell
//! quoting, time formats). Pure data and pure functions: no I/O, so either side can link it
//! without the other's dependencies.

pub mod access;
pub mod api;
pub mod console;
pub mod device;
pub mod login;
pub mod paths;
pub mod shell;
pub mod time;
