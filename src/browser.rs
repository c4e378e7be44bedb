//! One browser context per environment, so consoles of several accounts stay signed in side by
//! side (a browser keeps one console session per profile): a Firefox Multi-Account Container
//! opened through the `ext+container:` scheme of the "Open external links in a container"
//! extension, or a Chromium-family browser with its own `--user-data-dir` under jit's data dir.
//! The sign-in URL never goes on the command line: Chromium gets the path of the private
//! redirect page (`handoff`); Firefox extensions cannot open `file:` URLs, so the container gets
//! a one-time loopback address that serves that page once.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::http::Reply;
use crate::listener::Listener;

pub use crate::config::{COLORS, ConsoleMode as Mode, ICONS};

/// Chromium-family browsers, in the order looked for on PATH.
const CHROMIUMS: &[&str] = &[
    "google-chrome",
    "google-chrome-stable",
    "chromium",
    "chromium-browser",
    "brave-browser",
    "microsoft-edge",
];
/// How long a container's one-time page waits for Firefox to fetch it.
const FETCH_WAIT: Duration = Duration::from_secs(60);

/// What a container looks like: its colour and icon (the extension creates it on first use).
pub struct Look {
    pub color: String,
    pub icon: String,
}

impl Look {
    /// The configured colour and icon, else a colour picked from the name (stable, so each
    /// environment keeps its colour) and the briefcase.
    pub fn of(name: &str, color: Option<&str>, icon: Option<&str>) -> Look {
        let sum: usize = name.bytes().map(usize::from).sum();
        Look {
            color: color.unwrap_or(COLORS[sum % COLORS.len()]).to_string(),
            icon: icon.unwrap_or("briefcase").to_string(),
        }
    }
}

/// The browser program: `configured` (a name on PATH or a path), else the first of `defaults`.
fn program(configured: Option<&str>, defaults: &[&str]) -> Result<PathBuf> {
    if let Some(p) = configured {
        return which::which(p).map_err(|_| anyhow!("browser {p} not found"));
    }
    defaults
        .iter()
        .find_map(|name| which::which(name).ok())
        .ok_or_else(|| {
            anyhow!(
                "no browser found on PATH (looked for {})",
                defaults.join(", ")
            )
        })
}

/// `<data dir>/jit/browser-profiles/<name>`, 0700.
pub fn profile_dir(name: &str) -> Result<PathBuf> {
    crate::config::check_name(name)?;
    let base = match std::env::var_os("JIT_DATA_DIR").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => dirs::data_dir()
            .map(|d| d.join("jit"))
            .ok_or_else(|| anyhow!("cannot find a data directory (set JIT_DATA_DIR)"))?,
    };
    let dir = base.join("browser-profiles").join(name);
    for d in [&base, &base.join("browser-profiles"), &dir] {
        crate::trust::private_dir(d).with_context(|| format!("cannot create {}", d.display()))?;
    }
    Ok(dir)
}

/// The argv that opens `page` in the Chromium profile at `dir`.
fn profile_args(dir: &Path, page: &Path) -> Result<Vec<OsString>> {
    let page = url::Url::from_file_path(page)
        .map_err(|()| anyhow!("{} is not an absolute path", page.display()))?;
    let mut data_dir = OsString::from("--user-data-dir=");
    data_dir.push(dir);
    Ok(vec![
        data_dir,
        "--no-first-run".into(),
        "--no-default-browser-check".into(),
        page.as_str().into(),
    ])
}

/// Open `url` in a Chromium-family browser with the profile of environment `name`. Returns
/// the profile directory, for the status line.
pub fn open_in_profile(name: &str, url: &str, configured: Option<&str>) -> Result<PathBuf> {
    let browser = program(configured, CHROMIUMS)?;
    let dir = profile_dir(name)?;
    let page = crate::handoff::private_page(url)?;
    let args = profile_args(&dir, &page)?;
    crate::handoff::launch(&browser, &args).inspect_err(|_| {
        let _ = std::fs::remove_file(&page);
    })?;
    Ok(dir)
}

/// The `ext+container:` URL that opens `target` in container `name`.
fn container_url(name: &str, look: &Look, target: &str) -> String {
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("name", name)
        .append_pair("color", &look.color)
        .append_pair("icon", &look.icon)
        .append_pair("url", target)
        .finish();
    format!("ext+container:{query}")
}

/// A container launch under way: its one-time page waits for Firefox.
pub struct Pending {
    name: String,
    waiter: std::thread::JoinHandle<Result<Option<()>>>,
}

impl Pending {
    /// Wait until Firefox fetched the page (Ok) or the wait ran out (Err).
    pub fn wait(self) -> Result<String> {
        match self.waiter.join() {
            Ok(Ok(Some(()))) => Ok(self.name),
            Ok(Ok(None)) => bail!(
                "{}: Firefox did not fetch the page within {} s (is the \"Open external links in a container\" extension installed?)",
                self.name,
                FETCH_WAIT.as_secs()
            ),
            Ok(Err(e)) => Err(e.context(self.name)),
            Err(_) => bail!("{}: the page server failed", self.name),
        }
    }
}

/// Open `url` in Firefox in the container of environment `name`, through a loopback page that
/// serves the redirect once, at a random path.
pub fn open_in_container(
    name: &str,
    look: &Look,
    url: &str,
    configured: Option<&str>,
) -> Result<Pending> {
    let browser = program(configured, &["firefox"])?;
    let listener = Listener::bind(0)?.only_own_user();
    let path = format!("/console-{}", crate::model::random_hex(16)?);
    let target = format!("http://127.0.0.1:{}{path}", listener.port());
    let page = crate::handoff::redirect_page(url);
    let served = std::sync::atomic::AtomicBool::new(false);
    let waiter = std::thread::spawn(move || {
        listener.serve(Instant::now() + FETCH_WAIT, move |req| {
            let first = req.method == "GET"
                && req.path == path
                && !served.swap(true, std::sync::atomic::Ordering::SeqCst);
            if !first {
                return (Reply::text(404, "not found"), None);
            }
            let reply = Reply {
                status: 200,
                content_type: "text/html; charset=utf-8",
                body: page.clone(),
                headers: vec![("Referrer-Policy", "no-referrer".to_string())],
            };
            (reply, Some(()))
        })
    });
    let arg = container_url(name, look, &target);
    crate::handoff::launch(&browser, &[arg.into()])?;
    Ok(Pending {
        name: name.to_string(),
        waiter,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_container_url_names_the_container_and_only_the_local_page() {
        let look = Look::of("prod", Some("red"), Some("fence"));
        assert_eq!(
            container_url("prod", &look, "http://127.0.0.1:4242/console-ab"),
            "ext+container:name=prod&color=red&icon=fence&url=http%3A%2F%2F127.0.0.1%3A4242%2Fconsole-ab"
        );
        let picked = Look::of("staging", None, None);
        assert!(COLORS.contains(&picked.color.as_str()));
        assert_eq!(picked.icon, "briefcase");
        assert_eq!(Look::of("staging", None, None).color, picked.color);
    }

    #[test]
    fn the_profile_argv_is_the_dir_and_the_page_path() {
        let args =
            profile_args(Path::new("/d/prod"), Path::new("/c/console-1.html")).expect("args");
        assert_eq!(
            args,
            [
                "--user-data-dir=/d/prod",
                "--no-first-run",
                "--no-default-browser-check",
                "file:///c/console-1.html"
            ]
        );
    }
}
