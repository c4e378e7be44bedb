//! `jit portal`: jit CLI -> jit portal -> moto STS -> AWS CLI, the portal's refusals, session
//! clamping, its login page clicked in headless Chromium, and its log in either format.

use std::process::{Child, Stdio};
use std::time::Duration;

use crate::portal::portal_browser::flow;
use crate::portal::portal_web::{ALICE_PASSWORD, passwd};
use crate::support::{
    Moto, Sandbox, Stderr, assert_no_secrets, finish, moto, poll, register_secret, start_moto,
    venv_bin,
};

pub struct Served {
    pub child: Child,
    pub url: String,
    log: Stderr,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    pub fn log(&self) -> String {
        self.log.so_far()
    }
}

pub fn state(sb: &Sandbox) -> String {
    sb.dir.path().join("portal.db").display().to_string()
}

#[track_caller]
pub fn admin(sb: &Sandbox, args: &[&str]) -> String {
    let mut full = vec!["portal", "--state"];
    let st = state(sb);
    full.push(&st);
    full.extend_from_slice(args);
    sb.run(&full).ok().stdout
}

/// Tenants dev01 (validity 900, STS's least) and big (validity 43200, role max 7200); alice in
/// dev01, root an admin. Returns (alice's token, root's token).
#[track_caller]
pub fn provision(sb: &Sandbox) -> (String, String) {
    admin(
        sb,
        &[
            "tenant",
            "add",
            "dev01",
            "--role-arn",
            "arn:aws:iam::111111111111:role/dev01",
            "--validity",
            "900",
        ],
    );
    admin(
        sb,
        &[
            "tenant",
            "add",
            "big",
            "--role-arn",
            "arn:aws:iam::222222222222:role/big",
            "--validity",
            "43200",
            "--max-session",
            "7200",
        ],
    );
    admin(sb, &["user", "add", "alice", "--tenant", "dev01"]);
    admin(sb, &["user", "add", "root", "--admin"]);
    admin(
        sb,
        &[
            "set",
            "--admin-session",
            "43200",
            "--admin-role-arn",
            "arn:aws:iam::333333333333:role/admin",
        ],
    );
    let alice = admin(sb, &["token", "create", "alice"]).trim().to_string();
    let root = admin(sb, &["token", "create", "root", "--ttl", "600"])
        .trim()
        .to_string();
    register_secret(&alice);
    register_secret(&root);
    for file in [state(sb), format!("{}-wal", state(sb))] {
        let bytes = std::fs::read(&file).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(&alice) && !text.contains(&root),
            "tokens are stored as digests only: {file}"
        );
    }
    (alice, root)
}

const PORTAL_KEY: &str = "AKIAPORTALSERVER0000";
const PORTAL_SECRET: &str = "portal-secret";

/// `jit portal serve` on the sandbox's state, with the shared moto as STS.
#[track_caller]
pub fn serve(sb: &Sandbox) -> Served {
    serve_as(sb, moto(), PORTAL_KEY, PORTAL_SECRET)
}

/// `jit portal serve` on the sandbox's state, calling `sts` with `key` and `secret`.
#[track_caller]
pub fn serve_as(sb: &Sandbox, sts: &Moto, key: &str, secret: &str) -> Served {
    let st = state(sb);
    let args = [
        "portal",
        "--state",
        &st,
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--sts-endpoint",
        &sts.url,
    ];
    spawn_portal_as(sb, &args, key, secret)
}

#[track_caller]
pub fn spawn_portal(sb: &Sandbox, args: &[&str]) -> Served {
    spawn_portal_as(sb, args, PORTAL_KEY, PORTAL_SECRET)
}

#[track_caller]
fn spawn_portal_as(sb: &Sandbox, args: &[&str], key: &str, secret: &str) -> Served {
    let mut cmd = sb.jit(args);
    cmd.env("AWS_ACCESS_KEY_ID", key)
        .env("AWS_SECRET_ACCESS_KEY", secret);
    spawn_served(cmd)
}

/// Start a portal command (`jit portal serve ...`, however wrapped) and wait for its URL.
#[track_caller]
pub fn spawn_served(mut cmd: std::process::Command) -> Served {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("portal");
    let log = Stderr::capture(&mut child);
    let url = poll(Duration::from_secs(20), || {
        let text = log.so_far();
        text.lines()
            .filter_map(log_message)
            .find_map(|m| {
                Some(
                    m.strip_prefix("serving ")?
                        .split_whitespace()
                        .next()?
                        .to_string(),
                )
            })
            .ok_or_else(|| format!("portal did not start: {text}"))
    });
    Served { child, url, log }
}

/// The message of a line of the portal's log, `jit portal: ...` text or a JSON object.
fn log_message(line: &str) -> Option<String> {
    match serde_json::from_str::<serde_json::Value>(line) {
        Ok(event) => event["message"].as_str().map(str::to_string),
        Err(_) => line.strip_prefix("jit portal: ").map(str::to_string),
    }
}

/// `jit exec ENV -- aws sts get-caller-identity`, the ARN the AWS CLI saw.
#[track_caller]
pub fn caller_arn(sb: &Sandbox, env: &str) -> String {
    let aws = venv_bin("aws");
    let args = [
        "exec",
        env,
        "--",
        aws.to_str().expect("utf8"),
        "sts",
        "get-caller-identity",
        "--query",
        "Arn",
        "--output",
        "text",
    ];
    sb.run(&args).ok().stdout.trim().to_string()
}

#[track_caller]
pub fn get(url: &str, token: &str) -> (u16, serde_json::Value) {
    let resp = reqwest::blocking::Client::new()
        .get(url)
        .bearer_auth(token)
        .header("Content-Type", "application/json; charset=utf-8")
        .send()
        .expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

/// The TenantId of `name` in a GetTenantsForUser answer.
#[track_caller]
fn tenant_id(tenants: &serde_json::Value, name: &str) -> String {
    let tenant = tenants
        .as_array()
        .expect("list")
        .iter()
        .find(|t| t["AccountName"] == name)
        .expect("tenant");
    tenant["TenantId"].as_str().expect("id").to_string()
}

/// The Validity of credentials fetched straight from the portal's API.
#[track_caller]
fn validity(url: &str, token: &str) -> i64 {
    let (status, body) = get(url, token);
    assert_eq!(status, 200, "{url}: {body}");
    register_secret(body["SecretAccessKey"].as_str().expect("secret"));
    register_secret(body["SessionToken"].as_str().expect("session"));
    body["Validity"].as_i64().expect("validity")
}

#[test]
fn cli_to_portal_to_moto_to_aws_cli() {
    let sb = Sandbox::new();
    let (alice, root) = provision(&sb);
    let portal = serve(&sb);
    let tf = sb.token_file(&alice);
    let jit = sb.aws().tenant("dev01").host(&portal.url).token_file(&tf);
    sb.write_aws_config(&format!(
        "[profile dev]\nregion = us-east-1\ncredential_process = {}\n",
        jit.command_line()
    ));
    let id = sb
        .aws_cli(moto(), &["sts", "get-caller-identity", "--profile", "dev"])
        .ok()
        .json();
    assert_eq!(
        id["Arn"],
        "arn:aws:sts::111111111111:assumed-role/dev01/alice"
    );

    // Named environment + jit exec against the same portal, admin scope.
    let rt = sb.token_file(&root);
    sb.write_config(&format!(
        "[env.adm]\nhost = \"{}\"\nadmin = true\ntoken_file = \"{rt}\"\nendpoint_url = \"{}\"\n",
        portal.url,
        moto().url
    ));
    assert_eq!(
        caller_arn(&sb, "adm"),
        "arn:aws:sts::333333333333:assumed-role/admin/root"
    );
    let creds = sb
        .aws()
        .admin()
        .host(&portal.url)
        .token_file(&rt)
        .ok()
        .json();
    register_secret(creds["SecretAccessKey"].as_str().expect("secret"));
    register_secret(creds["SessionToken"].as_str().expect("token"));
    let log = portal.log();
    assert!(
        log.contains("GET /subscriptions/") && log.contains(" 200 alice"),
        "{log}"
    );
    assert_no_secrets(&log, "the portal's log");
    assert!(!log.contains(PORTAL_SECRET));
}

#[test]
fn refusals_and_clamped_durations() {
    let sb = Sandbox::new();
    let (alice, root) = provision(&sb);
    // A database written before out-of-range durations were refused may still hold one: the
    // vend holds it to what STS allows.
    let old = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); \
             c.execute(\"UPDATE tenants SET validity_secs = 60 WHERE name = 'dev01'\"); c.commit()",
            &state(&sb),
        ])
        .status()
        .expect("python3");
    assert!(old.success());
    let portal = serve(&sb);
    let u = &portal.url;
    assert_eq!(get(&format!("{u}/v3/features/system"), "nope").0, 401);
    assert_eq!(get(&format!("{u}/admin/GetTenantsForUser"), "").0, 401);
    let (status, tenants) = get(&format!("{u}/admin/GetTenantsForUser"), &alice);
    assert_eq!(status, 200);
    let names: Vec<&str> = tenants
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|t| t["AccountName"].as_str())
        .collect();
    assert_eq!(names, ["dev01"], "alice sees only her tenant");
    let (_, all) = get(&format!("{u}/admin/GetTenantsForUser"), &root);
    let (dev01, big) = (tenant_id(&all, "dev01"), tenant_id(&all, "big"));
    assert_eq!(dev01.len(), 32);
    let tenant_creds = |id: &str| format!("{u}/subscriptions/{id}/GetAwsConsoleTokenUrl");
    assert_eq!(get(&tenant_creds(&big), &alice).0, 403);
    assert_eq!(
        get(&format!("{u}/v3/admin/aws/jitAccess/admin"), &alice).0,
        403
    );
    assert_eq!(get(&tenant_creds(&"0".repeat(32)), &root).0, 404);
    assert_eq!(
        validity(&tenant_creds(&dev01), &alice),
        900,
        "60 s raised to 900"
    );
    assert_eq!(validity(&tenant_creds(&big), &root), 7200, "role maximum");
    assert_eq!(
        validity(&format!("{u}/v3/admin/aws/jitAccess/admin"), &root),
        43200,
        "system maximum"
    );
    // jit itself reports the refusals clearly.
    let tf = sb.token_file(&alice);
    let as_alice = sb.aws().host(u).token_file(&tf);
    as_alice
        .clone()
        .tenant("big")
        .fails(1, "tenant 'big' missing or not allowed");
    as_alice.admin().fails(1, "status 403");
    assert_no_secrets(&portal.log(), "the portal's log");
}

/// `jit aws --interactive` waiting on its loopback listener while headless Chromium signs in
/// on the portal's page and clicks Authorize, then Cancel (tests/web/cli-login.mjs).
#[test]
fn login_page_in_headless_chromium() {
    let sb = Sandbox::new();
    provision(&sb);
    passwd(&sb, "alice", &format!("{ALICE_PASSWORD}\n")).ok();
    let portal = serve(&sb);
    let login = sb.aws().tenant("dev01").host(&portal.url);
    let click = |url: &url::Url, action: &str| {
        flow(
            &sb,
            "cli-login",
            &[
                ("LOGIN_URL", url.as_str()),
                ("USERNAME", "alice"),
                ("PASSWORD", ALICE_PASSWORD),
                ("ACTION", action),
            ],
        )
    };
    let (child, url) = login.start_login();
    assert_eq!(click(&url, "authorize")["done"], "You are signed in");
    let run = finish(child.wait_with_output().expect("jit")).ok();
    let creds = run.json();
    register_secret(creds["SecretAccessKey"].as_str().expect("secret"));
    assert!(
        creds["AccessKeyId"]
            .as_str()
            .expect("key")
            .starts_with("ASIA")
    );

    // --no-cache: a fresh login, not the token cached by the first one.
    let (child, url) = login.no_cache().start_login();
    let seen = click(&url, "cancel");
    assert!(
        seen["final"]
            .as_str()
            .is_some_and(|u| u.starts_with("http://127.0.0.1:")),
        "{seen}"
    );
    let run = finish(child.wait_with_output().expect("jit"));
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr.contains("login cancelled in the browser"),
        "{}",
        run.stderr
    );
    assert_no_secrets(&portal.log(), "the portal's log");
}

/// A moto of its own in strict SigV4 mode, with an IAM user `portal` that may assume any role;
/// returns it with that user's key id and secret.
#[track_caller]
pub fn strict_moto_with_portal_user(sb: &Sandbox) -> (Moto, String, String) {
    let mut strict = start_moto();
    let setup = "import boto3, json, sys\n\
        iam = boto3.client('iam', endpoint_url=sys.argv[1], region_name='us-east-1',\n\
            aws_access_key_id='bootstrap', aws_secret_access_key='bootstrap')\n\
        iam.create_user(UserName='portal')\n\
        iam.put_user_policy(UserName='portal', PolicyName='assume', PolicyDocument=json.dumps(\n\
            {'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Action': 'sts:AssumeRole', 'Resource': '*'}]}))\n\
        k = iam.create_access_key(UserName='portal')['AccessKey']\n\
        print(k['AccessKeyId'], k['SecretAccessKey'])\n";
    let mut py = sb.command(venv_bin("python"));
    py.args(["-c", setup, &strict.url]);
    let keys = finish(py.output().expect("python")).ok().stdout;
    let (key, secret) = keys.trim().split_once(' ').expect("key pair");
    register_secret(secret);
    strict.enforce_auth();
    (strict, key.to_string(), secret.to_string())
}

/// `jit aws --tenant dev01 --no-cache` against `url`: the credentials, their secrets registered.
#[track_caller]
pub fn vend(sb: &Sandbox, url: &str, token_file: &str) -> serde_json::Value {
    let creds = sb
        .aws()
        .tenant("dev01")
        .host(url)
        .token_file(token_file)
        .no_cache()
        .ok()
        .json();
    register_secret(creds["SecretAccessKey"].as_str().expect("secret"));
    register_secret(creds["SessionToken"].as_str().expect("session"));
    creds
}

/// moto in strict auth mode checks every signature against its IAM users: the portal's SigV4
/// must be right, and a wrong secret must be refused.
#[test]
fn portal_signs_assume_role_with_valid_sigv4() {
    let sb = Sandbox::new();
    let (strict, key, secret) = strict_moto_with_portal_user(&sb);
    let (key, secret) = (key.as_str(), secret.as_str());

    let (alice, _) = provision(&sb);
    let tf = sb.token_file(&alice);
    let fetch = |portal: &Served| {
        sb.aws()
            .tenant("dev01")
            .host(&portal.url)
            .token_file(&tf)
            .no_cache()
            .run()
    };
    {
        let portal = serve_as(&sb, &strict, key, secret);
        let creds = vend(&sb, &portal.url, &tf);
        assert!(
            creds["AccessKeyId"]
                .as_str()
                .expect("key")
                .starts_with("ASIA")
        );
        assert_no_secrets(&portal.log(), "the portal's log");
    }
    let portal = serve_as(&sb, &strict, key, "not-the-secret");
    let run = fetch(&portal).fails(1, "status 502");
    assert!(run.stderr.contains("STS AssumeRole"), "{}", run.stderr);
}
/// The README's main job: `jit portal serve --demo` then `jit exec demo -- aws sts ...`.
#[test]
fn demo_runs_the_whole_system() {
    let sb = Sandbox::new();
    let portal = spawn_portal(
        &sb,
        &["portal", "serve", "--demo", "--listen", "127.0.0.1:0"],
    );
    assert!(
        portal
            .log()
            .contains("try: jit exec demo -- aws sts get-caller-identity"),
        "{}",
        portal.log()
    );
    assert_eq!(
        caller_arn(&sb, "demo"),
        "arn:aws:sts::123456789012:assumed-role/demo/demo"
    );
    let config = std::fs::read_to_string(sb.config_file()).expect("demo env written");
    assert!(
        config.contains("[env.demo]") && config.contains(&portal.url),
        "{config}"
    );
    assert!(
        sb.home().join(".local/share/jit/portal-demo.db").exists(),
        "demo state kept apart"
    );
    assert!(!sb.home().join(".local/share/jit/portal.db").exists());
    // The web side too: the demo user signs in with the password the demo wrote.
    let password_file = sb.home().join(".local/share/jit/demo-password");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&password_file)
            .expect("password file")
            .permissions(),
    );
    assert_eq!(mode & 0o077, 0, "only the user reads it");
    let password = std::fs::read_to_string(&password_file).expect("password");
    register_secret(password.trim());
    assert!(
        portal.log().contains(&format!(
            "as 'demo' with the password in {}",
            password_file.display()
        )),
        "{}",
        portal.log()
    );
    let mut browser = crate::portal::portal_web::Browser::new(&portal);
    assert_eq!(browser.sign_in("demo", password.trim()).status, 303);
    let profile = browser.get("/profile").body;
    assert!(profile.contains("id=\"console-tenant-demo\""));
    // The demo's keys work only at its moto, and the page says where.
    assert!(profile.contains("id=\"aws-endpoint\""), "{profile}");
    assert!(
        profile.contains("endpoint_url = http://127.0.0.1:"),
        "{profile}"
    );
    assert_no_secrets(&portal.log(), "the portal's log");
}

/// A user's own `demo` environment is never replaced, and a restarted demo (same port, new
/// moto) never serves credentials cached from the run before, which its new STS does not know.
#[test]
fn demo_keeps_a_users_own_env_and_forgets_an_earlier_runs_credentials() {
    let sb = Sandbox::new();
    let mine = "[env.demo]\nhost = \"https://mine.example.com\"\nadmin = true\n";
    sb.write_config(mine);
    sb.run(&["portal", "serve", "--demo", "--listen", "127.0.0.1:0"])
        .fails(1, "environment 'demo' in");
    assert_eq!(
        std::fs::read_to_string(sb.config_file()).expect("config"),
        mine
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let listen = format!("127.0.0.1:{port}");
    for _ in 0..2 {
        let portal = spawn_portal(
            &sb,
            &[
                "portal",
                "serve",
                "--demo",
                "--demo-env",
                "trial",
                "--listen",
                &listen,
            ],
        );
        assert!(
            portal
                .log()
                .contains("try: jit exec trial -- aws sts get-caller-identity"),
            "{}",
            portal.log()
        );
        assert_eq!(
            caller_arn(&sb, "trial"),
            "arn:aws:sts::123456789012:assumed-role/demo/demo"
        );
    }
    let config = std::fs::read_to_string(sb.config_file()).expect("config");
    assert!(
        config.contains("[env.demo]") && config.contains("https://mine.example.com"),
        "{config}"
    );
}

/// `--log-format json`: every line of the log is one JSON object, a request's line carries its
/// method, path, status, user, client and time as fields, what a client chose stays escaped,
/// and no secret is in it.
#[test]
fn the_json_log_is_one_object_per_line_with_the_request_fields_and_no_secret() {
    use std::io::{Read, Write};
    let sb = Sandbox::new();
    let (alice, _) = provision(&sb);
    let st = state(&sb);
    let portal = spawn_portal(
        &sb,
        &[
            "portal",
            "--state",
            &st,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--sts-endpoint",
            &moto().url,
            "--log-format",
            "json",
        ],
    );
    let addr = portal.url.trim_start_matches("http://").to_string();
    for request in [
        "GET /x\njit portal: GET /admin/GetTenantsForUser 200 root HTTP/1.1\r\n\r\n",
        "GET /forged%0A%1b%22%5C HTTP/1.1\r\nHost: x\r\n\r\n",
    ] {
        let mut s = std::net::TcpStream::connect(&addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        s.write_all(request.as_bytes()).expect("send");
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
    }
    let creds = vend(&sb, &portal.url, &sb.token_file(&alice));
    let events = poll(Duration::from_secs(5), || {
        let log = portal.log();
        let events: Vec<serde_json::Value> = log
            .lines()
            .map(|l| serde_json::from_str(l).map_err(|e| format!("not JSON ({e}): {l:?}")))
            .collect::<Result<_, _>>()?;
        let vended = events.iter().any(|e| {
            e["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/subscriptions/"))
        });
        vended.then_some(events).ok_or(log)
    });
    for event in &events {
        assert!(event["timestamp"].is_string(), "{event}");
        assert!(event["level"].is_string(), "{event}");
        assert!(event["message"].is_string(), "{event}");
    }
    let forged = events
        .iter()
        .find(|e| e["path"] == "/forged%0A%1b%22%5C")
        .unwrap_or_else(|| panic!("no line for the forged path: {events:?}"));
    assert_eq!(forged["method"], "GET", "{forged}");
    assert_eq!(forged["status"], 404, "{forged}");
    assert_eq!(forged["client"], "127.0.0.1", "{forged}");
    assert!(forged["ms"].is_u64(), "{forged}");
    let vend_line = events
        .iter()
        .find(|e| {
            e["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/subscriptions/"))
        })
        .expect("the vend's line");
    assert_eq!(vend_line["status"], 200, "{vend_line}");
    assert_eq!(vend_line["user"], "alice", "{vend_line}");
    assert!(
        events.iter().all(|e| !e["message"]
            .as_str()
            .unwrap_or_default()
            .contains("200 root")),
        "a forged line: {events:?}"
    );
    let log = portal.log();
    assert!(!log.contains('\x1b'), "{log:?}");
    assert_no_secrets(&log, "the portal's log");
    for secret in [
        alice.as_str(),
        PORTAL_SECRET,
        creds["SecretAccessKey"].as_str().expect("secret"),
        creds["SessionToken"].as_str().expect("session"),
    ] {
        assert!(!log.contains(secret), "a secret in the log: {log}");
    }
}
