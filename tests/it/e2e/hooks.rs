//! The hooks' promises, kept in real bash, zsh and fish: switching environments leaves nothing of
//! the last one, every hook function's status works in `&&` and `if`, hostile portal values come
//! back byte for byte, the prompt counts seconds in the last minute without starting a process,
//! every hand-written script passes shellcheck with all checks, and the completions install.sh
//! writes load in a default bash and zsh.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::support::{JIT, Run, Sandbox, StandIn, Tmux, finish};

/// How one shell says the few things these tests need.
struct Sh {
    argv: &'static [&'static str],
    init: &'static str,
    status: &'static str,
    /// `if COND` ... `end` in this shell, with `{}` for the condition.
    if_ok: &'static str,
    /// `show LABEL` prints LABEL and the endpoint and region variables (`-` when unset);
    /// `setvar NAME VALUE` exports a variable.
    helpers: &'static str,
}

const WATCHED: &str = "AWS_ENDPOINT_URL JIT_ENDPOINT_URL AWS_REGION AWS_DEFAULT_REGION JIT_ENV";

const BASH: Sh = Sh {
    argv: &["bash", "--norc", "--noprofile", "-c"],
    init: "eval \"$(jit init bash)\"",
    status: "$?",
    if_ok: "if {}; then echo if=ok; else echo if=bad; fi",
    helpers: "show() { local v out=\"$1:\"; for v in WATCHED; do out+=\" ${!v--}\"; done; printf '%s\\n' \"$out\"; }\n\
              setvar() { export \"$1=$2\"; }\n",
};

const ZSH: Sh = Sh {
    argv: &["zsh", "--no-rcs", "-c"],
    init: "eval \"$(jit init zsh)\"",
    status: "$?",
    if_ok: "if {}; then echo if=ok; else echo if=bad; fi",
    helpers: "show() { local v out=\"$1:\"; for v in WATCHED; do out+=\" ${(P)v--}\"; done; print -r -- \"$out\"; }\n\
              setvar() { export \"$1=$2\"; }\n",
};

const FISH: Sh = Sh {
    argv: &["fish", "--no-config", "-c"],
    init: "jit init fish | source",
    status: "$status",
    if_ok: "if {}; echo if=ok; else; echo if=bad; end",
    helpers: "function show; set -l out \"$argv[1]:\"; for v in WATCHED; if set -q $v; set out \"$out $$v\"; else; set out \"$out -\"; end; end; echo $out; end\n\
              function setvar; set -gx $argv[1] $argv[2]; end\n",
};

const SHELLS: [&Sh; 3] = [&BASH, &ZSH, &FISH];

/// Run `body` in `sh` after loading the hook and the helpers.
#[track_caller]
fn in_shell(sb: &Sandbox, sh: &Sh, body: &str) -> Run {
    let script = format!(
        "{}\n{}\n{body}",
        sh.init,
        sh.helpers.replace("WATCHED", WATCHED)
    );
    finish(
        sb.command(sh.argv[0])
            .args(&sh.argv[1..])
            .arg(&script)
            .output()
            .expect("start the shell"),
    )
}

const DEV_ENDPOINT: &str = "http://127.0.0.1:9/dev-endpoint";

/// `dev` with an endpoint and a region of its own; `admin` with neither (the portal sends no
/// region), as `jit portal serve --demo`'s environment next to a production one.
fn two_environments(portal: &StandIn) -> Sandbox {
    let sb = Sandbox::new();
    let user = sb.token_file(&portal.user_token);
    let admin = sb.token_file(&portal.admin_token);
    sb.write_config(&format!(
        "[env.dev]\nhost = \"{url}\"\ntenant = \"dev01\"\ntoken_file = \"{user}\"\nregion = \"eu-central-1\"\nendpoint_url = \"{DEV_ENDPOINT}\"\n\n\
         [env.admin]\nhost = \"{url}\"\nadmin = true\ntoken_file = \"{admin}\"\n",
        url = portal.url
    ));
    portal.state().region = String::new();
    sb
}

#[test]
fn switching_environments_leaves_nothing_of_the_last_one() {
    let portal = StandIn::start();
    let sb = two_environments(&portal);
    let body = "setvar AWS_ENDPOINT_URL http://mine.example\n\
                jitnow admin; show admin-keeps-mine\n\
                jitnow dev; show dev\n\
                jitnow admin; show admin-after-dev\n\
                jitnow dev; setvar AWS_ENDPOINT_URL http://override.example; jitnow admin; show admin-keeps-override\n\
                jitoff; show off\n";
    let want = format!(
        "admin-keeps-mine: http://mine.example - - - admin\n\
         dev: {DEV_ENDPOINT} {DEV_ENDPOINT} eu-central-1 eu-central-1 dev\n\
         admin-after-dev: - - - - admin\n\
         admin-keeps-override: http://override.example - - - admin\n\
         off: http://override.example - - - -\n"
    );
    for sh in SHELLS {
        let run = in_shell(&sb, sh, body);
        assert_eq!(run.stdout, want, "{}: {}", sh.argv[0], run.stderr);
    }
}

#[test]
fn exec_drops_the_endpoint_jit_set_but_not_the_users() {
    let portal = StandIn::start();
    let sb = two_environments(&portal);
    let show = "echo ${AWS_ENDPOINT_URL-unset}";
    let run = |endpoint: &str, mark: Option<&str>| {
        let mut cmd = sb.jit(&["exec", "admin", "--force", "--", "sh", "-c", show]);
        cmd.env("AWS_ENDPOINT_URL", endpoint);
        if let Some(mark) = mark {
            cmd.env("JIT_ENDPOINT_URL", mark);
        }
        finish(cmd.output().expect("exec")).ok().stdout
    };
    assert_eq!(run(DEV_ENDPOINT, Some(DEV_ENDPOINT)), "unset\n");
    assert_eq!(run("http://mine.example", None), "http://mine.example\n");
    assert_eq!(
        run("http://mine.example", Some(DEV_ENDPOINT)),
        "http://mine.example\n"
    );
}

#[test]
fn hook_functions_return_zero_on_success_and_non_zero_on_failure() {
    let portal = StandIn::start();
    let sb = two_environments(&portal);
    for sh in SHELLS {
        let st = sh.status;
        let body = format!(
            "jitoff; echo \"off-before={st}\"\n\
             jitnow dev; echo \"now={st}\"\n\
             {}\n\
             jitnow dev && echo and=ok\n\
             jitnow nope 2>/dev/null; echo \"missing={st}\"\n\
             jitnow 2>/dev/null; echo \"usage={st}\"\n\
             jitnow --bogus 2>/dev/null; echo \"bad-flag={st}\"\n\
             jitnow --help >/dev/null; echo \"help={st}\"\n\
             jitoff; echo \"off={st}\"\n\
             jitoff; echo \"off-again={st}\"\n",
            sh.if_ok.replace("{}", "jitnow admin")
        );
        let run = in_shell(&sb, sh, &body);
        assert_eq!(
            run.stdout,
            "off-before=0\nnow=0\nif=ok\nand=ok\nmissing=2\nusage=2\nbad-flag=2\nhelp=0\noff=0\noff-again=0\n",
            "{}: {}",
            sh.argv[0],
            run.stderr
        );
    }
}

/// Values that end a quoted string, run code or expand in some shell (the empty one aside: a
/// portal always sends a secret).
fn hostile() -> Vec<String> {
    let all: Vec<String> =
        serde_json::from_str(include_str!("../../hostile.json")).expect("tests/hostile.json");
    all.into_iter().filter(|v| !v.is_empty()).collect()
}

/// A name for `jitnow` (so also for the config file, JIT_ENV and the prompt) with a bit of all.
const HOSTILE_NAME: &str = "it's $(touch pwned) `x` {a,b} \u{2019}; \\ %F{red}";

#[test]
fn hostile_portal_values_come_back_byte_for_byte_in_bash_zsh_and_fish() {
    let sb = Sandbox::new().env("HOSTILE_NAME", HOSTILE_NAME);
    // One stand-in per value, each answering with it as the secret key and inside the token.
    let hostile = hostile();
    let portals: Vec<StandIn> = hostile
        .iter()
        .enumerate()
        .map(|(i, value)| {
            let portal = StandIn::start();
            portal.state().raw_body = Some(
                serde_json::json!({
                    "AccessKeyId": format!("ASIAHOSTILE{i:09}"),
                    "SecretAccessKey": value,
                    "SessionToken": format!("t{value}t"),
                    "Region": "us-west-2",
                    "Validity": 3600,
                })
                .to_string(),
            );
            portal
        })
        .collect();
    let mut config = String::new();
    for (i, portal) in portals.iter().enumerate() {
        let name = if i == 0 {
            serde_json::to_string(HOSTILE_NAME).expect("json")
        } else {
            format!("e{i}")
        };
        config.push_str(&format!(
            "[env.{name}]\nhost = \"{}\"\nadmin = true\ntoken_file = \"{}\"\n",
            portal.url,
            sb.token_file(&portal.admin_token)
        ));
    }
    sb.write_config(&config);
    let out = sb.dir.path().join("out");
    std::fs::create_dir_all(&out).expect("mkdir");

    for sh in SHELLS {
        let shell = sh.argv[0];
        let mut body = String::new();
        for i in 0..hostile.len() {
            let env = if i == 0 {
                "\"$HOSTILE_NAME\"".to_string()
            } else {
                format!("e{i}")
            };
            let dir = out.display();
            body.push_str(&format!(
                "jitnow {env}\n\
                 printenv AWS_SECRET_ACCESS_KEY > '{dir}/{shell}-{i}-secret'\n\
                 printenv AWS_SESSION_TOKEN > '{dir}/{shell}-{i}-token'\n\
                 printenv JIT_ENV > '{dir}/{shell}-{i}-name'\n"
            ));
        }
        let run = in_shell(&sb, sh, &body);
        assert!(
            run.stderr.lines().all(|l| l.starts_with("jit: debug:")),
            "{shell}: {}",
            run.stderr
        );
        let read = |file: String| {
            let bytes = std::fs::read(out.join(&file)).unwrap_or_default();
            // printenv ends what it prints with one newline of its own.
            String::from_utf8(bytes)
                .ok()
                .and_then(|s| s.strip_suffix('\n').map(str::to_string))
                .unwrap_or_else(|| panic!("{shell}: nothing readable in {file}"))
        };
        for (i, value) in hostile.iter().enumerate() {
            assert_eq!(read(format!("{shell}-{i}-secret")), *value, "{shell}");
            assert_eq!(
                read(format!("{shell}-{i}-token")),
                format!("t{value}t"),
                "{shell}"
            );
        }
        assert_eq!(read(format!("{shell}-0-name")), HOSTILE_NAME, "{shell}");
        assert!(!sb.home().join("pwned").exists(), "{shell} ran portal code");
    }

    // No PowerShell here: every statement stays on one line and parses (the quoting rules
    // themselves are unit-tested in src/shell.rs).
    let mut ps = String::new();
    for i in 0..hostile.len() {
        let env = if i == 0 {
            HOSTILE_NAME.to_string()
        } else {
            format!("e{i}")
        };
        let code = sb.run(&["env", &env, "--format", "powershell"]).ok().stdout;
        assert!(
            code.lines().all(|l| ["$Env:", "Remove-Item ", "if ($Env:"]
                .iter()
                .any(|start| l.starts_with(start))),
            "{code}"
        );
        ps.push_str(&code);
    }
    assert_powershell_parses(&sb, &ps);
}

#[track_caller]
fn assert_powershell_parses(sb: &Sandbox, code: &str) {
    let file = sb.dir.path().join("code.ps1");
    std::fs::write(&file, code).expect("write");
    let py = "import sys, tree_sitter as ts, tree_sitter_powershell as tsp\n\
              tree = ts.Parser(ts.Language(tsp.language())).parse(open(sys.argv[1], 'rb').read())\n\
              print('error' if tree.root_node.has_error else 'ok')\n";
    let run = finish(
        sb.command(crate::support::venv_bin("python"))
            .args(["-c", py])
            .arg(&file)
            .output()
            .expect("python"),
    )
    .ok();
    assert_eq!(run.stdout, "ok\n", "tree-sitter-powershell: {code}");
}

#[test]
fn values_that_are_not_what_they_claim_are_refused_before_any_shell_sees_them() {
    let portal = StandIn::start();
    let sb = Sandbox::new();
    sb.standard_config(&portal);
    let body = |key: &str, region: &str| {
        serde_json::json!({
            "AccessKeyId": key, "SecretAccessKey": "s", "SessionToken": "t",
            "Region": region, "Validity": 3600,
        })
        .to_string()
    };
    for (key, region, needle) in [
        ("ASIA{A,B}XXXXXXXXXXX", "us-west-2", "access key id"),
        ("ASIA$(touch pwned)XX", "us-west-2", "access key id"),
        (
            "ASIAOK00000000000000",
            "us-west-2'; touch pwned; '",
            "not an AWS region name",
        ),
    ] {
        portal.state().raw_body = Some(body(key, region));
        for format in ["sh", "fish", "powershell", "json"] {
            sb.run(&["env", "dev", "--no-cache", "--format", format])
                .fails(1, needle);
        }
        sb.run(&["exec", "dev", "--no-cache", "--", "true"])
            .fails(1, needle);
    }
    sb.write_config(&format!(
        "[env.dev]\nhost = \"{}\"\ntenant = \"dev01\"\ntoken_file = \"{}\"\nendpoint_url = \"localhost:4566; touch pwned\"\n",
        portal.url,
        sb.token_file(&portal.user_token)
    ));
    portal.state().raw_body = None;
    sb.run(&["env", "dev", "--format", "sh"])
        .fails(1, "is not an http:// or https:// URL");
    assert!(!sb.home().join("pwned").exists());
}

/// Every `clone` that starts a process (threads share the address space and do not count).
fn processes_started(strace_log: &Path) -> usize {
    std::fs::read_to_string(strace_log)
        .expect("strace log")
        .lines()
        .filter(|l| {
            ["clone(", "clone3(", "fork(", "vfork("]
                .iter()
                .any(|c| l.contains(c))
        })
        .filter(|l| !l.contains("CLONE_THREAD"))
        .count()
}

#[test]
fn prompt_counts_seconds_in_the_last_minute_without_starting_a_process() {
    assert!(
        which::which("strace").is_ok(),
        "strace is missing: run scripts/test-deps.sh"
    );
    let sb = Sandbox::new();
    for (shell, argv, set, show, per_prompt) in prompt_cases("prod") {
        let set = set.as_str();
        let hook = sb.run(&["init", shell]).ok().stdout;
        let file = sb.dir.path().join(format!("hook.{shell}"));
        std::fs::write(&file, hook).expect("write hook");
        let log = sb.dir.path().join(format!("strace.{shell}"));
        let script = format!(
            "source '{}'\n{}\n{show}\n{show}\n{show}\n{}\n{show}\n",
            file.display(),
            set.replace("SECS", "45"),
            set.replace("SECS", "90"),
        );
        let run = finish(
            sb.command("strace")
                .args(["-f", "-qq", "-e", "trace=clone,clone3,fork,vfork", "-o"])
                .arg(&log)
                .args(argv)
                .arg(&script)
                .output()
                .expect("strace"),
        )
        .ok();
        let lines: Vec<&str> = run.stdout.lines().collect();
        assert_eq!(lines.len(), 4, "{shell}: {}", run.stdout);
        for line in &lines[..3] {
            assert!(
                (40..=45).any(|s| line.contains(&format!("[prod {s}s!]"))),
                "{shell}, 45 s left: {line:?}"
            );
        }
        assert!(
            lines[3].contains("[prod 1m!]"),
            "{shell}, 90 s: {}",
            lines[3]
        );
        // The fish setup line runs `date` twice itself.
        let setup = if shell == "fish" { 2 } else { 0 };
        let started = processes_started(&log);
        assert!(
            started <= setup + 4 * per_prompt,
            "{shell} started {started} processes for 4 prompts"
        );
    }
}

/// Load `hook` and run `setup`, then three prompts (`show`) under strace: what they printed, the
/// processes started beyond the shell's own (the prompts' `per_prompt` each, fish's `date` in
/// `setup`), and the runs of jit among them.
#[track_caller]
fn three_prompts(
    sb: &Sandbox,
    (shell, argv, show, per_prompt): (&str, &[&str], &str, usize),
    hook: &Path,
    setup: &str,
    tag: &str,
) -> (String, usize, usize) {
    let log = sb.dir.path().join(format!("strace.{shell}.{tag}"));
    let script = format!(
        "source '{}'\n{setup}\n{show}\n{show}\n{show}\n",
        hook.display()
    );
    let run = finish(
        sb.command("strace")
            .args(["-f", "-qq", "-e", "trace=clone,clone3,fork,vfork,execve"])
            .arg("-o")
            .arg(&log)
            .args(argv)
            .arg(&script)
            .output()
            .expect("strace"),
    )
    .ok();
    let jit_runs = std::fs::read_to_string(&log)
        .expect("strace log")
        .lines()
        .filter(|l| l.contains(&format!("execve(\"{JIT}\"")))
        .count();
    // The fish setup line runs `date` once itself.
    let own = usize::from(shell == "fish") + 3 * per_prompt;
    (run.stdout, processes_started(&log) - own, jit_runs)
}

/// Write the hook for `shell` where a script can source it.
fn hook_file(sb: &Sandbox, shell: &str) -> PathBuf {
    let hook = sb.run(&["init", shell]).ok().stdout;
    let file = sb.dir.path().join(format!("hook.{shell}"));
    std::fs::write(&file, hook).expect("write hook");
    file
}

/// Renewal on: prompts with plenty of time left start no process (fish: its one `date`); a due
/// renewal starts jit once, shows its failure in the indicator, and is not retried at once; with
/// the indicator off (JIT_PROMPT=0) renewal still happens.
#[test]
fn renewal_starts_a_process_only_when_due() {
    assert!(
        which::which("strace").is_ok(),
        "strace is missing: run scripts/test-deps.sh"
    );
    // No config: `jit env nope` fails at once, without the network.
    let sb = Sandbox::new().env("JIT_AUTO_RENEW", "1");
    for (shell, argv, set, show, per_prompt) in prompt_cases("nope") {
        let file = hook_file(&sb, shell);
        let traced = |secs: &str, tag: &str, pre: &str| {
            let setup = format!("{pre}\n{}", set.replace("SECS", secs));
            three_prompts(&sb, (shell, argv, show, per_prompt), &file, &setup, tag)
        };

        let (out, started, _) = traced("7200", "idle", "");
        assert!(
            out.contains("[nope 119m]") || out.contains("[nope 120m]"),
            "{shell}: {out}"
        );
        assert_eq!(
            started, 0,
            "{shell}: processes for 3 prompts with time left"
        );

        let (out, started, jit_runs) = traced("300", "due", "");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{shell}: {out}");
        for line in lines {
            assert!(
                line.contains("[nope 4m renew failed]") || line.contains("[nope 5m renew failed]"),
                "{shell}, a failed renewal: {line:?}"
            );
        }
        assert_eq!(
            jit_runs, 1,
            "{shell}: one jit for 3 prompts with a renewal due"
        );
        // bash forks a subshell for `$(...)`, which forks jit.
        assert!(
            (1..=2).contains(&started),
            "{shell} started {started} processes for one renewal"
        );

        // Without the indicator renewal still runs; its failure has nowhere to show.
        let off = if shell == "fish" {
            "set -g JIT_PROMPT 0"
        } else {
            "JIT_PROMPT=0"
        };
        let (out, _, jit_runs) = traced("300", "off", off);
        assert!(out.trim().is_empty(), "{shell}, no indicator: {out:?}");
        assert_eq!(jit_runs, 1, "{shell}: renewal with JIT_PROMPT=0");
    }
}

/// Credentials riding an access grant (JIT_GRANT_END): with renewal on the prompt counts down the
/// grant, marked ` grant`; credentials that end with their grant, or in its last 15 minutes, are
/// not renewed (the portal would refuse), so those prompts start nothing; shorter ones are renewed
/// as ever. With renewal off the count is the credentials', still marked ` grant`. A
/// JIT_GRANT_END that is not 1 to 18 digits is never evaluated, nor counted.
#[test]
fn under_a_grant_the_prompt_counts_the_grant_and_renews_only_within_it() {
    assert!(
        which::which("strace").is_ok(),
        "strace is missing: run scripts/test-deps.sh"
    );
    // No config: `jit env nope` fails at once, without the network.
    let sb = Sandbox::new().env("JIT_AUTO_RENEW", "1");
    for (shell, argv, set, show, per_prompt) in prompt_cases("nope") {
        let file = hook_file(&sb, shell);
        // The grant ends `extra` seconds after the credentials, which end in 5 minutes; `pre`
        // runs first.
        let traced_after = |pre: &str, extra: &str, tag: &str| {
            let grant = if shell == "fish" {
                format!("set -gx JIT_GRANT_END (math $JIT_EXPIRES + {extra})")
            } else {
                format!("export JIT_GRANT_END=$((JIT_EXPIRES + {extra}))")
            };
            let setup = format!("{pre}\n{}\n{grant}", set.replace("SECS", "300"));
            three_prompts(&sb, (shell, argv, show, per_prompt), &file, &setup, tag)
        };
        let traced = |extra: &str, tag: &str| traced_after("", extra, tag);

        // The credentials end with the grant: a renewal is due by the window, yet none is tried.
        let (out, started, jit_runs) = traced("0", "with-grant");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{shell}: {out}");
        for line in lines {
            assert!(
                line.contains("[nope 4m! grant]") || line.contains("[nope 5m! grant]"),
                "{shell}, credentials that end with the grant: {line:?}"
            );
        }
        assert_eq!(
            (jit_runs, started),
            (0, 0),
            "{shell}: no renewal of credentials that end with their grant"
        );

        // 500 s more of grant: it is in its last 15 minutes, which the portal does not vend.
        let (out, started, jit_runs) = traced("500", "grant-ending");
        assert!(
            out.contains("[nope 13m grant]") || out.contains("[nope 12m grant]"),
            "{shell}: {out}"
        );
        assert_eq!(
            (jit_runs, started),
            (0, 0),
            "{shell}: no renewal in the grant's last 15 minutes"
        );

        // An hour more of grant: the count is the grant's, and renewal goes on within it.
        let (out, _, jit_runs) = traced("3600", "grant-longer");
        assert!(
            out.contains("[nope 64m grant renew failed]")
                || out.contains("[nope 65m grant renew failed]"),
            "{shell}: {out}"
        );
        assert_eq!(jit_runs, 1, "{shell}: one renewal within the grant");

        // Renewal off: nothing keeps the shell going past the credentials, so theirs is the
        // count (with its warning), still marked ` grant`.
        let off = if shell == "fish" {
            "set -e JIT_AUTO_RENEW"
        } else {
            "unset JIT_AUTO_RENEW"
        };
        let (out, started, jit_runs) = traced_after(off, "3600", "renewal-off");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{shell}: {out}");
        for line in lines {
            assert!(
                line.contains("[nope 4m! grant]") || line.contains("[nope 5m! grant]"),
                "{shell}, renewal off under a longer grant: {line:?}"
            );
        }
        assert_eq!(
            (jit_runs, started),
            (0, 0),
            "{shell}: no renewal with renewal off"
        );
    }

    // Only 1 to 18 digits reach the shells' arithmetic: not an expression, nor 19 digits (which
    // zsh's `<->` alone would take).
    let pwned = sb.dir.path().join("pwned");
    let hostile = format!("a[$(touch {})]", pwned.display());
    let cases = prompt_cases("nope").into_iter().flat_map(|case| {
        [hostile.clone(), "1000000000000000000".to_owned()].map(|end| (case.clone(), end))
    });
    for ((shell, argv, set, show, _), end) in cases {
        let file = hook_file(&sb, shell);
        let grant = if shell == "fish" {
            format!("set -gx JIT_GRANT_END '{end}'")
        } else {
            format!("export JIT_GRANT_END='{end}'")
        };
        let script = format!(
            "source '{}'\n{}\n{grant}\n{show}\n",
            file.display(),
            set.replace("SECS", "7200")
        );
        let run = finish(
            sb.command(argv[0])
                .args(&argv[1..])
                .arg(&script)
                .output()
                .expect("shell"),
        )
        .ok();
        assert!(
            run.stdout.contains("[nope 119m]") || run.stdout.contains("[nope 120m]"),
            "{shell}, JIT_GRANT_END={end}: {}",
            run.stdout
        );
        assert!(!pwned.exists(), "{shell} ran JIT_GRANT_END");
    }
}

#[test]
fn loading_the_hook_leaves_status_zero_even_before_compinit() {
    let sb = Sandbox::new();
    for sh in SHELLS {
        let run = finish(
            sb.command(sh.argv[0])
                .args(&sh.argv[1..])
                .arg(format!("{}\necho init={}", sh.init, sh.status))
                .output()
                .expect("shell"),
        )
        .ok();
        assert_eq!(run.stdout, "init=0\n", "{}", sh.argv[0]);
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// shellcheck with every optional check on; its findings, if any.
fn shellcheck(sb: &Sandbox, args: &[&str], stdin: Option<&str>) -> Option<String> {
    let mut child = sb
        .command("shellcheck")
        .current_dir(repo())
        .arg("--enable=all")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("shellcheck (run scripts/test-deps.sh)");
    std::io::Write::write_all(
        child.stdin.as_mut().expect("stdin"),
        stdin.unwrap_or_default().as_bytes(),
    )
    .expect("write");
    let out = child.wait_with_output().expect("wait");
    (!out.status.success()).then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn every_hand_written_script_passes_shellcheck_with_all_checks() {
    let sb = Sandbox::new();
    let mut scripts = vec![
        "install.sh".to_string(),
        "get.sh".to_string(),
        ".ci/run".to_string(),
    ];
    for entry in std::fs::read_dir(repo().join("scripts")).expect("scripts/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "sh") {
            scripts.push(format!(
                "scripts/{}",
                path.file_name().expect("name").display()
            ));
        }
    }
    let args: Vec<&str> = scripts.iter().map(String::as_str).collect();
    assert_eq!(shellcheck(&sb, &args, None), None, "{args:?}");
    assert_eq!(
        shellcheck(&sb, &["--shell=bash", "shell/jit.bash"], None),
        None
    );
    let hook = sb.run(&["init", "bash"]).ok().stdout;
    assert_eq!(shellcheck(&sb, &["--shell=bash", "-"], Some(&hook)), None);
    // The check can fail: an unbraced variable is one of the optional checks.
    assert!(
        shellcheck(&sb, &["--shell=sh", "-"], Some("x=1\necho \"$x\"\n")).is_some(),
        "shellcheck --enable=all let an optional finding pass"
    );

    // zsh and fish have no shellcheck: their own parsers, over the scripts as rendered.
    for (shell, check) in [("zsh", ["zsh", "-n"]), ("fish", ["fish", "--no-execute"])] {
        let hook = sb.run(&["init", shell]).ok().stdout;
        let file = sb.dir.path().join(format!("hook.{shell}"));
        std::fs::write(&file, hook).expect("write");
        finish(
            sb.command(check[0])
                .arg(check[1])
                .arg(&file)
                .output()
                .expect("parse"),
        )
        .ok();
    }
}

#[test]
fn env_code_for_sh_passes_shellcheck_with_all_checks() {
    let portal = StandIn::start();
    let sb = two_environments(&portal);
    for env in ["dev", "admin"] {
        let code = sb.run(&["env", env, "--format", "sh"]).ok().stdout;
        assert_eq!(
            shellcheck(&sb, &["--shell=sh", "-"], Some(&code)),
            None,
            "{code}"
        );
    }
}

/// Run install.sh in the sandbox; `args` after `--bin <jit>`.
#[track_caller]
fn install(sb: &Sandbox, args: &[&str]) -> Run {
    finish(
        sb.command("sh")
            .arg(repo().join("install.sh"))
            .args(["--bin", JIT])
            .args(args)
            .output()
            .expect("install.sh"),
    )
    .ok()
}

#[test]
fn install_sh_says_how_to_fix_path_and_fpath() {
    let sb = Sandbox::new();
    let out = install(&sb, &["--shell", "zsh"]).stdout;
    for line in [
        "is not on your PATH",
        "  export PATH=\"$HOME/.local/bin:$PATH\"\n",
        "  fpath=(\"$HOME/.local/share/zsh/site-functions\" $fpath)\n",
        "  eval \"$(jit init zsh)\"\n",
    ] {
        assert!(out.contains(line), "lacks {line:?}:\n{out}");
    }
    let out = install(&sb, &["--shell", "fish"]).stdout;
    assert!(
        out.contains("  fish_add_path \"$HOME/.local/bin\"\n"),
        "{out}"
    );
    // Once the bin dir is on PATH, not a word about it.
    let bin = sb.home().join(".local/bin");
    let path = format!("{}:{}", bin.display(), sb.path_var());
    let out = finish(
        sb.command("sh")
            .env("PATH", &path)
            .arg(repo().join("install.sh"))
            .args(["--bin", JIT, "--shell", "bash"])
            .output()
            .expect("install.sh"),
    )
    .ok()
    .stdout;
    assert!(!out.contains("PATH"), "{out}");
}

#[test]
fn install_sh_shows_cargo_progress_while_it_builds() {
    let sb = Sandbox::new();
    // A cargo that records its arguments and "builds" by copying the test binary.
    let fake = sb.dir.path().join("fakebin");
    std::fs::create_dir_all(&fake).expect("mkdir");
    let cargo = fake.join("cargo");
    std::fs::write(
        &cargo,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" > '{args}'\necho '   Compiling jit v0.1.0' >&2\n\
             while [ $# -gt 0 ]; do [ \"$1\" = --root ] && root=$2; shift; done\n\
             mkdir -p \"$root/bin\" && cp '{JIT}' \"$root/bin/jit\"\n",
            args = sb.dir.path().join("cargo-args").display()
        ),
    )
    .expect("write cargo");
    std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let run = finish(
        sb.command("sh")
            .env("PATH", format!("{}:{}", fake.display(), sb.path_var()))
            .arg(repo().join("install.sh"))
            .args(["--shell", "bash"])
            .output()
            .expect("install.sh"),
    )
    .ok();
    assert!(
        run.stdout
            .contains("building jit and jit-portal with cargo"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("Compiling jit"), "{}", run.stderr);
    let args = std::fs::read_to_string(sb.dir.path().join("cargo-args")).expect("cargo ran");
    assert!(
        args.starts_with("install ") && !args.contains("--quiet"),
        "cargo {args}"
    );
}

/// A person's first shell after `install.sh --add-hook`, with the distribution's default startup
/// file `rc` holding `rc_text`: Tab completes jit's subcommands and environment names.
fn completes_after_install(shell: &str, rc: &str, rc_text: &str) {
    let portal = StandIn::start();
    // Debug lines would land in the middle of the command line.
    let sb = Sandbox::new().env("JIT_VERBOSE", "0");
    sb.standard_config(&portal);
    std::fs::write(sb.home().join(rc), rc_text).expect("rc file");
    install(&sb, &["--shell", shell, "--add-hook"]);
    let t = Tmux::start(&sb, &[shell]);
    t.run("true", "SHELL-READY");
    t.complete("jit ex", "jit exec");
    t.complete("jit exec d", "jit exec dev");
    assert_eq!(
        portal.requests().len(),
        0,
        "completion never touches the network"
    );
}

#[test]
fn completions_from_install_sh_load_in_a_default_bash() {
    assert!(
        Path::new("/usr/share/bash-completion/bash_completion").exists(),
        "bash-completion is missing: run scripts/test-deps.sh"
    );
    // Debian's and Ubuntu's ~/.bashrc for new users loads bash-completion; so does this one.
    let skel = std::fs::read_to_string("/etc/skel/.bashrc")
        .unwrap_or_else(|_| ". /usr/share/bash-completion/bash_completion\n".to_string());
    completes_after_install("bash", ".bashrc", &skel);
}

#[test]
fn completions_from_install_sh_load_in_a_default_zsh() {
    // What zsh-newuser-install writes when completion is turned on.
    completes_after_install("zsh", ".zshrc", "autoload -Uz compinit\ncompinit\n");
}

/// Each shell's way to run a script, to set `JIT_ENV=env` and `JIT_EXPIRES` (now + `SECS`, to be
/// replaced), to print the indicator, and how many processes a prompt may start: fish has no
/// clock of its own and runs `date` once.
fn prompt_cases(
    env: &str,
) -> [(
    &'static str,
    &'static [&'static str],
    String,
    &'static str,
    usize,
); 3] {
    [
        (
            "bash",
            &["bash", "--norc", "--noprofile", "-c"],
            format!("JIT_ENV={env}; JIT_EXPIRES=$((EPOCHSECONDS + SECS))"),
            "__jit_prompt_hook; printf '%s\\n' \"$__jit_ps1\"",
            0,
        ),
        (
            "zsh",
            &["zsh", "--no-rcs", "-c"],
            format!("JIT_ENV={env}; JIT_EXPIRES=$((EPOCHSECONDS + SECS))"),
            "__jit_prompt_hook; print -r -- \"$__jit_prompt\"",
            0,
        ),
        (
            "fish",
            &["fish", "--no-config", "-c"],
            format!("set -gx JIT_ENV {env}; set -gx JIT_EXPIRES (math (date +%s) + SECS)"),
            "__jit_prompt_info; echo",
            1,
        ),
    ]
}
