//! `jit exec`, `jit env`, `jit console` and named environments.

use std::os::unix::process::ExitStatusExt;

use crate::support::{Sandbox, StandIn, finish, stand_in::REGION};

#[test]
fn exec_sets_and_clears_the_environment_and_passes_argv_unchanged() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new()
        .env("AWS_PROFILE", "stale")
        .env("AWS_ROLE_ARN", "arn:stale");
    sb.standard_config(&stand_in);
    let run = sb.run(&["exec", "dev", "--", "env"]).ok();
    let issued = stand_in.last_issued();
    let env: std::collections::HashMap<&str, &str> = run
        .stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .collect();
    assert_eq!(env["AWS_ACCESS_KEY_ID"], issued.access_key_id);
    assert_eq!(env["AWS_SECRET_ACCESS_KEY"], issued.secret_access_key);
    assert_eq!(env["AWS_SESSION_TOKEN"], issued.session_token);
    assert_eq!(env["AWS_REGION"], REGION);
    assert_eq!(env["AWS_DEFAULT_REGION"], REGION);
    assert_eq!(env["JIT_ENV"], "dev");
    let exp: jiff::Timestamp = env["AWS_CREDENTIAL_EXPIRATION"].parse().expect("rfc3339");
    assert!(env["AWS_CREDENTIAL_EXPIRATION"].ends_with('Z'));
    assert_eq!(
        env["AWS_SESSION_EXPIRATION"],
        env["AWS_CREDENTIAL_EXPIRATION"]
    );
    assert_eq!(env["JIT_EXPIRES"], exp.as_second().to_string());
    assert!(
        !env.contains_key("AWS_PROFILE") && !env.contains_key("AWS_ROLE_ARN"),
        "{}",
        run.stdout
    );

    let tricky = ["a b", "$(touch pwned)", "'\"", "", "--", "-v", "*"];
    let mut args = vec!["exec", "dev", "--", "printf", "[%s]\\n"];
    args.extend(tricky);
    let out = sb.run(&args).ok().stdout;
    let expected: String = tricky.iter().map(|a| format!("[{a}]\n")).collect();
    assert_eq!(out, expected);
    assert!(!sb.home().join("pwned").exists());
    assert_eq!(
        stand_in.cred_calls(),
        1,
        "second exec served from the cache"
    );
}

#[test]
fn exec_passes_exit_codes_and_signals_through() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new();
    sb.standard_config(&stand_in);
    assert_eq!(
        sb.run(&["exec", "dev", "--", "sh", "-c", "exit 7"]).code,
        Some(7)
    );
    let run = sb.run(&["exec", "dev", "--", "sh", "-c", "kill -TERM $$"]);
    assert_eq!(
        run.output.status.signal(),
        Some(15),
        "exec: the signal is the process's own"
    );
    sb.run(&["exec", "dev", "--", "no-such-program-xyz"])
        .fails(127, "cannot run 'no-such-program-xyz'");
}

#[test]
fn exec_refuses_to_nest_unless_forced() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new().env("JIT_ENV", "prod");
    sb.standard_config(&stand_in);
    sb.run(&["exec", "dev", "--", "true"])
        .fails(2, "already inside jit environment 'prod'");
    assert_eq!(stand_in.requests().len(), 0);
    let out = sb
        .run(&["exec", "dev", "--force", "--", "sh", "-c", "echo $JIT_ENV"])
        .ok()
        .stdout;
    assert_eq!(out, "dev\n");
}

#[test]
fn env_formats_evaluate_in_real_shells() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new();
    sb.standard_config(&stand_in);
    let json = sb.run(&["env", "dev", "--format", "json"]).ok().json();
    let key = stand_in.last_key();
    assert_eq!(json["AWS_ACCESS_KEY_ID"], key.as_str());
    assert_eq!(json["JIT_ENV"], "dev");
    let sh = sb.run(&["env", "dev", "--format", "sh"]).ok().stdout;
    let out = finish(
        sb.command("bash")
            .env("AWS_PROFILE", "stale")
            .args([
                "--norc",
                "-euc",
                &format!("{sh}\necho \"$AWS_ACCESS_KEY_ID ${{AWS_PROFILE-unset}} $JIT_ENV\""),
            ])
            .output()
            .expect("bash"),
    )
    .ok()
    .stdout;
    assert_eq!(out, format!("{key} unset dev\n"));
    if which::which("fish").is_ok() {
        let fish = sb.run(&["env", "dev", "--format", "fish"]).ok().stdout;
        let out = finish(
            sb.command("fish")
                .env("AWS_PROFILE", "stale")
                .args(["--no-config", "-c", &format!("{fish}\necho $AWS_ACCESS_KEY_ID (set -q AWS_PROFILE; and echo set; or echo unset)")])
                .output()
                .expect("fish"),
        )
        .ok()
        .stdout;
        assert_eq!(out, format!("{key} unset\n"));
    }
    let ps = sb
        .run(&["env", "dev", "--format", "powershell"])
        .ok()
        .stdout;
    assert!(
        ps.contains(&format!("$Env:AWS_ACCESS_KEY_ID = '{key}'"))
            && ps.contains("Remove-Item -Path Env:AWS_PROFILE"),
        "{ps}"
    );
}

#[test]
fn config_add_list_remove_and_overrides() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new().env("DEV_TOKEN", &stand_in.user_token);
    sb.jit_cmd(["config", "add", "dev"])
        .host(&stand_in.url)
        .tenant("dev01")
        .args(["--token-env", "DEV_TOKEN", "--region", "eu-central-1"])
        .ok();
    sb.jit_cmd(["config", "add", "ops"])
        .host(&stand_in.url)
        .duplo_ops()
        .ok();
    let list = sb.run(&["config", "list"]).ok().stdout;
    assert_eq!(
        list,
        format!(
            "dev\ttenant dev01\t{u}\nops\tduplo-ops\t{u}\n",
            u = stand_in.url
        )
    );
    let listed = sb.run(&["config", "list", "--json"]).ok().json();
    assert_eq!(listed["dev"]["token_env"], "DEV_TOKEN", "{listed}");
    assert_eq!(listed["dev"]["region"], "eu-central-1", "{listed}");
    assert_eq!(listed["ops"]["duplo_ops"], true, "{listed}");
    let text = std::fs::read_to_string(sb.config_file()).expect("config written");
    assert!(
        text.contains("token_env = \"DEV_TOKEN\"") && !text.contains(&stand_in.user_token),
        "{text}"
    );
    let json = sb.run(&["env", "dev"]).ok().json();
    assert_eq!(
        json["AWS_REGION"], "eu-central-1",
        "the environment's region overrides the portal's"
    );
    sb.run(&["config", "remove", "ops"]).ok();
    sb.run(&["config", "remove", "ops"])
        .fails(1, "no environment named 'ops'");
    sb.run(&["env", "nope"])
        .fails(2, "unknown environment 'nope'");
    sb.jit_cmd(["config", "add", "bad"])
        .host("http://example.com")
        .admin()
        .fails(1, "invalid host URL");
    sb.write_config("[env.x]\nhost = 1\n");
    sb.run(&["env", "x"]).fails(1, "invalid config file");
}

#[test]
fn falls_back_to_an_aws_profile_that_runs_duplo_jit() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new();
    let tf = sb.token_file(&stand_in.user_token);
    sb.write_aws_config(&format!("[profile legacy]\nregion = ap-south-1\ncredential_process = /usr/local/bin/duplo-jit aws -tenant dev01 -host {} -token-file {tf}\n\n[profile other]\ncredential_process = aws-vault export x\n", stand_in.url));
    let json = sb.run(&["env", "legacy"]).ok().json();
    assert_eq!(
        json["AWS_ACCESS_KEY_ID"],
        stand_in.last_issued().access_key_id.as_str()
    );
    assert_eq!(json["AWS_REGION"], "ap-south-1");
    sb.run(&["env", "other"]).fails(1, "does not run `jit aws`");
}

#[test]
fn console_prints_portal_url_or_builds_a_federation_url() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new().env("JIT_SIGNIN_URL", &format!("{}/federation", stand_in.url));
    sb.standard_config(&stand_in);
    let url = sb.run(&["console", "dev", "--print"]).ok().stdout;
    assert!(
        url.starts_with(&format!("{}/federation?Action=login", stand_in.url))
            && url.contains("SigninToken=console-"),
        "{url}"
    );

    stand_in.state().console_url = false;
    let url = sb.run(&["console", "admin", "--print"]).ok().stdout;
    let parsed = url::Url::parse(url.trim()).expect("url");
    let q: std::collections::HashMap<_, _> = parsed.query_pairs().into_owned().collect();
    assert_eq!(q["Action"], "login");
    assert_eq!(q["Issuer"], stand_in.url);
    assert_eq!(
        q["Destination"],
        format!("https://{REGION}.console.aws.amazon.com/console/home?region={REGION}")
    );
    assert!(q["SigninToken"].starts_with("signin-"));
    let fed = stand_in
        .requests()
        .into_iter()
        .filter(|r| r.path == "federation")
        .count();
    assert_eq!(fed, 1);
    // A different destination always goes through federation.
    let url = sb
        .run(&[
            "console",
            "dev",
            "--print",
            "--destination",
            "https://console.aws.amazon.com/s3/",
        ])
        .ok()
        .stdout;
    assert!(
        url.contains("Destination=https%3A%2F%2Fconsole.aws.amazon.com%2Fs3%2F"),
        "{url}"
    );
}

/// `jit config add` sets the console's keys, checked as the config file's values are.
#[test]
fn config_add_sets_how_the_console_opens() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new();
    sb.jit_cmd(["config", "add", "prod"])
        .host(&stand_in.url)
        .tenant("dev01")
        .args([
            "--console",
            "container",
            "--container-color",
            "purple",
            "--container-icon",
            "dollar",
            "--browser",
            "firefox-esr",
        ])
        .ok();
    sb.jit_cmd(["config", "add", "stage"])
        .host(&stand_in.url)
        .tenant("dev01")
        .args(["--console", "profile", "--browser", "/opt/brave/brave"])
        .ok();
    let text = std::fs::read_to_string(sb.config_file()).expect("config written");
    let parsed: toml::Value = toml::from_str(&text).expect("toml");
    let prod = &parsed["env"]["prod"];
    assert_eq!(prod["console"].as_str(), Some("container"), "{text}");
    assert_eq!(prod["container_color"].as_str(), Some("purple"), "{text}");
    assert_eq!(prod["container_icon"].as_str(), Some("dollar"), "{text}");
    assert_eq!(prod["browser"].as_str(), Some("firefox-esr"), "{text}");
    let stage = &parsed["env"]["stage"];
    assert_eq!(stage["console"].as_str(), Some("profile"), "{text}");
    assert_eq!(
        stage["browser"].as_str(),
        Some("/opt/brave/brave"),
        "{text}"
    );
    assert!(stage.get("container_color").is_none(), "{text}");
    for (flag, bad, known) in [
        ("--console", "tab", "container"),
        ("--container-color", "mauve", "turquoise"),
        ("--container-icon", "rocket", "fingerprint"),
    ] {
        let run = sb
            .jit_cmd(["config", "add", "bad"])
            .host(&stand_in.url)
            .tenant("dev01")
            .args([flag, bad])
            .fails(2, &format!("invalid value '{bad}'"));
        assert!(run.stderr.contains(known), "{}", run.stderr);
    }
    sb.jit_cmd(["config", "add", "bad"])
        .host(&stand_in.url)
        .tenant("dev01")
        .args(["--browser", " "])
        .fails(1, "browser must name a program");
    // The file says the same things in the same words.
    sb.write_config(&format!(
        "[env.x]\nhost = \"{}\"\ntenant = \"dev01\"\ncontainer_color = \"mauve\"\n",
        stand_in.url
    ));
    sb.run(&["console", "x", "--print"])
        .fails(1, "container_color must be one of");
}
