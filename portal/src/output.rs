//! What the admin commands say to the person at the terminal: machine output on stdout (a
//! closed pipe is an error `main` maps to exit 0), one-line status and errors on stderr. The
//! server's own log is `log`.

use std::io::Write;

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
