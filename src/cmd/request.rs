//! `jit request`: ask a `jit portal` for access one is eligible for (docs/protocol.md §13), and
//! with `--wait` wait for the decision.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};
use jit_wire::access::{NewRequest, Request, RequestState, Target as AccessTarget};

use super::UsageError;
use crate::cli::{EnvSelect, RequestArgs};
use crate::model::{Scope, Target};

/// How often `--wait` asks whether the request was decided.
const POLL: Duration = Duration::from_secs(2);

/// The portal to ask and the targets, spelled as the contract spells them.
fn resolve(args: &RequestArgs) -> Result<(Target, Vec<String>)> {
    if args.conn.host.is_some() {
        let mut targets = Vec::new();
        for t in &args.targets {
            targets.push(AccessTarget::parse(t).map_err(UsageError)?.spelling());
        }
        let portal = super::target_for(Scope::Tenant(String::new()), &args.conn, None, None)?;
        return Ok((portal, targets));
    }
    let mut portal: Option<Target> = None;
    let mut targets = Vec::new();
    for name in &args.targets {
        let sel = EnvSelect {
            env: Some(name.clone()),
            conn: args.conn.clone(),
            ..EnvSelect::default()
        };
        let (_, t) = super::select(&sel)?;
        targets.push(t.scope.access_target().spelling());
        match &portal {
            Some(p) if p.api_host != t.api_host => {
                bail!(
                    "environments {} reach different portals: request them one portal at a time",
                    args.targets.join(", ")
                );
            }
            Some(_) => {}
            None => portal = Some(t),
        }
    }
    let mut portal = portal.ok_or_else(|| UsageError("name at least one target".into()))?;
    // A request is no admin call: the tenant login is enough to ask.
    portal.scope = Scope::Tenant(String::new());
    Ok((portal, targets))
}

fn describe(r: &Request) -> String {
    format!(
        "request {} for {} is {} (approvers: {})",
        r.id,
        r.targets.join(", "),
        r.state.as_str(),
        r.approvers.join(", ")
    )
}

pub fn run(args: RequestArgs) -> Result<ExitCode> {
    let (portal, targets) = resolve(&args)?;
    let cache = crate::cache::Cache::open().ok();
    let client = crate::login::client(&portal, cache.as_ref())?;
    let new = NewRequest {
        targets,
        duration_secs: args.duration.as_secs(),
        reason: args.reason.clone(),
        ticket: args.ticket.clone(),
        break_glass: args.break_glass,
    };
    let mut r = client.request_access(&new)?;
    crate::output::status(describe(&r));
    if !args.wait {
        crate::output::print_line(&r.id)?;
        return Ok(ExitCode::SUCCESS);
    }
    while r.state == RequestState::Pending {
        std::thread::sleep(POLL);
        r = client.access_request(&r.id)?;
    }
    let by = |approve: bool| {
        let who: Vec<String> = r
            .decisions
            .iter()
            .filter(|d| d.approve == approve)
            .map(|d| match &d.comment {
                Some(c) => format!("{} ({c})", d.approver),
                None => d.approver.clone(),
            })
            .collect();
        who.join(", ")
    };
    match r.state {
        RequestState::Approved => {
            let until: Vec<String> = r
                .grants
                .iter()
                .map(|g| format!("{} until {}", g.target, g.end))
                .collect();
            crate::output::status(format_args!(
                "request {} approved{}: {}",
                r.id,
                match by(true) {
                    b if b.is_empty() => String::new(),
                    b => format!(" by {b}"),
                },
                until.join(", ")
            ));
            // The id on stdout once approved: a failed wait leaves stdout empty.
            crate::output::print_line(&r.id)?;
            Ok(ExitCode::SUCCESS)
        }
        RequestState::Denied => bail!("request {} was denied by {}", r.id, by(false)),
        state => bail!(
            "request {} was {} before anyone decided",
            r.id,
            state.as_str()
        ),
    }
}
