//! Handing a secret URL (a console sign-in URL) to a browser or the clipboard without putting it
//! on any command line, where `ps` shows it to every local user: the browser gets a private
//! local page that redirects to it, a clipboard tool gets it on stdin.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use base64::Engine;

use crate::cache::Cache;

/// How long a redirect page may stay on disk: the browser reads it at once; a later `jit
/// console --open` (or a timer started now) removes it.
const PAGE_LIFETIME: Duration = Duration::from_secs(60);
/// How long a launcher or clipboard tool may take to say it failed.
const TOOL_WAIT: Duration = Duration::from_secs(2);
/// Secrets of ours a child never needs.
const SECRET_VARS: &[&str] = &["JIT_TOKEN", "DUPLO_TOKEN"];

/// Clipboard tools, in the order tried: macOS, Wayland, X11 (two), WSL.
const CLIPBOARDS: &[(&str, &[&str])] = &[
    ("pbcopy", &[]),
    ("wl-copy", &[]),
    ("xclip", &["-selection", "clipboard"]),
    ("xsel", &["--clipboard", "--input"]),
    ("clip.exe", &[]),
];

/// A private (0600) page that redirects to `url`, removed after its lifetime: its path can go on
/// a command line where the URL cannot.
pub fn private_page(url: &str) -> Result<PathBuf> {
    let dir = page_dir()?;
    sweep(&dir);
    let page = write_page(&dir, url)?;
    remove_later(&page);
    Ok(page)
}

/// Run a browser (its argv carries no secret) detached in its own process group, without our
/// secrets in its environment: Ok once it exits 0 or is still running after a moment.
pub fn launch(program: &Path, args: &[std::ffi::OsString]) -> Result<()> {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    match run_briefly(cmd) {
        Ok(()) => Ok(()),
        Err(None) => bail!("{} not found", program.display()),
        Err(Some(why)) => bail!("{} {why}", program.display()),
    }
}

/// Open `url` in the default browser by way of a private (0600) page that redirects to it.
/// The error says why no browser could be opened, and never quotes the URL.
pub fn open_in_browser(url: &str) -> Result<()> {
    let page = private_page(url)?;
    let mut failures = Vec::new();
    for mut cmd in open::commands(&page) {
        let name = cmd.get_program().to_string_lossy().into_owned();
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        match run_briefly(cmd) {
            Ok(()) => return Ok(()),
            Err(None) => {}
            Err(Some(why)) => failures.push(format!("{name} {why}")),
        }
    }
    let _ = std::fs::remove_file(&page);
    if failures.is_empty() {
        bail!("no browser launcher (xdg-open, gio, ...) found");
    }
    bail!("{}", failures.join(", "))
}

/// Put `url` on the clipboard through the first tool that takes it on stdin, else through the
/// terminal's OSC 52 escape. Returns how, for the status line.
pub fn copy_to_clipboard(url: &str) -> Result<String> {
    let mut failures = Vec::new();
    for (name, args) in CLIPBOARDS {
        let Ok(path) = which::which(name) else {
            continue;
        };
        let mut cmd = Command::new(path);
        cmd.args(*args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let fed = |child: &mut Child| {
            let mut stdin = child.stdin.take().context("no stdin")?;
            stdin.write_all(url.as_bytes())?;
            anyhow::Ok(())
        };
        match run_fed(cmd, fed) {
            Ok(()) => return Ok(format!("with {name}")),
            Err(Some(why)) => failures.push(format!("{name} {why}")),
            Err(None) => {}
        }
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(url);
    if crate::output::to_terminal(format!("\x1b]52;c;{b64}\x07").as_bytes()) {
        return Ok("with the terminal's OSC 52 escape (if the terminal allows it)".into());
    }
    let tried = if failures.is_empty() {
        "no clipboard tool (pbcopy, wl-copy, xclip, xsel, clip.exe) found".to_string()
    } else {
        failures.join(", ")
    };
    bail!("cannot copy to the clipboard: {tried}, and no terminal for OSC 52; use --print")
}

/// Run a launcher with no input: Ok once it exits 0 or is still running after a moment (it
/// handed off to a browser that stays); Err(None) when it does not exist; Err(why) if it failed.
fn run_briefly(cmd: Command) -> Result<(), Option<String>> {
    run_fed(cmd, |_| Ok(()))
}

fn run_fed(
    mut cmd: Command,
    feed: impl FnOnce(&mut Child) -> Result<()>,
) -> Result<(), Option<String>> {
    for var in SECRET_VARS {
        cmd.env_remove(var);
    }
    #[cfg(unix)]
    {
        // Its own process group: closing the terminal must not take the browser with it.
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(None),
        Err(e) => return Err(Some(format!("could not start: {e}"))),
    };
    if let Err(e) = feed(&mut child) {
        let _ = child.kill();
        let _ = child.wait();
        return Err(Some(format!("failed: {e}")));
    }
    let deadline = Instant::now() + TOOL_WAIT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(Some(format!("failed ({status})"))),
            Ok(None) if Instant::now() >= deadline => return Ok(()),
            Ok(None) => std::thread::sleep(Duration::from_millis(25)),
            Err(e) => return Err(Some(format!("failed: {e}"))),
        }
    }
}

/// `<cache dir>/console`, 0700: the pages are as private as the credentials they came from.
fn page_dir() -> Result<PathBuf> {
    let dir = Cache::dir()?.join("console");
    Cache::open()?;
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    match builder.create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
    }
    let meta = std::fs::symlink_metadata(&dir)?;
    if !meta.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    Ok(dir)
}

fn write_page(dir: &Path, url: &str) -> Result<PathBuf> {
    let path = dir.join(format!("console-{}.html", crate::model::random_hex(8)?));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(redirect_page(url).as_bytes())
        .and_then(|()| file.flush())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// A page that sends the browser on to `url` at once (script, else meta refresh, else a link)
/// and tells no one where it came from.
pub fn redirect_page(url: &str) -> String {
    let attr: String = url
        .chars()
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&#39;".to_string(),
            c => c.to_string(),
        })
        .collect();
    // A JSON string is a JS string literal; with `<` and `>` escaped it cannot end the script.
    let js = serde_json::Value::String(url.to_string())
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e");
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\">\n<meta name=\"referrer\" content=\"no-referrer\">\n\
         <meta http-equiv=\"refresh\" content=\"0;url={attr}\">\n<title>Opening the AWS console</title></head>\n\
         <body><script>location.replace({js});</script>\n\
         <p><a href=\"{attr}\" rel=\"noreferrer\">Continue to the AWS console</a></p></body></html>\n"
    )
}

/// Remove pages older than their lifetime (left by an earlier run).
fn sweep(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with("console-") && name.ends_with(".html")) {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age > PAGE_LIFETIME);
        if old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Remove `page` once its lifetime is over, from a small detached shell that outlives us; it
/// gets the page's path, never its content, and none of our environment.
fn remove_later(page: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let _ = Command::new("/bin/sh")
            .arg("-c")
            .arg("sleep \"$1\"; rm -f -- \"$2\"")
            .arg("jit-console-cleanup")
            .arg(PAGE_LIFETIME.as_secs().to_string())
            .arg(page)
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn();
    }
    #[cfg(not(unix))]
    let _ = page;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_page_cannot_be_broken_out_of() {
        let url = "https://signin.aws.amazon.com/federation?a=1&b=\"</script><script>x'";
        let page = redirect_page(url);
        assert!(!page.contains("</script><script>x"), "{page}");
        assert!(page.contains("content=\"0;url=https://signin.aws.amazon.com/federation?a=1&amp;b=&quot;&lt;/script&gt;"));
        assert!(page.contains(r#"location.replace("https://signin.aws.amazon.com/federation?a=1&b=\"\u003c/script\u003e"#));
    }
}
