//! `jit portal group|eligible|approver|policy`: who may request which target, who approves,
//! and each target's policy, through the same domain functions as the admin pages.

use anyhow::{Result, bail};

use crate::cli::{GrantCommand, GroupCommand, MemberCommand, PolicyCommand, RuleCommand};
use crate::db::Db;
use crate::domain::access::{self, Member, Person, PolicyChange, Role};
use crate::domain::rules::{Name, SessionSecs};
use crate::domain::{Actor, Outcome};
use crate::output;

fn said(outcome: Outcome, done: String) {
    match outcome {
        Outcome::Saved => output::status(format_args!("{done}")),
        Outcome::Unchanged => output::status(format_args!("already so; nothing changed")),
    }
}

pub async fn group(db: &Db, command: GroupCommand) -> Result<()> {
    let actor = Actor::cli();
    match command {
        GroupCommand::Add { name } => {
            let name = Name::parse("group", &name)?;
            let o = access::group_add(db, &actor, &name).await?;
            said(o, format!("added group '{}'", name.as_str()));
        }
        GroupCommand::Remove { name } => {
            access::group_remove(db, &actor, &name).await?;
            output::status(format_args!("removed group '{name}'"));
        }
        GroupCommand::List => {
            let mut out = String::new();
            for g in db.list_groups().await? {
                let members: Vec<String> = g
                    .members
                    .iter()
                    .map(|(u, src)| match src.as_str() {
                        "sso" => format!("{u}(sso)"),
                        _ => u.clone(),
                    })
                    .collect();
                out.push_str(&format!(
                    "{}\t{}\t{}\n",
                    g.name,
                    if g.local { "local" } else { "sso" },
                    members.join(",")
                ));
            }
            output::print_raw(&out)?;
        }
        GroupCommand::Member(MemberCommand::Add { group, user }) => {
            let o = access::group_member(db, &actor, &group, &user, true).await?;
            said(o, format!("put '{user}' in group '{group}'"));
        }
        GroupCommand::Member(MemberCommand::Remove { group, user }) => {
            let o = access::group_member(db, &actor, &group, &user, false).await?;
            said(o, format!("took '{user}' out of group '{group}'"));
        }
    }
    Ok(())
}

pub async fn rule(db: &Db, role: Role, command: RuleCommand) -> Result<()> {
    let actor = Actor::cli();
    let word = match role {
        Role::Eligible => "eligible for",
        Role::Approver => "an approver of",
    };
    match command {
        RuleCommand::Add { target, member } => {
            let t = access::target(db, &target).await?;
            let m = Member::parse(&member)?;
            let o = access::rule(db, &actor, &t, role, &m, true).await?;
            said(o, format!("{member} is {word} {t}"));
        }
        RuleCommand::Remove { target, member } => {
            let t = jit_wire::access::Target::parse(&target).map_err(anyhow::Error::msg)?;
            let m = Member::parse(&member)?;
            let o = access::rule(db, &actor, &t, role, &m, false).await?;
            said(o, format!("{member} is no longer {word} {t}"));
        }
        RuleCommand::List => {
            let kind = match role {
                Role::Eligible => "eligible",
                Role::Approver => "approver",
            };
            let mut out = String::new();
            for p in db.list_principals().await? {
                if p.role == kind {
                    out.push_str(&format!("{}\t{}\n", p.target, p.shown()));
                }
            }
            output::print_raw(&out)?;
        }
    }
    Ok(())
}

pub async fn grant(db: &Db, command: GrantCommand) -> Result<()> {
    match command {
        GrantCommand::List => {
            let now = jiff::Timestamp::now().as_second();
            let mut out = String::new();
            for g in access::live_grants(db, now).await? {
                out.push_str(&format!(
                    "{}\t{}\t{}\t{}\t{}{}\n",
                    g.id,
                    g.user,
                    g.target,
                    g.end,
                    g.request,
                    if g.break_glass { "\tbreak-glass" } else { "" }
                ));
            }
            output::print_raw(&out)?;
        }
        GrantCommand::Revoke { id } => {
            // The shell with the database acts with an admin's authority.
            let who = Person {
                user: Actor::cli().name,
                admin: true,
                client: None,
                token_id: None,
            };
            // No AWS here: the serving portal's --cut-off-on-revoke is the API's and pages'.
            let g = access::revoke(db, &who, &id, None).await?;
            output::status(format_args!(
                "ended grant {} of {} for {}",
                g.id, g.user, g.target
            ));
        }
    }
    Ok(())
}

/// `3600`, `90m`, `4h` or `3600s` as seconds.
fn duration(flag: &str, text: &str) -> Result<SessionSecs> {
    let text = text.trim();
    let (num, unit) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&text[..i], c),
        _ => (text, 's'),
    };
    let n: i64 = match num.parse() {
        Ok(n) => n,
        Err(_) => bail!("{flag}: want seconds or a duration such as 90m or 4h"),
    };
    let secs = match unit {
        's' => n,
        'm' => n.saturating_mul(60),
        'h' => n.saturating_mul(3600),
        _ => bail!("{flag}: want seconds or a duration such as 90m or 4h"),
    };
    Ok(SessionSecs::new(flag, secs)?)
}

pub async fn policy(db: &Db, command: PolicyCommand) -> Result<()> {
    match command {
        PolicyCommand::Set {
            target,
            approvals,
            max_grant,
            reason_required,
            ticket_required,
            break_glass,
        } => {
            let t = access::target(db, &target).await?;
            let change = PolicyChange {
                approvals,
                max_grant: max_grant.map(|m| duration("--max-grant", &m)).transpose()?,
                reason: reason_required,
                ticket: ticket_required,
                break_glass,
            };
            let o = access::set_policy(db, &Actor::cli(), &t, change).await?;
            said(o, format!("changed the policy of {t}"));
        }
        PolicyCommand::List => {
            let mut out = String::new();
            for p in db.list_policies().await? {
                out.push_str(&format!(
                    "{}\tapprovals={}\tmax_grant={}s\treason={}\tticket={}\tbreak_glass={}\n",
                    p.target,
                    p.approvals_needed,
                    p.max_grant_secs,
                    p.reason_required,
                    p.ticket_required,
                    p.break_glass
                ));
            }
            output::print_raw(&out)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_read_seconds_minutes_and_hours() {
        assert_eq!(
            super::duration("f", "3600").map(|s| s.get()).ok(),
            Some(3600)
        );
        assert_eq!(
            super::duration("f", "90m").map(|s| s.get()).ok(),
            Some(5400)
        );
        assert_eq!(
            super::duration("f", "4h").map(|s| s.get()).ok(),
            Some(14400)
        );
        assert!(super::duration("f", "1d").is_err());
        assert!(super::duration("f", "60").is_err(), "below 15 minutes");
    }
}
