//! Replacing a file so readers see the old or the new version, never a torn one: a private temp
//! file in the same directory, fsync, rename over the target, fsync the directory.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, anyhow};

/// `step` is called after each stage, so crash tests can stop the process exactly there.
pub fn write_with(path: &Path, data: &[u8], step: impl Fn(&str)) -> Result<()> {
    let dir = path.parent().context("no directory to write in")?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(plain)
        .with_context(|| format!("cannot write to {}", dir.display()))?;
    step("temp-create");
    let written = |e| anyhow!("cannot write {}: {}", path.display(), e);
    tmp.as_file_mut().write_all(data).map_err(written)?;
    step("temp-write");
    tmp.as_file().sync_all().map_err(written)?;
    step("fsync");
    tmp.persist(path)
        .map_err(|e| anyhow!("cannot replace {}: {}", path.display(), e.error))?;
    step("rename");
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// tempfile appends the temp file's random name to OS errors; the user knows only the target.
fn plain(e: std::io::Error) -> std::io::Error {
    match e.raw_os_error() {
        Some(code) => std::io::Error::from_raw_os_error(code),
        None => std::io::Error::from(e.kind()),
    }
}

pub fn write(path: &Path, data: &[u8]) -> Result<()> {
    write_with(path, data, |_| {})
}
