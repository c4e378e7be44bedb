//! The shell hooks in real bash, zsh and fish under tmux: `jitnow` sets the variables, the prompt
//! shows the time left as a person sees it, `jitoff` clears them. Plus completions and install.sh.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::{JIT, Sandbox, StandIn, Tmux, finish, poll};

struct Case {
    argv: &'static [&'static str],
    init: &'static str,
    status: &'static str,
    is_unset: &'static str,
    expire: &'static str,
}

fn prompt_shows(screen: &str, env: &str) -> bool {
    screen.contains(&format!("[{env} 59m]")) || screen.contains(&format!("[{env} 60m]"))
}

fn exercise(case: &Case) {
    let stand_in = StandIn::start();
    // Debug lines on the screen would read as errors here.
    let sb = Sandbox::new().env("JIT_VERBOSE", "0");
    sb.standard_config(&stand_in);
    // The browser `jitnow --console` opens: an xdg-open first on PATH that records the URL.
    let bin = sb.dir.path().join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let opened = sb.dir.path().join("opened.txt");
    let browser = bin.join("xdg-open");
    std::fs::write(
        &browser,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\n",
            opened.display()
        ),
    )
    .expect("write xdg-open");
    std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let path = format!("{}:{}", bin.display(), sb.path_var());
    let sb = sb.env("PATH", &path);
    let t = Tmux::start(&sb, case.argv);
    t.run(case.init, "INIT-DONE");
    t.run(case.init, "INIT-AGAIN");

    let screen = t.run("jitnow dev", "JITNOW-DONE");
    assert!(
        !screen.contains("jit: "),
        "jitnow printed an error:\n{screen}"
    );
    let key = stand_in.last_key();
    let screen = t.run("echo key=$AWS_ACCESS_KEY_ID env=$JIT_ENV", "ECHO-DONE");
    assert!(
        screen.contains(&format!("key={key} env=dev")),
        "variables set in the shell:\n{screen}"
    );
    t.send("");
    let screen = t.wait("prompt with time left", |s| prompt_shows(s, "dev"));
    assert!(
        !screen.contains("[dev 59m] [dev"),
        "sourcing twice must not double the indicator:\n{screen}"
    );

    // A failed fetch leaves the shell as it was and returns non-zero.
    let screen = t.run(
        &format!(
            "jitnow nope; echo rc={} still=$AWS_ACCESS_KEY_ID",
            case.status
        ),
        "FAIL-DONE",
    );
    assert!(screen.contains(&format!("rc=2 still={key}")), "{screen}");
    // $? survives the prompt hook.
    t.send("false");
    let screen = t.run(&format!("echo st={}", case.status), "STATUS-DONE");
    assert!(
        screen.contains("st=1"),
        "$? must survive the prompt hook:\n{screen}"
    );

    // --console opens the signed-in console from the cached session; --no-cache fetches anew.
    let calls = stand_in.cred_calls();
    t.run("jitnow --console dev", "CONSOLE-DONE");
    let url = poll(Duration::from_secs(10), || {
        let text = std::fs::read_to_string(&opened).unwrap_or_default();
        (!text.is_empty())
            .then_some(text)
            .ok_or_else(|| "no browser opened".to_string())
    });
    // The browser gets a private page that redirects to the sign-in URL, not the URL itself.
    let page = std::fs::read_to_string(url.trim()).unwrap_or_default();
    assert!(
        page.contains(&format!("{}/federation?Action=login&", stand_in.url)),
        "the browser got: {url:?}"
    );
    assert_eq!(
        stand_in.cred_calls(),
        calls,
        "console served from the cache"
    );
    t.run("jitnow --no-cache dev", "NOCACHE-DONE");
    assert_eq!(stand_in.cred_calls(), calls + 1, "--no-cache reaches jit");
    let fresh = stand_in.last_key();
    assert_ne!(fresh, key);
    let screen = t.run("echo nocache=$AWS_ACCESS_KEY_ID", "NOCACHE-ECHO");
    assert!(screen.contains(&format!("nocache={fresh}")), "{screen}");

    // Under ten minutes: the warning form.
    stand_in.state().tenants[0].validity = 300;
    t.run("jitnow --refresh dev", "REFRESH-DONE");
    t.send("");
    t.wait("warning indicator", |s| {
        s.contains("[dev 4m!]") || s.contains("[dev 5m!]")
    });
    t.run(case.expire, "EXPIRE-DONE");
    t.send("");
    t.wait("expired indicator", |s| s.contains("[dev expired]"));

    let screen = t.run(&format!("jitoff; {}", case.is_unset), "OFF-DONE");
    assert!(
        screen.contains("cleared"),
        "jitoff clears the variables:\n{screen}"
    );
    t.send("echo after-off");
    let screen = t.wait("prompt after jitoff", |s| s.contains("\nafter-off"));
    let prompt = screen
        .lines()
        .find(|l| l.ends_with("echo after-off"))
        .expect("prompt line");
    assert!(
        !prompt.contains("[dev"),
        "no indicator without a session: {prompt}"
    );
}

#[test]
fn bash_hook_in_a_real_terminal() {
    exercise(&Case {
        argv: &["bash", "--norc", "--noprofile"],
        init: "eval \"$(jit init bash)\"",
        status: "$?",
        is_unset: "[ -z \"${AWS_ACCESS_KEY_ID+x}${JIT_ENV+x}\" ] && echo cleared",
        expire: "JIT_EXPIRES=1",
    });
}

#[test]
fn zsh_hook_in_a_real_terminal() {
    exercise(&Case {
        argv: &["zsh", "--no-rcs"],
        init: "eval \"$(jit init zsh)\"",
        status: "$?",
        is_unset: "[[ -z ${AWS_ACCESS_KEY_ID+x}${JIT_ENV+x} ]] && echo cleared",
        expire: "JIT_EXPIRES=1",
    });
}

#[test]
fn fish_hook_in_a_real_terminal() {
    exercise(&Case {
        argv: &["fish", "--no-config"],
        init: "jit init fish | source",
        status: "$status",
        is_unset: "set -q AWS_ACCESS_KEY_ID; or set -q JIT_ENV; or echo cleared",
        expire: "set -gx JIT_EXPIRES 1",
    });
}

#[test]
fn rendered_bash_hook_passes_shellcheck_and_sources_under_strict_mode() {
    let sb = Sandbox::new();
    let hook = sb.run(&["init", "bash"]).ok().stdout;
    let mut check = sb.command("shellcheck");
    check
        .args(["-s", "bash", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = check.spawn().expect("shellcheck");
    std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), hook.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let script = format!("{hook}\n{hook}\n__jit_prompt_hook; echo \"pc=$PROMPT_COMMAND\"");
    let run = finish(
        sb.command("bash")
            .args(["--norc", "-euo", "pipefail", "-c", &script])
            .output()
            .expect("bash"),
    )
    .ok();
    assert_eq!(run.stdout, "pc=__jit_prompt_hook\n");
}

#[test]
fn powershell_hook_parses() {
    let sb = Sandbox::new();
    let hook = sb.run(&["init", "powershell"]).ok().stdout;
    let file = sb.dir.path().join("hook.ps1");
    std::fs::write(&file, &hook).expect("write");
    let py = "import sys, tree_sitter as ts, tree_sitter_powershell as tsp\n\
              tree = ts.Parser(ts.Language(tsp.language())).parse(open(sys.argv[1], 'rb').read())\n\
              bad = [n for n in tree.root_node.descendants if n.is_error or n.is_missing] if hasattr(tree.root_node, 'descendants') else []\n\
              print('error' if tree.root_node.has_error else 'ok', tree.root_node.child_count)\n";
    let run = finish(
        sb.command(crate::support::venv_bin("python"))
            .args(["-c", py])
            .arg(&file)
            .output()
            .expect("python"),
    )
    .ok();
    assert!(
        run.stdout.starts_with("ok "),
        "tree-sitter-powershell found errors: {}",
        run.stdout
    );
    // And a broken script is caught, so the check can fail.
    std::fs::write(&file, "function global:jitnow { if ($x -eq ) { ").expect("write");
    let run = finish(
        sb.command(crate::support::venv_bin("python"))
            .args(["-c", py])
            .arg(&file)
            .output()
            .expect("python"),
    )
    .ok();
    assert!(run.stdout.starts_with("error"), "{}", run.stdout);
}

#[test]
fn committed_completions_are_current() {
    let sb = Sandbox::new();
    for (shell, file) in [
        ("bash", "jit.bash"),
        ("zsh", "jit.zsh"),
        ("fish", "jit.fish"),
        ("powershell", "jit.ps1"),
    ] {
        let generated = sb.run(&["completions", shell]).ok().stdout;
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("completions")
            .join(file);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            generated == committed,
            "completions/{file} is out of date: run `jit completions {shell} > completions/{file}`"
        );
    }
}

#[test]
fn env_names_complete_from_local_config_in_fish() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new();
    sb.standard_config(&stand_in);
    let comp = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("completions")
        .join("jit.fish");
    let script = format!(
        "source {}; complete -C 'jit exec d'; complete -C 'jit console a'",
        comp.display()
    );
    let run = finish(
        sb.command("fish")
            .args(["--no-config", "-c", &script])
            .output()
            .expect("fish"),
    )
    .ok();
    let names: Vec<&str> = run
        .stdout
        .lines()
        .map(|l| l.split('\t').next().unwrap_or(""))
        .collect();
    assert_eq!(names, ["dev", "admin"], "{}", run.stdout);
    assert_eq!(
        stand_in.requests().len(),
        0,
        "completion never touches the network"
    );
}

/// Tab pressed in a real bash and zsh under tmux completes env names from the config file.
#[test]
fn env_names_complete_on_tab_in_bash_and_zsh() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new().env("JIT_VERBOSE", "0");
    sb.standard_config(&stand_in);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
    let cases: [(&[&str], String); 2] = [
        (
            &["bash", "--norc", "--noprofile"],
            format!("source {}", dir.join("jit.bash").display()),
        ),
        (
            &["zsh", "--no-rcs"],
            format!(
                "autoload -Uz compinit && compinit -u && source {}",
                dir.join("jit.zsh").display()
            ),
        ),
    ];
    for (argv, setup) in cases {
        let t = Tmux::start(&sb, argv);
        t.run(&setup, "SETUP-DONE");
        t.complete("jit exec d", "jit exec dev");
        t.complete("jit console a", "jit console admin");
    }
    assert_eq!(
        stand_in.requests().len(),
        0,
        "completion never touches the network"
    );
}

#[test]
fn install_sh_installs_and_adds_the_hook_once() {
    let sb = Sandbox::new();
    let prefix = sb.dir.path().join("prefix");
    let install = Path::new(env!("CARGO_MANIFEST_DIR")).join("install.sh");
    for _ in 0..2 {
        let mut cmd = sb.command("sh");
        cmd.arg(&install)
            .args(["--bin", JIT, "--shell", "bash", "--add-hook", "--prefix"])
            .arg(&prefix);
        finish(cmd.output().expect("install")).ok();
    }
    assert!(prefix.join("bin").join("jit").exists());
    let rc = std::fs::read_to_string(sb.home().join(".bashrc")).expect("bashrc");
    assert_eq!(rc.matches("eval \"$(jit init bash)\"").count(), 1, "{rc}");
    let comp = sb
        .home()
        .join(".local/share/bash-completion/completions/jit");
    assert!(
        std::fs::read_to_string(comp)
            .expect("completions")
            .contains("JIT_COMPLETE=\"bash\"")
    );
    let run = finish(
        sb.command("sh")
            .arg(&install)
            .args(["--shell", "tcsh", "--bin", JIT, "--prefix"])
            .arg(&prefix)
            .output()
            .expect("install"),
    );
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr.contains("unsupported shell 'tcsh'"),
        "{}",
        run.stderr
    );
    let _ = Command::new("true");
}

/// How one shell turns renewal on, for `renews_from_the_prompt`.
struct Renewal {
    argv: &'static [&'static str],
    init: &'static str,
    auto_on: &'static str,
}

/// Credentials that live five minutes under a ten-minute refresh window: every prompt with
/// renewal on finds them due. `jitnow --renew` renews at the next prompt with one run of jit; a
/// failed renewal shows in the indicator and prints nothing, and is not retried within a minute.
fn renews_from_the_prompt(case: &Renewal) {
    let stand_in = StandIn::start();
    stand_in.state().tenants[0].validity = 300;
    let sb = Sandbox::new()
        .env("JIT_VERBOSE", "0")
        .env("JIT_REFRESH_WINDOW", "600");
    sb.standard_config(&stand_in);
    let t = Tmux::start(&sb, case.argv);
    t.run(case.init, "INIT-DONE");
    t.run(case.init, "INIT-AGAIN");

    let calls = stand_in.cred_calls();
    t.run(
        "jitnow --renew dev; echo first=$AWS_ACCESS_KEY_ID",
        "JITNOW-DONE",
    );
    let screen = t.run("echo now=$AWS_ACCESS_KEY_ID", "NOW-DONE");
    let renewed = stand_in.last_key();
    assert!(
        screen.contains(&format!("now={renewed}")),
        "the shell holds the renewed keys:\n{screen}"
    );
    assert!(
        !screen.contains(&format!("first={renewed}")),
        "jitnow's keys were replaced:\n{screen}"
    );
    t.run("true", "IDLE-1");
    t.run("true", "IDLE-2");
    assert_eq!(
        stand_in.cred_calls(),
        calls + 2,
        "jitnow, then one renewal and no retry within the minute"
    );

    // jitoff turns `--renew` off again: jitnow is served from the cache (short-lived credentials
    // are, for half their life) and its prompts fetch nothing.
    t.run("jitoff; jitnow dev", "PLAIN-DONE");
    t.run("true", "PLAIN-IDLE");
    assert_eq!(stand_in.cred_calls(), calls + 2, "renewal is off");
    let kept = stand_in.last_key();

    stand_in.state().fail = Some((500, "{\"Message\":\"portal down\"}".into()));
    t.run(case.auto_on, "AUTO-ON");
    let screen = t.wait("the failure mark", |s| s.contains(" renew failed] "));
    let after: Vec<&str> = screen
        .lines()
        .skip_while(|l| *l != "AUTO-ON")
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert!(
        after.len() == 1
            && (after[0].contains("[dev 4m renew failed] ")
                || after[0].contains("[dev 5m renew failed] ")),
        "only the prompt, with the failure mark, after the command:\n{screen}"
    );
    let tries = stand_in.state().requests.len();
    let screen = t.run("echo kept=$AWS_ACCESS_KEY_ID", "KEPT-DONE");
    assert!(
        screen.contains(&format!("kept={kept}")),
        "a failed renewal leaves the keys:\n{screen}"
    );
    t.run("true", "FAILED-IDLE");
    assert_eq!(
        stand_in.state().requests.len(),
        tries,
        "no retry within the minute"
    );
}

#[test]
fn bash_renews_from_the_prompt() {
    renews_from_the_prompt(&Renewal {
        argv: &["bash", "--norc", "--noprofile"],
        init: "eval \"$(jit init bash)\"",
        auto_on: "export JIT_AUTO_RENEW=1",
    });
}

#[test]
fn zsh_renews_from_the_prompt() {
    renews_from_the_prompt(&Renewal {
        argv: &["zsh", "--no-rcs"],
        init: "eval \"$(jit init zsh)\"",
        auto_on: "export JIT_AUTO_RENEW=1",
    });
}

#[test]
fn fish_renews_from_the_prompt() {
    renews_from_the_prompt(&Renewal {
        argv: &["fish", "--no-config"],
        init: "jit init fish | source",
        auto_on: "set -gx JIT_AUTO_RENEW 1",
    });
}

/// How one shell starts and loads the hook, for `grant_in_the_prompt`.
struct GrantCase {
    argv: &'static [&'static str],
    init: &'static str,
}

/// Credentials riding an access grant that ends before they would (the portal cuts them to the
/// grant's end): the prompt counts down the grant, marked ` grant`, and with renewal on and a
/// refresh window longer than what is left, no renewal reaches the portal, which would refuse to
/// vend past the grant. With renewal off under a longer grant the count is the credentials', still
/// marked ` grant`: nothing renews them before the grant ends. Back on standing access, jitnow
/// clears the grant's end.
fn grant_in_the_prompt(case: &GrantCase) {
    let stand_in = StandIn::start();
    let end = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() + 1800).expect("ts");
    stand_in.state().grant = Some(("g_stand_in".into(), end));
    // A window of an hour: half an hour left is due for renewal, but for the grant.
    let sb = Sandbox::new()
        .env("JIT_VERBOSE", "0")
        .env("JIT_REFRESH_WINDOW", "3600");
    sb.standard_config(&stand_in);
    let t = Tmux::start(&sb, case.argv);
    t.run(case.init, "INIT-DONE");

    let screen = t.run("jitnow --renew dev", "JITNOW-DONE");
    assert!(
        !screen.contains("jit: "),
        "jitnow printed an error:\n{screen}"
    );
    let calls = stand_in.cred_calls();
    assert_eq!(calls, 1, "jitnow fetched once");
    let screen = t.run("echo \"end=$JIT_GRANT_END\"", "END-DONE");
    assert!(
        screen.contains(&format!("\nend={}\n", end.as_second())),
        "the grant's end in the shell:\n{screen}"
    );
    t.send("");
    t.wait("the grant's time left", |s| {
        s.contains("[dev 29m grant]") || s.contains("[dev 30m grant]")
    });
    t.run("true", "IDLE-1");
    t.run("true", "IDLE-2");
    assert_eq!(
        stand_in.cred_calls(),
        calls,
        "no renewal of credentials that end with their grant"
    );

    // Renewal off under a grant of eight hours: the credentials' hour is what the shell has.
    let long =
        jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() + 8 * 3600).expect("ts");
    stand_in.state().grant = Some(("g_stand_in".into(), long));
    t.run("jitoff; jitnow --refresh dev", "NO-RENEW-DONE");
    t.send("");
    t.wait(
        "the credentials' time left under a grant, renewal off",
        |s| {
            s.rsplit("\nNO-RENEW-DONE").next().is_some_and(|after| {
                after.contains("[dev 59m grant]") || after.contains("[dev 60m grant]")
            })
        },
    );

    // Standing access again: the new credentials carry no grant, and its end goes.
    stand_in.state().grant = None;
    t.run("jitnow --refresh dev", "STANDING-DONE");
    let screen = t.run("echo \"end=:$JIT_GRANT_END:\"", "STANDING-END");
    assert!(
        screen.contains("\nend=::\n"),
        "no grant's end without a grant:\n{screen}"
    );
    t.send("");
    t.wait("the credentials' time left, no grant's", |s| {
        s.rsplit("\nSTANDING-END")
            .next()
            .is_some_and(|after| after.contains("[dev 59m]") || after.contains("[dev 60m]"))
    });
}

#[test]
fn bash_prompt_counts_down_a_grant() {
    grant_in_the_prompt(&GrantCase {
        argv: &["bash", "--norc", "--noprofile"],
        init: "eval \"$(jit init bash)\"",
    });
}

#[test]
fn zsh_prompt_counts_down_a_grant() {
    grant_in_the_prompt(&GrantCase {
        argv: &["zsh", "--no-rcs"],
        init: "eval \"$(jit init zsh)\"",
    });
}

#[test]
fn fish_prompt_counts_down_a_grant() {
    grant_in_the_prompt(&GrantCase {
        argv: &["fish", "--no-config"],
        init: "jit init fish | source",
    });
}
