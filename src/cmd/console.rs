//! `jit console`: the AWS console, signed in, in a browser, on the clipboard or on stdout; for
//! several environments at once, each in its own Firefox container or Chromium profile.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{Result, anyhow};

use crate::browser::{self, Look, Mode};
use crate::cli::{ConsoleArgs, EnvSelect};
use crate::config::{EnvConfig, Found};
use crate::{creds, handoff, output};

pub fn run(args: ConsoleArgs) -> Result<ExitCode> {
    let flag = if args.container {
        Some(Mode::Container)
    } else if args.browser_profile {
        Some(Mode::Profile)
    } else {
        None
    };
    if args.more.is_empty() {
        let env = own_env(args.select.env.as_deref());
        let mode = flag
            .or(env.as_ref().and_then(|e| e.console))
            .filter(|_| !args.print && !args.copy)
            .unwrap_or(Mode::Default);
        if mode == Mode::Default {
            return single(&args);
        }
    }
    several(&args, flag)
}

/// The environment of ours `name` stands for, if any (not an ~/.aws/config profile).
fn own_env(name: Option<&str>) -> Option<EnvConfig> {
    match crate::config::resolve(name?) {
        Ok(Found::Env(env)) => Some(env),
        _ => None,
    }
}

/// One environment in the default browser, or printed, or copied.
fn single(args: &ConsoleArgs) -> Result<ExitCode> {
    let (_, target) = super::select(&args.select)?;
    let creds = creds::get(&target, args.select.cache.mode())?;
    let url = crate::console::url(&creds, args.destination.as_deref(), target.host.as_str())?;
    let scope = target.scope.describe();
    if args.copy {
        let how = handoff::copy_to_clipboard(&url)?;
        output::status(format_args!(
            "copied the AWS console sign-in URL ({scope}) to the clipboard {how}; it signs in whoever has it until it expires"
        ));
        return Ok(ExitCode::SUCCESS);
    }
    if args.open || (!args.print && std::io::stdout().is_terminal()) {
        match handoff::open_in_browser(&url) {
            Ok(()) => {
                output::status(format_args!(
                    "opened the AWS console ({scope}) in your browser"
                ));
                return Ok(ExitCode::SUCCESS);
            }
            Err(e) => output::status(format_args!(
                "no browser could be opened ({e:#}); printed the URL instead"
            )),
        }
    }
    output::print_line(&url)?;
    Ok(ExitCode::SUCCESS)
}

/// One fetched environment, ready to open.
struct Ready {
    name: String,
    url: String,
    env: Option<EnvConfig>,
    mode: Mode,
}

/// Each environment in its own container or profile: the sign-in URLs are fetched in parallel
/// (through the cache), and one that fails is reported without stopping the others.
fn several(args: &ConsoleArgs, flag: Option<Mode>) -> Result<ExitCode> {
    let names: Vec<Option<String>> = std::iter::once(args.select.env.clone())
        .chain(args.more.iter().cloned().map(Some))
        .collect();
    let fetched: Vec<(String, Result<Ready>)> = std::thread::scope(|s| {
        let handles: Vec<_> = names
            .iter()
            .map(|name| {
                let select = EnvSelect {
                    env: name.clone(),
                    ..args.select.clone()
                };
                let label = name.clone().unwrap_or_else(|| "console".into());
                (label, s.spawn(move || fetch(&select, args, flag)))
            })
            .collect();
        handles
            .into_iter()
            .map(|(label, h)| {
                let got = h
                    .join()
                    .unwrap_or_else(|_| Err(anyhow!("fetching the credentials failed")));
                (label, got)
            })
            .collect()
    });
    let mut failed = 0;
    let mut pending = Vec::new();
    for (label, got) in fetched {
        let opened = got.and_then(|ready| open(ready, &mut pending));
        if let Err(e) = opened {
            failed += 1;
            output::warn(format_args!("{label}: {e:#}"));
        }
    }
    for p in pending {
        match p.wait() {
            Ok(name) => output::status(format_args!(
                "opened the AWS console ({name}) in its Firefox container"
            )),
            Err(e) => {
                failed += 1;
                output::warn(format_args!("{e:#}"));
            }
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn fetch(select: &EnvSelect, args: &ConsoleArgs, flag: Option<Mode>) -> Result<Ready> {
    let (name, target) = super::select(select)?;
    let env = own_env(select.env.as_deref());
    let mode = flag
        .or(env.as_ref().and_then(|e| e.console))
        .unwrap_or(Mode::Default);
    if mode == Mode::Default {
        return Err(crate::model::UsageError(
            "a browser holds one console sign-in at a time: open several with --container or --browser-profile (or console = \"container\" or \"profile\" in each environment)".into(),
        )
        .into());
    }
    let creds = creds::get(&target, select.cache.mode())?;
    let url = crate::console::url(&creds, args.destination.as_deref(), target.host.as_str())?;
    Ok(Ready {
        name,
        url,
        env,
        mode,
    })
}

fn open(ready: Ready, pending: &mut Vec<browser::Pending>) -> Result<()> {
    let env = ready.env.as_ref();
    let configured = env.and_then(|e| e.browser.as_deref());
    match ready.mode {
        Mode::Container => {
            let look = Look::of(
                &ready.name,
                env.and_then(|e| e.container_color.as_deref()),
                env.and_then(|e| e.container_icon.as_deref()),
            );
            pending.push(browser::open_in_container(
                &ready.name,
                &look,
                &ready.url,
                configured,
            )?);
        }
        Mode::Profile => {
            let dir = browser::open_in_profile(&ready.name, &ready.url, configured)?;
            output::status(format_args!(
                "opened the AWS console ({}) in its own browser profile ({})",
                ready.name,
                dir.display()
            ));
        }
        Mode::Default => handoff::open_in_browser(&ready.url)?,
    }
    Ok(())
}
