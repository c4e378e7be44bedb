//! What the admin commands say to the person at the terminal: machine output on stdout (a
//! closed pipe is an error `main` maps to exit 0), one-line status and errors on stderr. The
//! server's own log is `log`.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static VERBOSE: AtomicBool = AtomicBool::new(false);

/// `JIT_VERBOSE` set and not `0`: debug lines on stderr.
pub fn set_verbose_from_env() {
    let on = std::env::var("JIT_VERBOSE").is_ok_and(|v| !v.is_empty() && v != "0");
    VERBOSE.store(on, Ordering::Relaxed);
}

/// Debug line on stderr, only with `JIT_VERBOSE`. Callers must never pass a secret.
pub fn debug(msg: impl FnOnce() -> String) {
    if VERBOSE.load(Ordering::Relaxed) {
        eprintln!("jit: debug: {}", msg());
    }
}

/// A status line for the person at the terminal (`jit: saved ...`).
pub fn status(msg: impl std::fmt::Display) {
    eprintln!("jit: {msg}");
}

/// The one error line `main` prints before exiting non-zero.
pub fn error(err: &anyhow::Error) {
    eprintln!("jit: {err:#}");
}

/// One line on stdout, flushed, so a closed pipe surfaces now.
pub fn print_line(line: &str) -> anyhow::Result<()> {
    print_raw(&format!("{line}\n"))
}

pub fn print_raw(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
