//! `jit exec --server`: the container-credentials endpoint on loopback, renewed as credentials
//! rotate, against real consumers (boto3, the AWS CLI, the AWS SDK for JavaScript v3) and moto as
//! STS; plus `--min-ttl` and serving cached credentials while the portal is down.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::support::{
    Sandbox, StandIn, Tmux, assert_loopback_only, assert_no_secrets, finish, poll, random_hex,
    register_secret, stand_in::REGION, start_moto, venv_bin,
};

/// `[env.dev]`: tenant dev01 on `portal`, token from a file, `server = true` when asked.
fn dev_config(sb: &Sandbox, portal: &StandIn, server: bool) {
    let tf = sb.token_file(&portal.user_token);
    sb.write_config(&format!(
        "[env.dev]\nhost = \"{}\"\ntenant = \"dev01\"\ntoken_file = \"{tf}\"\n{}",
        portal.url,
        if server { "server = true\n" } else { "" }
    ));
}

/// `jit aws` for tenant dev01 on `portal` (as credential_process runs it), plus `extra` flags.
fn aws_dev(sb: &Sandbox, portal: &StandIn, extra: &[&str]) -> crate::support::Run {
    let tf = sb.token_file(&portal.user_token);
    let mut args = vec![
        "aws",
        "--tenant",
        "dev01",
        "--host",
        &portal.url,
        "--token-file",
        &tf,
    ];
    args.extend_from_slice(extra);
    sb.run(&args)
}

/// The access key `jit env ENV` prints.
fn env_key(sb: &Sandbox, env: &str) -> String {
    let json = sb.run(&["env", env]).ok().json();
    json["AWS_ACCESS_KEY_ID"].as_str().expect("key").to_string()
}

fn set_validity(portal: &StandIn, secs: i64) {
    for t in &mut portal.state().tenants {
        t.validity = secs;
    }
}

/// A raw HTTP exchange, so malformed and hostile requests can be sent too.
fn exchange(addr: &str, request: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to the credentials server");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let _ = stream.write_all(request);
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply);
    let status = reply
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = reply
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn get(addr: &str, path: &str, auth: Option<&str>) -> (u16, String) {
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    exchange(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n")
            .as_bytes(),
    )
}

/// `jit exec --server` around a child that writes its environment to a file and sleeps.
struct Served {
    jit: Child,
    /// jit's stderr goes to a file: a pipe nobody reads would stall jit once full.
    stderr: PathBuf,
    env: HashMap<String, String>,
    /// host:port of the endpoint
    addr: String,
    path: String,
    token: String,
}

impl Served {
    fn start(sb: &Sandbox, args: &[&str]) -> Served {
        let env_file = sb.dir.path().join(format!("env-{}", random_hex(6)));
        let stderr = sb.dir.path().join(format!("stderr-{}", random_hex(6)));
        let mut argv = vec!["exec"];
        argv.extend_from_slice(args);
        argv.extend([
            "--",
            "sh",
            "-c",
            "env >\"$1.tmp\" && mv \"$1.tmp\" \"$1\" && exec sleep 600",
            "sh",
        ]);
        let jit = sb
            .jit(&argv)
            .arg(&env_file)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("spawn jit exec --server");
        let text = poll(Duration::from_secs(30), || {
            std::fs::read_to_string(&env_file).map_err(|e| format!("child env not written: {e}"))
        });
        let env: HashMap<String, String> = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let url = env
            .get("AWS_CONTAINER_CREDENTIALS_FULL_URI")
            .cloned()
            .unwrap_or_else(|| {
                panic!("no AWS_CONTAINER_CREDENTIALS_FULL_URI in the child: {text}")
            });
        let token = env
            .get("AWS_CONTAINER_AUTHORIZATION_TOKEN")
            .cloned()
            .unwrap_or_else(|| panic!("no AWS_CONTAINER_AUTHORIZATION_TOKEN in the child: {text}"));
        register_secret(&token);
        let rest = url
            .strip_prefix("http://")
            .unwrap_or_else(|| panic!("not a loopback http URL: {url}"));
        let (addr, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        Served {
            jit,
            stderr,
            addr: addr.to_string(),
            path: path.to_string(),
            token,
            env,
        }
    }

    fn fetch(&self) -> (u16, serde_json::Value) {
        let (status, body) = get(&self.addr, &self.path, Some(&self.token));
        let json = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
        (status, json)
    }

    fn key(&self) -> String {
        let (status, json) = self.fetch();
        assert_eq!(status, 200, "{json}");
        json["AccessKeyId"]
            .as_str()
            .expect("AccessKeyId")
            .to_string()
    }

    fn stderr(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        assert_no_secrets(&text, "stderr of jit exec --server");
        text
    }

    /// SIGTERM to jit (forwarded to the child); jit's exit code and its stderr.
    fn stop(mut self) -> (Option<i32>, String) {
        let pid = self.jit.id().to_string();
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(killed.success());
        let status = self.jit.wait().expect("wait for jit");
        (status.code(), self.stderr())
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.jit.kill();
        let _ = self.jit.wait();
    }
}

/// Credentials riding an access grant: `jit exec` hands the child the grant's end beside
/// JIT_EXPIRES, and `--server`, whose credentials are renewed, withholds both.
#[test]
fn the_grant_end_is_withheld_from_a_served_child_like_the_expiry() {
    let portal = StandIn::start();
    let end = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() + 7200).expect("ts");
    portal.state().grant = Some(("g_stand_in".into(), end));
    let sb = Sandbox::new();
    dev_config(&sb, &portal, false);
    let run = sb.run(&["exec", "dev", "--", "env"]).ok();
    assert!(
        run.stdout
            .lines()
            .any(|l| l == format!("JIT_GRANT_END={}", end.as_second())),
        "{}",
        run.stdout
    );
    let served = Served::start(&sb, &["--server", "dev"]);
    for gone in ["JIT_GRANT_END", "JIT_EXPIRES"] {
        assert!(
            !served.env.contains_key(gone),
            "{gone} reached the child: {:?}",
            served.env
        );
    }
}

#[test]
fn server_answers_only_its_token_and_the_child_gets_no_static_keys() {
    let portal = StandIn::start();
    let sb = Sandbox::new()
        .env("AWS_ACCESS_KEY_ID", "AKIASTALEOUTERKEY000")
        .env("AWS_SECRET_ACCESS_KEY", "stale-outer-secret")
        .env("AWS_SESSION_TOKEN", "stale-outer-session")
        .env("AWS_PROFILE", "stale")
        .env("JIT_TOKEN", &portal.user_token)
        .env("DUPLO_TOKEN", &portal.user_token);
    dev_config(&sb, &portal, false);
    let served = Served::start(&sb, &["--server", "dev"]);
    let env = &served.env;
    for gone in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_CREDENTIAL_EXPIRATION",
        "AWS_SESSION_EXPIRATION",
        "JIT_EXPIRES",
        "AWS_PROFILE",
        "JIT_TOKEN",
        "DUPLO_TOKEN",
    ] {
        assert!(!env.contains_key(gone), "{gone} reached the child: {env:?}");
    }
    assert_eq!(env["JIT_ENV"], "dev");
    assert_eq!(env["AWS_REGION"], REGION);
    assert_eq!(env["AWS_DEFAULT_REGION"], REGION);
    assert!(served.addr.starts_with("127.0.0.1:"), "{}", served.addr);
    assert_eq!(served.token.len(), 64);
    assert!(served.token.bytes().all(|b| b.is_ascii_hexdigit()));

    // The right token: the container-credentials shape, the portal's key.
    let issued = portal.last_issued();
    let (status, json) = served.fetch();
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["AccessKeyId"], issued.access_key_id.as_str());
    assert_eq!(json["SecretAccessKey"], issued.secret_access_key.as_str());
    assert_eq!(json["Token"], issued.session_token.as_str());
    let exp = json["Expiration"].as_str().expect("Expiration");
    assert!(
        exp.ends_with('Z') && exp.parse::<jiff::Timestamp>().is_ok(),
        "{exp}"
    );

    // Anything else about the token: 401, and never a key in the body.
    let mut off_by_one = served.token.clone().into_bytes();
    off_by_one[63] = if off_by_one[63] == b'0' { b'1' } else { b'0' };
    let off_by_one = String::from_utf8(off_by_one).expect("hex");
    for auth in [
        None,
        Some(""),
        Some("wrong"),
        Some(off_by_one.as_str()),
        Some(&served.token[..63]),
        Some(&format!("Bearer {}", served.token)),
    ] {
        let (status, body) = get(&served.addr, &served.path, auth);
        assert_eq!(status, 401, "auth {auth:?}: {body}");
        assert!(!body.contains(&issued.access_key_id), "{body}");
    }
    assert_eq!(
        get(&served.addr, "/other", None).0,
        401,
        "the token comes first"
    );
    assert_eq!(get(&served.addr, "/other", Some(&served.token)).0, 404);
    let post = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nContent-Length: 0\r\n\r\n",
        served.path, served.token
    );
    assert_eq!(exchange(&served.addr, post.as_bytes()).0, 405);
    // Bounded reads: a huge head is refused, garbage is a 400, a silent client is dropped.
    let huge = format!(
        "GET / HTTP/1.1\r\nX-Fill: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    assert_eq!(exchange(&served.addr, huge.as_bytes()).0, 431);
    let many: String = (0..100).map(|i| format!("X-{i}: y\r\n")).collect();
    assert_eq!(
        exchange(
            &served.addr,
            format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes()
        )
        .0,
        431
    );
    assert_eq!(exchange(&served.addr, b"\x00\x01 nonsense\r\n\r\n").0, 400);
    let started = Instant::now();
    let (status, _) = exchange(&served.addr, b"GET / HTTP/1.1\r\nHost: slow");
    assert_eq!(status, 0, "no answer to a head that never ends");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "a silent client is dropped, not waited on: {:?}",
        started.elapsed()
    );
    assert_eq!(
        served.key(),
        issued.access_key_id,
        "still serving after all that"
    );

    let port: u16 = served
        .addr
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    assert_loopback_only(port);

    // SIGTERM to jit reaches the child (sleep dies of it: 128 + 15), and the listener goes too.
    let addr = served.addr.clone();
    let (code, stderr) = served.stop();
    assert_eq!(code, Some(143), "stderr: {stderr}");
    assert!(
        TcpStream::connect(&addr).is_err(),
        "the listener outlived jit"
    );
    assert_eq!(portal.cred_calls(), 1);
}

/// Ctrl-C typed in a terminal reaches the child; jit waits and returns the child's code.
#[test]
fn ctrl_c_in_a_terminal_reaches_the_child_and_jit_returns_its_code() {
    let portal = StandIn::start();
    let sb = Sandbox::new();
    dev_config(&sb, &portal, true);
    let term = Tmux::start(&sb, &["bash", "--norc", "--noprofile"]);
    // A line ending in `needle`: the typed command has each needle inside it, never at its end.
    let wait_for = |needle: &str| {
        term.wait(needle, |screen| {
            screen.lines().any(|l| l.trim_end().ends_with(needle))
        })
    };
    // A child that traps SIGINT and exits 42: jit must survive the key to return 42.
    term.send(
        "jit exec dev -- sh -c 'trap \"echo child-got-INT; exit 42\" INT; echo child-ready; while :; do sleep 0.1; done'; echo \"jit-rc=$?\"",
    );
    wait_for("child-ready");
    term.tmux(&["send-keys", "-t", "0", "C-c"]);
    let s = wait_for("jit-rc=42");
    assert!(s.lines().any(|l| l.ends_with("child-got-INT")), "{s}");
    // A child that dies of SIGINT: 128 + 2.
    term.send("jit exec dev -- sh -c 'echo child2-ready; exec sleep 600'; echo \"jit2-rc=$?\"");
    wait_for("child2-ready");
    term.tmux(&["send-keys", "-t", "0", "C-c"]);
    wait_for("jit2-rc=130");
    assert_eq!(portal.cred_calls(), 1);
}

/// Each SDK child loops for this long: three lifetimes of the 60-second credentials.
const RUN_SECS: u64 = 180;
const LIFETIME: i64 = 60;
const WINDOW: &str = "30";

const BOTO3_LOOP: &str = r#"
import sys, time, boto3
end = time.time() + float(sys.argv[1])
sts = boto3.client("sts")
calls = 0
while time.time() < end:
    print(sts.get_caller_identity()["Arn"], flush=True)
    calls += 1
    time.sleep(1)
print("calls", calls)
"#;

/// A plain container-credentials client, as many of them as the test starts.
const RAW_LOOP: &str = r#"
import json, os, sys, time, urllib.request
end = time.time() + float(sys.argv[1])
seen = []
while time.time() < end:
    req = urllib.request.Request(os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"],
                                 headers={"Authorization": os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]})
    with urllib.request.urlopen(req, timeout=10) as resp:
        key = json.load(resp)["AccessKeyId"]
    if not seen or seen[-1] != key:
        seen.append(key)
    time.sleep(1)
print(" ".join(seen))
"#;

/// Start every consumer at once under one `jit exec`; each writes `<dir>/<name>.out`.
const CHILDREN: &str = r#"
secs=$1 dir=$2 js=$3 fifty=$4
python -c "$BOTO3_LOOP" "$secs" >"$dir/boto3.out" 2>&1 & boto3=$!
(end=$(( $(date +%s) + secs )); n=0
 while [ "$(date +%s)" -lt "$end" ]; do
   aws sts get-caller-identity --query Arn --output text || exit 1
   n=$((n + 1)); sleep 2
 done; echo "calls $n") >"$dir/awscli.out" 2>&1 & cli=$!
node "$js" "$secs" >"$dir/js.out" 2>&1 & jspid=$!
raw=""
i=0; while [ "$i" -lt "$fifty" ]; do
  python -c "$RAW_LOOP" "$secs" >"$dir/raw-$i.out" 2>&1 & raw="$raw $!"
  i=$((i + 1))
done
failed=0
wait "$boto3" || { echo "boto3 failed"; failed=1; }
wait "$cli" || { echo "awscli failed"; failed=1; }
wait "$jspid" || { echo "js failed"; failed=1; }
for p in $raw; do wait "$p" || { echo "raw child failed"; failed=1; }; done
exit "$failed"
"#;

/// (client, access key) for every GetCallerIdentity moto recorded, client from the User-Agent.
fn signed_calls(moto_url: &str) -> Vec<(String, String)> {
    let log = reqwest::blocking::get(format!("{moto_url}/moto-api/recorder/download-recording"))
        .and_then(|r| r.text())
        .expect("moto recording");
    let mut calls = Vec::new();
    for line in log.lines() {
        let Ok(entry) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let header = |name: &str| {
            entry["headers"]
                .as_object()
                .and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
                .and_then(|(_, v)| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let body = entry["body"].as_str().unwrap_or_default();
        let body = if entry["body_encoded"].as_bool() == Some(true) {
            decode_base64(body)
        } else {
            body.to_string()
        };
        if !body.contains("GetCallerIdentity")
            && !header("X-Amz-Target").contains("GetCallerIdentity")
        {
            continue;
        }
        let ua = header("User-Agent").to_lowercase();
        let client = if ua.contains("aws-cli/") {
            "awscli"
        } else if ua.contains("boto3/") {
            "boto3"
        } else if ua.contains("aws-sdk-js") {
            "js"
        } else {
            "other"
        };
        let auth = header("Authorization");
        let key = auth
            .split("Credential=")
            .nth(1)
            .and_then(|c| c.split('/').next())
            .unwrap_or_default()
            .to_string();
        calls.push((client.to_string(), key));
    }
    calls
}

fn decode_base64(text: &str) -> String {
    use base64::Engine;
    // moto may wrap or pad the body: keep only the alphabet.
    let clean: String = text
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/'))
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(clean)
        .unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn js_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("js");
    assert!(
        dir.join("node_modules")
            .join("@aws-sdk")
            .join("client-sts")
            .exists(),
        "the AWS SDK for JavaScript is missing: run scripts/test-deps.sh (npm ci in tests/js)"
    );
    dir
}

/// The issue's scenario: runs longer than any one session. boto3, the AWS CLI and the AWS SDK
/// for JavaScript keep calling STS for three lifetimes of 60-second credentials and keep
/// succeeding, signing with new keys as they rotate; fifty more children polling the same
/// server cost one portal fetch per rotation.
#[test]
fn sdks_outlive_their_credentials_under_one_server_and_fifty_children_share_each_fetch() {
    let moto = start_moto();
    let portal = StandIn::start();
    portal.state().sts = Some(moto.url.clone());
    set_validity(&portal, LIFETIME);
    let sb = Sandbox::new()
        .env("JIT_REFRESH_WINDOW", WINDOW)
        .env("AWS_ENDPOINT_URL", &moto.url)
        .env("BOTO3_LOOP", BOTO3_LOOP)
        .env("RAW_LOOP", RAW_LOOP);
    dev_config(&sb, &portal, true);
    let http = reqwest::blocking::Client::new();
    http.post(format!("{}/moto-api/recorder/start-recording", moto.url))
        .send()
        .expect("start recording");
    let out_dir = sb.dir.path().join("out");
    std::fs::create_dir_all(&out_dir).expect("mkdir");
    let js = js_dir().join("sts-loop.js");
    let started = Instant::now();
    let run = finish(
        sb.jit(&["exec", "dev", "--", "sh", "-c", CHILDREN, "sh"])
            .args([
                RUN_SECS.to_string().as_str(),
                out_dir.to_str().expect("utf8"),
                js.to_str().expect("utf8"),
                "50",
            ])
            .output()
            .expect("jit exec"),
    );
    let elapsed = started.elapsed().as_secs();
    let read = |name: &str| std::fs::read_to_string(out_dir.join(name)).unwrap_or_default();
    let report = format!(
        "jit stderr (tail): {}\nstdout: {}\nboto3: {}\nawscli: {}\njs: {}",
        run.stderr
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .join("\n"),
        run.stdout,
        read("boto3.out"),
        read("awscli.out"),
        read("js.out")
    );
    assert_eq!(run.code, Some(0), "{report}");
    let arn = "arn:aws:sts::111111111111:assumed-role/duploservices-dev01/alice";
    for (name, min_calls) in [("boto3.out", 100), ("awscli.out", 30), ("js.out", 100)] {
        let text = read(name);
        let calls: usize = text
            .lines()
            .find_map(|l| l.strip_prefix("calls "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} did not finish: {report}"));
        assert!(calls >= min_calls, "{name}: only {calls} calls: {report}");
        let arns = text.lines().filter(|l| l.starts_with("arn:")).count();
        assert_eq!(arns, calls, "{name}: every call answered: {report}");
        assert!(
            text.lines()
                .filter(|l| l.starts_with("arn:"))
                .all(|l| l == arn),
            "{report}"
        );
    }

    // moto saw each SDK sign with at least three keys, all of them ones the portal issued.
    let issued: HashSet<String> = portal
        .state()
        .issued
        .iter()
        .map(|i| i.access_key_id.clone())
        .collect();
    let calls = signed_calls(&moto.url);
    let mut summary = Vec::new();
    for client in ["boto3", "awscli", "js"] {
        let keys: HashSet<&str> = calls
            .iter()
            .filter(|(c, _)| c == client)
            .map(|(_, k)| k.as_str())
            .collect();
        assert!(
            keys.len() >= 3,
            "{client} signed with {} keys: {keys:?}; all calls: {calls:?}",
            keys.len()
        );
        assert!(
            keys.iter().all(|k| issued.contains(*k)),
            "{client} signed with a key the portal never issued: {keys:?}"
        );
        let signed = calls.iter().filter(|(c, _)| c == client).count();
        summary.push(format!("{client} {signed} calls with {} keys", keys.len()));
    }

    // One portal fetch per rotation for all 53 consumers: every 30 s (60 s credentials,
    // refreshed when 30 s remain), so about elapsed / 30 + 1 fetches, not one per child.
    let fetches = portal.cred_calls();
    let rotations = usize::try_from(elapsed / 30).expect("small") + 1;
    assert!(
        fetches <= rotations + 1 && fetches + 1 >= rotations,
        "{fetches} portal fetches in {elapsed} s; expected about {rotations}"
    );
    let mut seen_by_children = HashSet::new();
    for i in 0..50 {
        let text = read(&format!("raw-{i}.out"));
        let keys: Vec<&str> = text.split_whitespace().collect();
        assert!(keys.len() >= 3, "child {i} saw {keys:?}: {text}");
        seen_by_children.extend(keys.into_iter().map(str::to_string));
    }
    assert!(
        seen_by_children.iter().all(|k| issued.contains(k)),
        "children were served keys the portal never issued"
    );
    println!(
        "{elapsed} s: {}; 50 children saw {} keys; {fetches} portal fetches",
        summary.join(", "),
        seen_by_children.len()
    );
    assert!(
        seen_by_children.len() + 1 >= fetches,
        "each fetch was served: {} keys seen, {fetches} fetched",
        seen_by_children.len()
    );
}

/// The cache entry file of `jit aws --tenant dev01` against `host_key`.
fn entry_file(sb: &Sandbox, host_key: &str) -> PathBuf {
    sb.cache_dir().join(format!(
        "{},tenant,dev01,aws-creds.json",
        host_key.replace(':', "%3A")
    ))
}

fn host_key(url: &str) -> &str {
    url.trim_start_matches("http://")
        .trim_start_matches("https://")
}

/// Rewrite a cache entry as fetched `age` seconds ago with `left` seconds to go.
fn age_entry(path: &Path, age: i64, left: i64, host: Option<&str>) -> serde_json::Value {
    let mut entry: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("entry")).expect("json");
    let now = jiff::Timestamp::now().as_second();
    entry["FetchedAt"] = (now - age).into();
    entry["Expiration"] = jiff::Timestamp::from_second(now + left)
        .expect("ts")
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
        .into();
    if let Some(h) = host {
        entry["Host"] = h.into();
    }
    entry
}

#[test]
fn min_ttl_refreshes_early_and_fails_before_running_when_the_portal_gives_less() {
    let portal = StandIn::start();
    let sb = Sandbox::new();
    dev_config(&sb, &portal, false);
    set_validity(&portal, 1800);
    let first = env_key(&sb, "dev");
    // 30 minutes left is fresh, but not for 45m: fetch again first.
    set_validity(&portal, 3600);
    let again = sb.run(&["env", "dev"]).ok().json();
    assert_eq!(
        again["AWS_ACCESS_KEY_ID"],
        first.as_str(),
        "fresh without --min-ttl"
    );
    let long = sb.run(&["env", "dev", "--min-ttl", "45m"]).ok().json();
    assert_ne!(
        long["AWS_ACCESS_KEY_ID"],
        first.as_str(),
        "--min-ttl 45m refreshed"
    );
    let left: i64 = long["JIT_EXPIRES"]
        .as_str()
        .expect("expires")
        .parse()
        .expect("int");
    assert!(left - jiff::Timestamp::now().as_second() > 45 * 60);
    assert_eq!(portal.cred_calls(), 2);
    // Now 1 h is cached: enough for 45m and 3000s, so no fetch.
    let key = aws_dev(&sb, &portal, &["--min-ttl", "3000s"]).ok().key();
    assert_eq!(key, long["AWS_ACCESS_KEY_ID"].as_str().expect("key"));
    sb.run(&["exec", "dev", "--min-ttl", "45m", "--", "true"])
        .ok();
    assert_eq!(portal.cred_calls(), 2);

    // More than the portal gives: one fetch, then a failure saying how much it gives, and the
    // command never runs.
    let marker = sb.dir.path().join("ran");
    let marker_arg = marker.to_str().expect("utf8");
    sb.run(&["exec", "dev", "--min-ttl", "2h", "--", "touch", marker_arg])
        .fails(
            1,
            "the portal gives tenant dev01 credentials for 1h at most, less than --min-ttl 2h",
        );
    assert!(!marker.exists(), "the command ran anyway");
    assert_eq!(portal.cred_calls(), 3);
    sb.run(&[
        "exec",
        "dev",
        "--server",
        "--min-ttl",
        "90m",
        "--",
        "touch",
        marker_arg,
    ])
    .fails(1, "for 1h at most, less than --min-ttl 1h 30m");
    assert!(!marker.exists(), "the command ran anyway");
    aws_dev(&sb, &portal, &["--min-ttl", "2h"]).fails(1, "for 1h at most");
    sb.run(&["env", "dev", "--min-ttl", "1d"])
        .fails(1, "less than --min-ttl 24h");
    sb.run(&["env", "dev", "--min-ttl", "soon"])
        .fails(2, "invalid duration 'soon'");
    // What was fetched is still cached and served to callers who ask less.
    sb.run(&["env", "dev", "--min-ttl", "59m"]).ok();
    assert_eq!(portal.cred_calls(), 6);
}

#[test]
fn portal_down_serves_cached_credentials_that_have_not_expired() {
    let portal = StandIn::start();
    let sb = Sandbox::new();
    dev_config(&sb, &portal, false);
    let key = env_key(&sb, "dev");
    let path = entry_file(&sb, host_key(&portal.url));
    // Past the refresh point (an hour-long session with 2 minutes left).
    let stale = age_entry(&path, 3480, 120, None);
    std::fs::write(&path, stale.to_string()).expect("write entry");

    portal.state().fail = Some((503, "\"maintenance\"".into()));
    let run = sb
        .run(&["exec", "dev", "--", "sh", "-c", "echo $AWS_ACCESS_KEY_ID"])
        .ok();
    assert_eq!(run.stdout.trim(), key);
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("jit: warning:"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", run.stderr);
    assert!(
        warnings[0].contains("status 503")
            && warnings[0].contains("using cached credentials, valid for ")
            && (warnings[0].contains("for 2m more") || warnings[0].contains("for 1m 5")),
        "{}",
        warnings[0]
    );
    let run = aws_dev(&sb, &portal, &[]).ok();
    assert_eq!(run.key(), key);
    run.warns("using cached credentials");
    // Not for more than they have left, not when the portal says no, not once expired.
    sb.run(&["env", "dev", "--min-ttl", "5m"])
        .fails(1, "status 503");
    portal.state().fail = Some((401, "\"token revoked\"".into()));
    sb.run(&["env", "dev"]).fails(1, "status 401");
    portal.state().fail = Some((503, "\"maintenance\"".into()));
    std::fs::write(&path, age_entry(&path, 3610, -10, None).to_string()).expect("write entry");
    sb.run(&["env", "dev"]).fails(1, "status 503");

    // Connection refused and a name that does not resolve: the same.
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let tf = sb.token_file(&portal.user_token);
    for (name, host) in [
        ("refused", format!("http://127.0.0.1:{dead_port}")),
        ("dns", "https://jit-test-portal.invalid".to_string()),
    ] {
        sb.write_config(&format!(
            "[env.{name}]\nhost = \"{host}\"\ntenant = \"dev01\"\ntoken_file = \"{tf}\"\n"
        ));
        let entry = age_entry(&path, 3480, 120, Some(&host));
        std::fs::write(entry_file(&sb, host_key(&host)), entry.to_string()).expect("entry");
        let run = sb.run(&["env", name]).ok();
        assert_eq!(run.json()["AWS_ACCESS_KEY_ID"], key.as_str(), "{name}");
        run.warns("portal unreachable")
            .warns("using cached credentials");
        let entry = age_entry(&path, 3610, -10, Some(&host));
        std::fs::write(entry_file(&sb, host_key(&host)), entry.to_string()).expect("entry");
        sb.run(&["env", name]).fails(1, "portal unreachable");
    }
}

/// `jit exec --server` through an outage: the old credentials until they expire, then 503,
/// then new ones as soon as the portal answers again. `server = true` from `jit config add`.
#[test]
fn server_serves_through_an_outage_until_expiry_and_recovers() {
    let portal = StandIn::start();
    set_validity(&portal, 20);
    let sb = Sandbox::new().env("JIT_REFRESH_WINDOW", "30");
    let tf = sb.token_file(&portal.user_token);
    sb.run(&[
        "config",
        "add",
        "dev",
        "--host",
        &portal.url,
        "--tenant",
        "dev01",
        "--token-file",
        &tf,
        "--server",
    ])
    .ok();
    let config = std::fs::read_to_string(sb.config_file()).expect("config");
    assert!(config.contains("server = true"), "{config}");
    let plain = sb
        .run(&[
            "exec",
            "dev",
            "--no-server",
            "--",
            "sh",
            "-c",
            "echo ${AWS_ACCESS_KEY_ID-none} ${AWS_CONTAINER_CREDENTIALS_FULL_URI-none}",
        ])
        .ok();
    let first = portal.last_key();
    assert_eq!(
        plain.stdout,
        format!("{first} none\n"),
        "--no-server wins over server = true"
    );

    let served = Served::start(&sb, &["dev"]);
    assert_eq!(served.key(), first, "the cached credentials");
    portal.state().fail = Some((503, "\"maintenance\"".into()));
    // 20-second credentials are renewed when 10 s remain: by then the portal is down.
    let (_, json) = served.fetch();
    let expires: jiff::Timestamp = json["Expiration"]
        .as_str()
        .expect("exp")
        .parse()
        .expect("ts");
    let until = |t: jiff::Timestamp| {
        let left = t.duration_since(jiff::Timestamp::now()).as_millis();
        std::thread::sleep(Duration::from_millis(
            u64::try_from(left.max(0)).expect("ms"),
        ));
    };
    until(expires - jiff::SignedDuration::from_secs(4));
    assert_eq!(
        served.key(),
        first,
        "kept serving inside the refresh window"
    );
    assert!(
        portal.count("GetAwsConsoleTokenUrl") > 1,
        "it did try the portal"
    );
    until(expires + jiff::SignedDuration::from_secs(1));
    let (status, json) = served.fetch();
    assert_eq!(status, 503, "expired credentials are never served: {json}");
    assert!(
        json["Message"]
            .as_str()
            .unwrap_or_default()
            .contains("status 503"),
        "{json}"
    );
    portal.state().fail = None;
    let fresh = poll(Duration::from_secs(10), || {
        let (status, json) = served.fetch();
        (status == 200)
            .then(|| json["AccessKeyId"].as_str().unwrap_or_default().to_string())
            .ok_or_else(|| format!("not yet: {status} {json}; jit: {}", served.stderr()))
    });
    assert_ne!(fresh, first);
    assert_eq!(fresh, portal.last_key());
    let (_, stderr) = served.stop();
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("jit: warning:"))
        .collect();
    assert!(
        warnings
            .iter()
            .filter(|l| l.contains("using cached credentials"))
            .count()
            == 1,
        "one warning for the outage, not one per try: {stderr}"
    );
    assert!(stderr.contains("jit: the portal answers again"), "{stderr}");
}

/// Without AWS_PROFILE every SDK takes a `[default]` profile's credentials over the endpoint:
/// jit refuses to start rather than run the command as some other account.
#[test]
fn a_default_profile_with_credentials_stops_the_server_before_anything_runs() {
    let portal = StandIn::start();
    let sb = Sandbox::new();
    dev_config(&sb, &portal, true);
    let aws_dir = sb.home().join(".aws");
    std::fs::create_dir_all(&aws_dir).expect("mkdir");
    std::fs::write(
        aws_dir.join("credentials"),
        "[default]\naws_access_key_id = AKIADEFAULTPROFILE00\naws_secret_access_key = default-secret\n",
    )
    .expect("credentials");
    let marker = sb.dir.path().join("ran");
    let touch = ["exec", "dev", "--", "touch", marker.to_str().expect("utf8")];
    sb.run(&touch).fails(
        1,
        "the [default] profile in ",
    )
    .warns("credentials sets aws_access_key_id, and AWS SDKs take it before jit's credentials endpoint")
    .warns("AWS_SHARED_CREDENTIALS_FILE=/dev/null");
    assert!(!marker.exists());
    assert_eq!(portal.requests().len(), 0, "refused before any fetch");

    // Hidden as the message says, boto3 in the child takes its credentials from jit.
    let py = venv_bin("python");
    let method =
        "import boto3; c = boto3.Session().get_credentials(); print(c.method, c.access_key)";
    let mut cmd = sb.jit(&[
        "exec",
        "dev",
        "--",
        py.to_str().expect("utf8"),
        "-c",
        method,
    ]);
    cmd.env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
    let run = finish(cmd.output().expect("jit exec")).ok();
    assert_eq!(
        run.stdout,
        format!("container-role {}\n", portal.last_key())
    );

    // The config file's [default] counts too; a [default] with only a region does not.
    std::fs::remove_file(aws_dir.join("credentials")).expect("rm");
    std::fs::write(
        aws_dir.join("config"),
        "[profile default]\ncredential_process = other-tool\n",
    )
    .expect("config");
    sb.run(&touch).fails(1, "config sets credential_process");
    std::fs::write(aws_dir.join("config"), "[default]\nregion = eu-west-1\n").expect("config");
    sb.run(&touch).ok();
    assert!(marker.exists());
}
