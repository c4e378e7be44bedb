//! The device login of docs/protocol.md §2.1 (RFC 8628 semantics), for a machine without a
//! browser of its own (over SSH, in a container, on a CI runner): ask the portal for a code,
//! print its short URL and the user code, and poll at the interval the portal sets (5 s longer
//! after each `slow_down`) until the user approves or denies on any device, or the code
//! expires. Nothing listens: no socket is opened but the client's own to the portal.

use std::io::Read;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use jit_wire::device::{self, DeviceCode, DeviceError, DeviceToken, error};
use jit_wire::paths;

use crate::host::Host;
use crate::model::Token;
use crate::output;

/// What RFC 8628 §3.5 has a client add to its interval on `slow_down`.
const SLOW_DOWN_SECS: u64 = 5;
/// The portal's answers are small.
const MAX_BODY: u64 = 16 * 1024;

/// Whether no browser can be opened here: a session over SSH with no display and no `BROWSER`
/// to hand a URL to. `--interactive` then logs in on another device.
pub fn no_browser_here() -> bool {
    let set = |var: &str| std::env::var_os(var).is_some_and(|v| !v.is_empty());
    set("SSH_CONNECTION") && !set("DISPLAY") && !set("WAYLAND_DISPLAY") && !set("BROWSER")
}

/// This machine's name, for the approval page.
fn host_name() -> String {
    #[cfg(unix)]
    let name = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    #[cfg(not(unix))]
    let name = std::env::var("COMPUTERNAME").unwrap_or_default();
    name
}

/// A device login's failure, said in one line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(String);

fn post(
    http: &reqwest::blocking::Client,
    url: &str,
    form: &[(&str, &str)],
) -> Result<(u16, Vec<u8>)> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let resp = http
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .map_err(|e| anyhow::anyhow!("POST {url}: {}", e.without_url()))?;
    let status = resp.status().as_u16();
    let mut bytes = Vec::new();
    resp.take(MAX_BODY)
        .read_to_end(&mut bytes)
        .with_context(|| format!("POST {url}: reading the answer"))?;
    Ok((status, bytes))
}

/// Log in on another device for `admin` or tenant access: the token once the user approved,
/// and duplo-jit's one-time code when the portal hands one with it (for this run only).
pub fn login(host: &Host, admin: bool) -> Result<(Token, Option<String>)> {
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(20))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("jit/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("cannot set up the HTTP client")?;
    let scope = if admin {
        device::SCOPE_ADMIN
    } else {
        device::SCOPE_TENANT
    };
    let url = format!("{host}{}", paths::DEVICE_CODE);
    let name = host_name();
    let (status, body) = post(
        &http,
        &url,
        &[(device::param::SCOPE, scope), (device::param::HOST, &name)],
    )?;
    if status != 200 {
        let why = serde_json::from_slice::<DeviceError>(&body)
            .map(|e| e.error_description.unwrap_or(e.error))
            .unwrap_or_else(|_| format!("HTTP {status}"));
        bail!(Refused(format!("the portal refused a device login: {why}")));
    }
    let code: DeviceCode =
        serde_json::from_slice(&body).context("the portal's device login answer")?;
    let expires_in = code.expires_in.clamp(1, 3600) as u64;
    let deadline = Instant::now() + Duration::from_secs(expires_in);
    let mut interval = Duration::from_secs(code.interval.clamp(1, 60) as u64);
    output::prompt(format_args!(
        "to log in, open {} on any device, sign in and enter the code {} (it expires in {} min)",
        code.verification_uri,
        code.user_code,
        expires_in.div_ceil(60)
    ));
    let url = format!("{host}{}", paths::DEVICE_TOKEN);
    loop {
        std::thread::sleep(interval);
        let (status, body) = post(
            &http,
            &url,
            &[(device::param::DEVICE_CODE, &code.device_code)],
        )?;
        if status == 200 {
            let got: DeviceToken =
                serde_json::from_slice(&body).context("the portal's device login token")?;
            output::status(format_args!("device login approved ({} access)", got.scope));
            let token = Token::new(&got.token).context("the portal's device login token")?;
            return Ok((token, got.otp.filter(|o| !o.is_empty())));
        }
        let refusal = serde_json::from_slice::<DeviceError>(&body)
            .map(|e| e.error)
            .unwrap_or_else(|_| format!("HTTP {status}"));
        match refusal.as_str() {
            error::PENDING => {}
            error::SLOW_DOWN => {
                interval += Duration::from_secs(SLOW_DOWN_SECS);
                output::debug(|| format!("slow_down: polling every {} s", interval.as_secs()));
            }
            error::DENIED => bail!(Refused("the device login was denied in the browser".into())),
            error::EXPIRED => bail!(Refused(
                "the device login code expired before it was approved; run the login again".into()
            )),
            other => bail!(Refused(format!("the device login failed: {other}"))),
        }
        if Instant::now() >= deadline {
            bail!(Refused(
                "the device login code expired before it was approved; run the login again".into()
            ));
        }
    }
}
