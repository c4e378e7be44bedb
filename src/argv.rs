//! duplo-jit is written in Go, whose flag package takes `-tenant x`, `-tenant=x` and `-admin=true`.
//! Existing `~/.aws/config` profiles use those spellings, so we rewrite them into clap's before parsing.

use std::collections::HashSet;
use std::ffi::OsString;

/// Go's `strconv.ParseBool`, which the flag package uses for `-flag=value` on booleans.
fn go_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// Rewrite single-dash long flags that name a real option or alias (`-tenant` -> `--tenant`,
/// `-debug` -> `--debug`) and Go-style boolean values (`--admin=T` -> `--admin`, `--admin=0` ->
/// dropped). Stops at `--`.
pub fn normalize(
    args: impl IntoIterator<Item = OsString>,
    cmd: impl FnOnce() -> clap::Command,
) -> Vec<OsString> {
    let args: Vec<OsString> = args.into_iter().collect();
    // Building the command tree costs a few hundred microseconds: skip it for clap spellings.
    let go_style = args
        .iter()
        .skip(1)
        .map_while(|a| a.to_str().filter(|a| *a != "--"))
        .any(|a| {
            (a.len() > 2 && a.starts_with('-') && !a.starts_with("--"))
                || a.split_once('=')
                    .is_some_and(|(_, v)| a.starts_with('-') && go_bool(v).is_some())
        });
    if !go_style {
        return args;
    }
    let (longs, bools) = long_flags(&cmd());
    let mut out = Vec::new();
    let mut passthrough = false;
    for arg in args {
        if passthrough {
            out.push(arg);
            continue;
        }
        let Some(text) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        if text == "--" {
            passthrough = true;
            out.push(arg);
            continue;
        }
        let body = text
            .strip_prefix("--")
            .or_else(|| text.strip_prefix('-').filter(|b| b.len() > 1));
        let Some(body) = body else {
            out.push(arg);
            continue;
        };
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        if !longs.contains(name) {
            out.push(arg);
            continue;
        }
        match (value, value.and_then(go_bool)) {
            (Some(_), Some(true)) if bools.contains(name) => out.push(format!("--{name}").into()),
            (Some(_), Some(false)) if bools.contains(name) => {}
            (Some(v), _) => out.push(format!("--{name}={v}").into()),
            (None, _) => out.push(format!("--{name}").into()),
        }
    }
    out
}

fn long_flags(cmd: &clap::Command) -> (HashSet<String>, HashSet<String>) {
    let mut longs = HashSet::new();
    let mut bools = HashSet::new();
    let mut stack = vec![cmd.clone()];
    while let Some(c) = stack.pop() {
        for arg in c.get_arguments() {
            let names = arg
                .get_long()
                .into_iter()
                .chain(arg.get_all_aliases().into_iter().flatten());
            for long in names {
                longs.insert(long.to_string());
                if !arg.get_action().takes_values() {
                    bools.insert(long.to_string());
                }
            }
        }
        stack.extend(c.get_subcommands().cloned());
    }
    longs.insert("help".into());
    longs.insert("version".into());
    (longs, bools)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn norm(args: &[&str]) -> Vec<String> {
        normalize(args.iter().map(OsString::from), crate::cli::Cli::command)
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn go_style_flags_become_clap_flags() {
        assert_eq!(
            norm(&[
                "jit",
                "aws",
                "-tenant",
                "dev01",
                "-host=https://x",
                "-admin=true",
                "-no-cache=false"
            ]),
            [
                "jit",
                "aws",
                "--tenant",
                "dev01",
                "--host=https://x",
                "--admin"
            ]
        );
    }

    #[test]
    fn every_go_bool_spelling_and_alias_is_accepted() {
        for yes in ["1", "t", "T", "true", "TRUE", "True"] {
            assert_eq!(
                norm(&["jit", "aws", &format!("-admin={yes}")]),
                ["jit", "aws", "--admin"],
                "{yes}"
            );
        }
        for no in ["0", "f", "F", "false", "FALSE", "False"] {
            assert_eq!(
                norm(&["jit", "aws", &format!("--admin={no}"), "-tenant=x"]),
                ["jit", "aws", "--tenant=x"],
                "{no}"
            );
        }
        assert_eq!(
            norm(&["jit", "aws", "-debug", "-admin"]),
            ["jit", "aws", "--debug", "--admin"]
        );
        // A non-boolean flag keeps a value that merely looks boolean.
        assert_eq!(
            norm(&["jit", "aws", "-tenant=1"]),
            ["jit", "aws", "--tenant=1"]
        );
    }

    #[test]
    fn unknown_and_short_flags_and_passthrough_are_untouched() {
        assert_eq!(
            norm(&[
                "jit",
                "exec",
                "-v",
                "-bogus",
                "prod",
                "--",
                "ls",
                "-tenant",
                "--admin=false"
            ]),
            [
                "jit",
                "exec",
                "-v",
                "-bogus",
                "prod",
                "--",
                "ls",
                "-tenant",
                "--admin=false"
            ]
        );
    }
}
