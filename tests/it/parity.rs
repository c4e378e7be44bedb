//! What a script or profile written for duplo-jit, or a new user, hits: Go flag spellings, scope
//! precedence, `jit duplo`, cache without a token, `jit exec` with no command, names and
//! suggestions, `jit ls` and `jit clear-cache ENV`.

use crate::support::{Portal, Sandbox};

#[test]
fn every_go_spelling_of_every_flag_is_accepted() {
    let portal = Portal::start();
    let sb = Sandbox::new();
    let admin = sb.token_file(&portal.admin_token);
    for yes in ["1", "t", "T", "true", "TRUE", "True"] {
        let flag = format!("-admin={yes}");
        sb.run(&[
            "aws",
            "-debug",
            &flag,
            "-host",
            &portal.url,
            "-token-file",
            &admin,
            "-no-cache",
        ])
        .ok();
    }
    assert_eq!(portal.count("v3/admin/aws/jitAccess/admin"), 6);
    let user = sb.token_file(&portal.user_token);
    for no in ["0", "f", "F", "false", "FALSE", "False"] {
        let flag = format!("--admin={no}");
        sb.run(&[
            "aws",
            &flag,
            "-tenant=dev01",
            "-host",
            &portal.url,
            "-token-file",
            &user,
        ])
        .ok();
    }
    assert_eq!(
        portal.count("v3/admin/aws/jitAccess/admin"),
        6,
        "-admin=<false> is no admin"
    );
}

#[test]
fn admin_wins_over_tenant_with_a_warning() {
    let portal = Portal::start();
    let sb = Sandbox::new();
    let admin = sb.token_file(&portal.admin_token);
    let run = sb
        .run(&[
            "aws",
            "--tenant",
            "dev01",
            "--admin",
            "--host",
            &portal.url,
            "--token-file",
            &admin,
        ])
        .ok();
    run.warns("--admin and --tenant given; using --admin");
    assert_eq!(run.stderr.matches("warning").count(), 1, "{}", run.stderr);
    assert_eq!(portal.count("v3/admin/aws/jitAccess/admin"), 1);
    assert_eq!(portal.count("GetTenantsForUser"), 0);
}

#[test]
fn duplo_checks_the_token_and_logs_in_as_admin() {
    let portal = Portal::start();
    let sb = Sandbox::new();
    let good = sb.token_file(&portal.admin_token);
    let json = sb
        .run(&["duplo", "--host", &portal.url, "--token-file", &good])
        .ok()
        .json();
    assert_eq!(
        json,
        serde_json::json!({"Version": 1, "DuploToken": portal.admin_token, "NeedOTP": false})
    );
    assert_eq!(
        portal.count("v3/features/system"),
        1,
        "the token was checked"
    );
    let bad = sb.token_file("not-a-token-at-all");
    sb.run(&["duplo", "--host", &portal.url, "--token-file", &bad])
        .fails(1, "status 401");
    // The browser login it starts asks for an admin login.
    let (mut child, url) = crate::support::start_login(
        &sb,
        &[
            "duplo",
            "--host",
            &portal.url,
            "--interactive",
            "--no-browser",
        ],
    );
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        url.query_pairs()
            .any(|(k, v)| k == "isAdmin" && v == "true"),
        "{url}"
    );
}

#[test]
fn a_fresh_cached_credential_is_served_without_a_token() {
    let portal = Portal::start();
    let sb = Sandbox::new();
    let admin = sb.token_file(&portal.admin_token);
    let first = sb
        .run(&[
            "aws",
            "--admin",
            "--host",
            &portal.url,
            "--token-file",
            &admin,
        ])
        .ok()
        .key();
    let again = sb
        .run(&["aws", "--admin", "--host", &portal.url])
        .ok()
        .key();
    assert_eq!(first, again);
    assert_eq!(portal.cred_calls(), 1);
    // No cache to serve from: still the usage error.
    sb.run(&["aws", "--admin", "--host", &portal.url, "--no-cache"])
        .fails(2, "no portal token");
}

#[test]
fn exec_without_a_command_runs_the_shell_and_keeps_the_token_from_children() {
    let portal = Portal::start();
    let sb = Sandbox::new()
        .env("SHELL", "/usr/bin/env")
        .env("JIT_TOKEN", &portal.admin_token)
        .env("DUPLO_TOKEN", &portal.admin_token)
        .env("MY_PORTAL_TOKEN", &portal.user_token);
    sb.write_config(&format!(
        "[env.dev]\nhost = \"{}\"\ntenant = \"dev01\"\ntoken_env = \"MY_PORTAL_TOKEN\"\n",
        portal.url
    ));
    let out = sb.run(&["exec", "dev"]).ok().stdout;
    assert!(out.contains("AWS_ACCESS_KEY_ID=ASIA"), "{out}");
    assert!(out.contains("JIT_ENV=dev"), "{out}");
    for secret in [&portal.admin_token, &portal.user_token] {
        assert!(
            !out.contains(secret.as_str()),
            "token reached the child: {out}"
        );
    }
    for var in ["JIT_TOKEN=", "DUPLO_TOKEN=", "MY_PORTAL_TOKEN="] {
        assert!(!out.contains(var), "{var} reached the child: {out}");
    }
}

#[test]
fn exec_exits_127_for_a_missing_command_and_126_for_one_that_cannot_run() {
    let portal = Portal::start();
    let sb = Sandbox::new();
    sb.standard_config(&portal);
    sb.run(&["exec", "dev", "--", "no-such-command-anywhere"])
        .fails(
            127,
            "cannot run 'no-such-command-anywhere': command not found",
        );
    let script = sb.dir.path().join("not-executable.sh");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").expect("script");
    sb.run(&["exec", "dev", "--", script.to_str().expect("utf8")])
        .fails(126, "cannot run");
}

#[test]
fn unknown_environments_and_bad_names_are_usage_errors_with_help() {
    let portal = Portal::start();
    let sb = Sandbox::new();
    sb.standard_config(&portal);
    sb.run(&["env", "devv"])
        .fails(2, "unknown environment 'devv' (did you mean 'dev'?)");
    let run = sb
        .run(&["env", "zzzz"])
        .fails(2, "unknown environment 'zzzz'");
    assert!(!run.stderr.contains("did you mean"), "{}", run.stderr);
    for bad in ["a b", "$(x)", "x;y", ".hidden", "a/b", "über"] {
        sb.run(&["config", "add", bad, "--host", &portal.url, "--admin"])
            .fails(2, "invalid environment name");
    }
    sb.run(&[
        "config",
        "add",
        "ok-1.two_3",
        "--host",
        &portal.url,
        "--admin",
    ])
    .ok();
}

#[test]
fn ls_names_environments_and_clear_cache_takes_one() {
    let portal = Portal::start();
    let sb = Sandbox::new();
    sb.standard_config(&portal);
    sb.run(&["env", "dev"]).ok();
    sb.run(&["env", "admin"]).ok();
    let table = sb.run(&["ls"]).ok().stdout;
    let row = |name: &str| {
        table
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no row for {name}: {table}"))
            .to_string()
    };
    assert!(row("dev").contains("tenant dev01"), "{table}");
    assert!(row("admin").contains(" admin "), "{table}");
    let json = sb.run(&["ls", "--json"]).ok().json();
    let envs: Vec<String> = json
        .as_array()
        .expect("array")
        .iter()
        .flat_map(|r| r["envs"].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    assert_eq!(envs.len(), 2, "{json}");

    sb.run(&["clear-cache", "dev"])
        .ok()
        .warns("removed 1 cache entries of environment 'dev'");
    let table = sb.run(&["ls"]).ok().stdout;
    assert!(!table.contains("tenant dev01"), "{table}");
    assert!(
        table.contains(" admin "),
        "the other environment stays: {table}"
    );
    let calls = portal.cred_calls();
    sb.run(&["env", "admin"]).ok();
    assert_eq!(portal.cred_calls(), calls, "admin still cached");
    sb.run(&["env", "dev"]).ok();
    assert_eq!(portal.cred_calls(), calls + 1, "dev fetched anew");
}

/// botocore refreshes credential_process credentials from 15 minutes before expiry, so with a
/// 900-second tenant every credential lookup of a command refreshes: the AWS CLI runs jit several
/// times per command. Each run must be a cache hit: one portal fetch however often it asks.
#[test]
fn a_900_second_tenant_makes_botocore_call_jit_often_but_the_portal_once() {
    let portal = Portal::start();
    portal.state().tenants[0].validity = 900;
    let sb = Sandbox::new();
    let user = sb.token_file(&portal.user_token);
    let calls = sb.dir.path().join("calls");
    let wrapper = sb.dir.path().join("jit-counting");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho x >>'{}'\nexec '{}' \"$@\"\n",
            calls.display(),
            crate::support::JIT
        ),
    )
    .expect("wrapper");
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    std::fs::create_dir_all(sb.home().join(".aws")).expect("mkdir");
    std::fs::write(
        sb.home().join(".aws").join("config"),
        format!(
            "[profile short]\nregion = us-west-2\ncredential_process = {} aws -tenant dev01 -host {} -token-file {user}\n",
            wrapper.display(),
            portal.url
        ),
    )
    .expect("aws config");
    let mut per_command = Vec::new();
    for _ in 0..3 {
        let before = std::fs::read_to_string(&calls)
            .unwrap_or_default()
            .lines()
            .count();
        let mut cmd = sb.command(crate::support::venv_bin("aws"));
        cmd.env("AWS_ENDPOINT_URL", &crate::support::moto().url)
            .args(["sts", "get-caller-identity", "--profile", "short"]);
        crate::support::finish(cmd.output().expect("aws")).ok();
        let after = std::fs::read_to_string(&calls)
            .unwrap_or_default()
            .lines()
            .count();
        per_command.push(after - before);
    }
    eprintln!(
        "credential_process runs per AWS CLI command with 900 s credentials: {per_command:?}"
    );
    assert!(per_command.iter().all(|n| *n >= 1), "{per_command:?}");
    assert_eq!(
        portal.cred_calls(),
        1,
        "{per_command:?} runs of jit, all but the first cache hits"
    );
}

/// The README's quick start, as written: `scripts/demo.sh` prints the assumed-role ARN.
#[test]
fn the_quick_start_script_runs_the_whole_system() {
    let sb = Sandbox::new();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/demo.sh");
    let mut cmd = sb.command("bash");
    cmd.arg(&script)
        .env("JIT", crate::support::JIT)
        .env("JIT_DEMO_VENV", crate::support::venv());
    let run = crate::support::finish(cmd.output().expect("demo.sh")).ok();
    assert_eq!(
        run.stdout, "arn:aws:sts::123456789012:assumed-role/demo/demo\n",
        "{}",
        run.stderr
    );
    assert!(
        std::fs::read_to_string(sb.config_file())
            .expect("config")
            .contains("[env.demo]")
    );
}
