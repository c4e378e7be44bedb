//! Stdout carries machine output only; stderr carries one-line diagnostics. Both go through here.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

static VERBOSE: AtomicBool = AtomicBool::new(false);

pub fn set_verbose(on: bool) {
    VERBOSE.store(on, Ordering::Relaxed);
}

/// Debug line on stderr, only with `-v`. Callers must never pass a secret.
pub fn debug(msg: impl FnOnce() -> String) {
    if VERBOSE.load(Ordering::Relaxed) {
        eprintln!("jit: debug: {}", msg());
    }
}

pub fn warn(msg: impl std::fmt::Display) {
    eprintln!("jit: warning: {msg}");
}

/// A status line for the person at the terminal ("saved ...", "opened ...").
pub fn status(msg: impl std::fmt::Display) {
    eprintln!("jit: {msg}");
}

/// A line the person must act on (a login URL, whose login we wait for). When stderr is not a
/// terminal, as under the AWS CLI's `credential_process`, which shows stderr only after we
/// exit, it also goes to the controlling terminal, if there is one.
pub fn prompt(msg: impl std::fmt::Display) {
    let line = format!("jit: {msg}");
    eprintln!("{line}");
    if !std::io::stderr().is_terminal() {
        to_terminal(format!("{line}\r\n").as_bytes());
    }
}

/// Write straight to the controlling terminal (`/dev/tty`); false when there is none.
pub fn to_terminal(bytes: &[u8]) -> bool {
    #[cfg(unix)]
    {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/tty")
            .and_then(|mut tty| {
                tty.write_all(bytes)?;
                tty.flush()
            })
            .is_ok()
    }
    #[cfg(not(unix))]
    {
        let _ = bytes;
        false
    }
}

/// The one error line `main` prints before exiting non-zero.
pub fn error(err: &anyhow::Error) {
    eprintln!("jit: {err:#}");
}

/// Write one line to stdout and flush, so a closed pipe surfaces as an error we can map to exit 0.
pub fn print_line(line: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(line.as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
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
