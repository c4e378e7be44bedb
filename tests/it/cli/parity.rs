//! What a script or profile written for duplo-jit, or a new user, hits: Go flag spellings, scope
//! precedence, `jit duplo`, cache without a token, `jit exec` with no command, names and
//! suggestions, `jit ls` and `jit clear-cache ENV`.

use crate::support::{Sandbox, StandIn};

#[test]
fn every_go_spelling_of_every_flag_is_accepted() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new();
    let admin = sb.token_file(&stand_in.admin_token);
    for yes in ["1", "t", "T", "true", "TRUE", "True"] {
        let flag = format!("-admin={yes}");
        sb.run(&[
            "aws",
            "-debug",
            &flag,
            "-host",
            &stand_in.url,
            "-token-file",
            &admin,
            "-no-cache",
        ])
        .ok();
    }
    assert_eq!(stand_in.count("v3/admin/aws/jitAccess/admin"), 6);
    let user = sb.token_file(&stand_in.user_token);
    for no in ["0", "f", "F", "false", "FALSE", "False"] {
        let flag = format!("--admin={no}");
        sb.run(&[
            "aws",
            &flag,
            "-tenant=dev01",
            "-host",
            &stand_in.url,
            "-token-file",
            &user,
        ])
        .ok();
    }
    assert_eq!(
        stand_in.count("v3/admin/aws/jitAccess/admin"),
        6,
        "-admin=<false> is no admin"
    );
}

#[test]
fn admin_wins_over_tenant_with_a_warning() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new();
    let admin = sb.token_file(&stand_in.admin_token);
    let run = sb
        .aws()
        .tenant("dev01")
        .admin()
        .host(&stand_in.url)
        .token_file(&admin)
        .ok();
    run.warns("--admin and --tenant given; using --admin");
    assert_eq!(run.stderr.matches("warning").count(), 1, "{}", run.stderr);
    assert_eq!(stand_in.count("v3/admin/aws/jitAccess/admin"), 1);
    assert_eq!(stand_in.count("GetTenantsForUser"), 0);
}

#[test]
fn duplo_checks_the_token_and_logs_in_as_admin() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new();
    let good = sb.token_file(&stand_in.admin_token);
    let json = sb.duplo().host(&stand_in.url).token_file(&good).ok().json();
    assert_eq!(
        json,
        serde_json::json!({"Version": 1, "DuploToken": stand_in.admin_token, "NeedOTP": false})
    );
    assert_eq!(
        stand_in.count("v3/features/system"),
        1,
        "the token was checked"
    );
    let bad = sb.token_file("not-a-token-at-all");
    sb.duplo()
        .host(&stand_in.url)
        .token_file(&bad)
        .fails(1, "status 401");
    // The browser login it starts asks for an admin login.
    let (mut child, url) = sb.duplo().host(&stand_in.url).start_login();
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
    let stand_in = StandIn::start();
    let sb = Sandbox::new();
    let admin = sb.token_file(&stand_in.admin_token);
    let first = sb
        .run(&[
            "aws",
            "--admin",
            "--host",
            &stand_in.url,
            "--token-file",
            &admin,
        ])
        .ok()
        .key();
    let again = sb
        .run(&["aws", "--admin", "--host", &stand_in.url])
        .ok()
        .key();
    assert_eq!(first, again);
    assert_eq!(stand_in.cred_calls(), 1);
    // No cache to serve from: still the usage error.
    sb.aws()
        .admin()
        .host(&stand_in.url)
        .no_cache()
        .fails(2, "no portal token");
}

#[test]
fn exec_without_a_command_runs_the_shell_and_keeps_the_token_from_children() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new()
        .env("SHELL", "/usr/bin/env")
        .env("JIT_TOKEN", &stand_in.admin_token)
        .env("DUPLO_TOKEN", &stand_in.admin_token)
        .env("MY_PORTAL_TOKEN", &stand_in.user_token);
    sb.write_config(&format!(
        "[env.dev]\nhost = \"{}\"\ntenant = \"dev01\"\ntoken_env = \"MY_PORTAL_TOKEN\"\n",
        stand_in.url
    ));
    let out = sb.run(&["exec", "dev"]).ok().stdout;
    assert!(out.contains("AWS_ACCESS_KEY_ID=ASIA"), "{out}");
    assert!(out.contains("JIT_ENV=dev"), "{out}");
    for secret in [&stand_in.admin_token, &stand_in.user_token] {
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
    let stand_in = StandIn::start();
    let sb = Sandbox::new();
    sb.standard_config(&stand_in);
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
    let stand_in = StandIn::start();
    let sb = Sandbox::new();
    sb.standard_config(&stand_in);
    sb.run(&["env", "devv"])
        .fails(2, "unknown environment 'devv' (did you mean 'dev'?)");
    let run = sb
        .run(&["env", "zzzz"])
        .fails(2, "unknown environment 'zzzz'");
    assert!(!run.stderr.contains("did you mean"), "{}", run.stderr);
    for bad in ["a b", "$(x)", "x;y", ".hidden", "a/b", "über"] {
        sb.jit_cmd(["config", "add", bad])
            .host(&stand_in.url)
            .admin()
            .fails(2, "invalid environment name");
    }
    sb.run(&[
        "config",
        "add",
        "ok-1.two_3",
        "--host",
        &stand_in.url,
        "--admin",
    ])
    .ok();
}

#[test]
fn ls_names_environments_and_clear_cache_takes_one() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new();
    sb.standard_config(&stand_in);
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
    let calls = stand_in.cred_calls();
    sb.run(&["env", "admin"]).ok();
    assert_eq!(stand_in.cred_calls(), calls, "admin still cached");
    sb.run(&["env", "dev"]).ok();
    assert_eq!(stand_in.cred_calls(), calls + 1, "dev fetched anew");
}

/// botocore refreshes credential_process credentials from 15 minutes before expiry, so with a
/// 900-second tenant every credential lookup of a command refreshes: the AWS CLI runs jit several
/// times per command. Each run must be a cache hit: one stand_in fetch however often it asks.
#[test]
fn a_900_second_tenant_makes_botocore_call_jit_often_but_the_portal_once() {
    let stand_in = StandIn::start();
    stand_in.state().tenants[0].validity = 900;
    let sb = Sandbox::new();
    let user = sb.token_file(&stand_in.user_token);
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
            stand_in.url
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
        stand_in.cred_calls(),
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

#[test]
fn hosts_without_a_scheme_or_a_name_that_resolves_say_so() {
    let sb = Sandbox::new().env("JIT_TOKEN", "some-token-value");
    sb.aws()
        .admin()
        .host("portal.example.com")
        .fails(1, "did you mean https://portal.example.com?");
    let run = sb
        .aws()
        .admin()
        .host("https://jit-test.invalid")
        .no_cache()
        .fails(1, "cannot resolve host 'jit-test.invalid'");
    assert!(!run.stderr.contains("cannot connect"), "{}", run.stderr);
}

/// `jit config sync` writes one environment per tenant (and profiles), is idempotent, and never
/// touches what the user wrote.
#[test]
fn config_sync_writes_tenants_idempotently_and_keeps_the_users_entries() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new();
    let admin = sb.token_file(&stand_in.admin_token);
    let mine = "[env.prod01]\nhost = \"https://mine.example.com\"\nadmin = true\n";
    sb.write_config(mine);
    std::fs::create_dir_all(sb.home().join(".aws")).expect("mkdir");
    let aws_config = sb.home().join(".aws").join("config");
    std::fs::write(&aws_config, "[profile prod01]\nregion = eu-west-1\n").expect("aws config");
    let sync = || {
        sb.jit_cmd(["config", "sync", "--admin", "--aws-config"])
            .host(&stand_in.url)
            .token_file(&admin)
    };
    let dry = sync().arg("--dry-run").ok().stdout;
    assert_eq!(
        dry,
        "+ env admin\n+ env dev01\n! env prod01\n+ profile admin\n+ profile dev01\n"
    );
    assert_eq!(
        std::fs::read_to_string(sb.config_file()).expect("config"),
        mine,
        "--dry-run changes nothing"
    );
    sync()
        .ok()
        .warns("2 added, 0 updated, 0 removed, 1 of yours kept");
    let config = std::fs::read_to_string(sb.config_file()).expect("config");
    let profiles = std::fs::read_to_string(&aws_config).expect("aws config");
    sync()
        .ok()
        .warns("0 added, 0 updated, 0 removed, 1 of yours kept");
    assert_eq!(
        std::fs::read_to_string(sb.config_file()).expect("config"),
        config
    );
    assert_eq!(std::fs::read_to_string(&aws_config).expect("aws"), profiles);
    assert!(
        config.contains("host = \"https://mine.example.com\""),
        "{config}"
    );
    assert!(
        profiles.starts_with("[profile prod01]\nregion = eu-west-1\n"),
        "{profiles}"
    );
    // The environments and profiles work.
    let key = sb.run(&["env", "dev01"]).ok().json()["AWS_ACCESS_KEY_ID"].clone();
    assert_eq!(key, stand_in.last_key());
    assert!(
        profiles.contains("credential_process = jit aws --tenant dev01 --host "),
        "{profiles}"
    );
}

/// `jit config sync` against the self-hosted demo portal, run twice: the demo's tenant becomes
/// an environment that works, and the second run changes nothing.
#[test]
fn config_sync_against_the_demo_portal_is_idempotent() {
    let sb = Sandbox::new();
    let portal = crate::portal::portal_server::spawn_portal(
        &sb,
        &[
            "portal",
            "serve",
            "--demo",
            "--demo-env",
            "trial",
            "--listen",
            "127.0.0.1:0",
        ],
    );
    let token_file = sb.home().join(".local/share/jit/demo-token");
    let token = token_file.display().to_string();
    let sync = || {
        sb.jit_cmd(["config", "sync"])
            .host(&portal.url)
            .token_file(&token)
    };
    sync().ok().warns("1 added, 0 updated, 0 removed");
    let config = std::fs::read_to_string(sb.config_file()).expect("config");
    sync().ok().warns("0 added, 0 updated, 0 removed");
    assert_eq!(
        std::fs::read_to_string(sb.config_file()).expect("config"),
        config
    );
    assert!(
        config.contains("[env.demo]") && config.contains("[env.trial]"),
        "{config}"
    );
    // The demo's own moto, which the demo wrote into its environment.
    let parsed: toml::Value = toml::from_str(&config).expect("toml");
    let sts = parsed["env"]["trial"]["endpoint_url"]
        .as_str()
        .expect("demo endpoint")
        .to_string();
    let mut exec = sb.jit_cmd(["exec", "demo", "--"]).command();
    exec.arg(crate::support::venv_bin("aws"))
        .args([
            "sts",
            "get-caller-identity",
            "--query",
            "Arn",
            "--output",
            "text",
        ])
        .env("AWS_ENDPOINT_URL", &sts);
    let arn = crate::support::finish(exec.output().expect("exec"))
        .ok()
        .stdout;
    assert!(
        arn.starts_with("arn:aws:sts::123456789012:assumed-role/demo/"),
        "{arn}"
    );
}

/// A sync rewrites what it wrote (the portal, the scope, the token source) and keeps every
/// other key the user set on a synced environment since: the console's keys, region, server.
#[test]
fn config_sync_keeps_the_keys_it_does_not_write() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new();
    let admin = sb.token_file(&stand_in.admin_token);
    let sync = |token: &str| {
        sb.jit_cmd(["config", "sync"])
            .host(&stand_in.url)
            .token_file(token)
    };
    sync(&admin).ok().warns("2 added, 0 updated, 0 removed");
    let path = sb.config_file();
    let text = std::fs::read_to_string(&path).expect("config");
    let mine = "console = \"container\"\ncontainer_color = \"purple\"\ncontainer_icon = \"dollar\"\nbrowser = \"firefox-esr\"\nregion = \"eu-west-1\"\nserver = true\n";
    let edited = text.replacen("[env.dev01]\n", &format!("[env.dev01]\n{mine}"), 1);
    assert_ne!(edited, text, "{text}");
    std::fs::write(&path, &edited).expect("edit config");
    let keys = |text: &str| -> toml::Value {
        let parsed: toml::Value = toml::from_str(text).expect("toml");
        parsed["env"]["dev01"].clone()
    };
    let before = keys(&edited);

    sync(&admin).ok().warns("0 added, 0 updated, 0 removed");
    let again = std::fs::read_to_string(&path).expect("config");
    assert_eq!(keys(&again), before, "{again}");

    // A key the sync writes changes: the environment is updated, the user's keys stay.
    let other = sb.token_file(&stand_in.admin_token);
    let other = format!("{other}.moved");
    std::fs::copy(&admin, &other).expect("copy token file");
    sync(&other).ok().warns("0 added, 2 updated, 0 removed");
    let updated = keys(&std::fs::read_to_string(&path).expect("config"));
    assert_eq!(updated["token_file"].as_str(), Some(other.as_str()));
    for key in [
        "console",
        "container_color",
        "container_icon",
        "browser",
        "region",
        "server",
    ] {
        assert_eq!(updated[key], before[key], "{key}: {updated}");
    }
}
