//! `jit k8s` as kubectl's exec credential plugin: the real kubectl, a kubeconfig line written
//! for duplo-jit, and a loopback API server that records the bearer token it is shown.

use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::support::{JIT, Sandbox, StandIn, finish, venv_bin};

/// The stand-in Kubernetes API server (tests/k8s/apiserver.py): HTTPS with a throwaway
/// self-signed certificate, since client-go runs exec plugins only over TLS. It keeps the
/// `Authorization` headers it saw.
struct ApiServer {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
    child: std::process::Child,
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ApiServer {
    #[track_caller]
    fn start(sb: &Sandbox) -> ApiServer {
        let dir = sb.dir.path();
        let (cert, key) = (dir.join("api.crt"), dir.join("api.key"));
        let made = std::process::Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args([
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("openssl");
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/k8s/apiserver.py");
        let mut child = std::process::Command::new(venv_bin("python"))
            .arg(script)
            .arg(&cert)
            .arg(&key)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("api server");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
        let port = lines
            .next()
            .and_then(Result::ok)
            .expect("api server port")
            .trim()
            .to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if let Some(auth) = line.strip_prefix("auth ") {
                    log.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(auth.to_string());
                }
            }
        });
        ApiServer {
            url: format!("https://127.0.0.1:{port}"),
            seen,
            child,
        }
    }

    /// The Authorization headers seen so far, once `n` have arrived.
    #[track_caller]
    fn seen(&self, n: usize) -> Vec<String> {
        crate::support::poll(std::time::Duration::from_secs(10), || {
            let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
            if seen.len() >= n {
                Ok(seen)
            } else {
                Err(format!("{} of {n} requests seen", seen.len()))
            }
        })
    }
}

/// A kubeconfig whose user runs `jit k8s` with duplo-jit's Go-style flags, as such files are.
fn kubeconfig(sb: &Sandbox, api: &ApiServer, stand_in: &StandIn, token_file: &str) -> String {
    let path = sb.dir.path().join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: dev\nclusters:\n- name: dev\n  cluster:\n    server: {api}\n    insecure-skip-tls-verify: true\n\
             contexts:\n- name: dev\n  context:\n    cluster: dev\n    user: dev\n\
             users:\n- name: dev\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: {JIT}\n\
             \x20     args: [k8s, -tenant, dev01, -host, {host}, -token-file, {token_file}]\n      interactiveMode: Never\n",
            api = api.url,
            host = stand_in.url,
        ),
    )
    .expect("kubeconfig");
    path.display().to_string()
}

#[track_caller]
fn kubectl(sb: &Sandbox, config: &str) -> crate::support::Run {
    let mut cmd = sb.command(venv_bin("kubectl"));
    cmd.args(["--kubeconfig", config, "get", "--raw", "/api/v1/namespaces"]);
    finish(cmd.output().expect("kubectl"))
}

#[test]
fn kubectl_gets_the_token_and_the_cache_serves_the_next_call_without_the_portal() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new();
    let api = ApiServer::start(&sb);
    let tf = sb.token_file(&stand_in.user_token);
    let config = kubeconfig(&sb, &api, &stand_in, &tf);
    let out = kubectl(&sb, &config).ok();
    assert!(out.stdout.contains("NamespaceList"), "{}", out.stdout);
    let token = stand_in.state().k8s_tokens[0].clone();
    assert_eq!(api.seen(1), vec![format!("Bearer {token}")]);
    assert_eq!(stand_in.count("k8s/jitAccess"), 1);
    let before = stand_in.requests().len();
    kubectl(&sb, &config).ok();
    assert_eq!(api.seen(2)[1], format!("Bearer {token}"));
    assert_eq!(
        stand_in.requests().len(),
        before,
        "a cache hit makes no portal request at all"
    );
    // duplo-jit's cache file name, holding the ExecCredential itself.
    let host = stand_in
        .url
        .trim_start_matches("http://")
        .replace(':', "%3A");
    let cached = sb
        .cache_dir()
        .join(format!("{host},tenant,dev01,k8s-creds.json"));
    let entry: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cached).expect("cache file")).expect("json");
    assert_eq!(entry["kind"], "ExecCredential");
}

#[test]
fn fifty_cold_kubectl_calls_make_one_portal_fetch() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new();
    let api = ApiServer::start(&sb);
    let tf = sb.token_file(&stand_in.user_token);
    let config = kubeconfig(&sb, &api, &stand_in, &tf);
    let children: Vec<_> = (0..50)
        .map(|_| {
            let mut cmd = sb.command(venv_bin("kubectl"));
            cmd.args([
                "--kubeconfig",
                &config,
                "get",
                "--raw",
                "/api/v1/namespaces",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
            cmd.spawn().expect("kubectl")
        })
        .collect();
    for child in children {
        finish(child.wait_with_output().expect("wait")).ok();
    }
    assert_eq!(stand_in.count("k8s/jitAccess"), 1);
    let token = stand_in.state().k8s_tokens[0].clone();
    let seen = api.seen(50);
    assert!(seen.iter().all(|s| *s == format!("Bearer {token}")));
}

#[test]
fn plan_clusters_print_duplo_jits_exec_credential() {
    let stand_in = StandIn::start();
    stand_in.state().k8s_ca = Some("Q0EtREFUQQ==".into());
    stand_in.state().k8s_refreshed = Some("2099-01-01T00:00:00Z".into());
    let sb = Sandbox::new();
    let admin = sb.token_file(&stand_in.admin_token);
    // Far in the future: refused as fresh, so every call fetches; still printed as given.
    let out = sb
        .jit_cmd(["k8s", "-plan", "default"])
        .host(&stand_in.url)
        .token_file(&admin)
        .ok()
        .stdout;
    let token = stand_in.state().k8s_tokens[0].clone();
    assert_eq!(
        out,
        format!(
            "{{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"spec\":{{\"cluster\":{{\"server\":\"https://k8s.stand-in.invalid:6443\",\"certificate-authority-data\":\"Q0EtREFUQQ==\",\"config\":null}},\"interactive\":false}},\"status\":{{\"expirationTimestamp\":\"2099-01-01T00:00:00Z\",\"token\":\"{token}\"}}}}\n"
        )
    );
    assert_eq!(stand_in.count("v3/admin/plans/default/k8sConfig"), 1);
    let user = sb.token_file(&stand_in.user_token);
    sb.jit_cmd(["k8s", "--plan", "default"])
        .host(&stand_in.url)
        .token_file(&user)
        .no_cache()
        .fails(1, "status 403");
    sb.jit_cmd(["k8s"])
        .host(&stand_in.url)
        .token_file(&user)
        .fails(2, "must specify --plan ID or --tenant NAME|ID");
}

/// duplo-jit takes the plan when both are given; so does jit, with the warning `jit aws` gives
/// when `--admin` wins over `--tenant`.
#[test]
fn plan_wins_over_tenant_with_a_warning() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new();
    let admin = sb.token_file(&stand_in.admin_token);
    let run = sb
        .jit_cmd(["k8s", "--plan", "default", "--tenant", "dev01"])
        .host(&stand_in.url)
        .token_file(&admin)
        .ok();
    run.warns("--plan and --tenant given; using --plan (as duplo-jit does)");
    assert_eq!(run.stderr.matches("warning").count(), 1, "{}", run.stderr);
    assert!(
        run.stdout.contains("\"kind\":\"ExecCredential\""),
        "{}",
        run.stdout
    );
    assert_eq!(stand_in.count("v3/admin/plans/default/k8sConfig"), 1);
    assert_eq!(stand_in.count("GetTenantsForUser"), 0);
}

/// `jit kubeconfig ENV` merges a context that kubectl then uses, keeps the user's own entries,
/// and changes nothing when run again.
#[test]
fn kubeconfig_writes_a_context_kubectl_uses_and_keeps_the_rest() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new();
    let api = ApiServer::start(&sb);
    stand_in.state().k8s_server = api.url.clone();
    sb.standard_config(&stand_in);
    let kube = sb.home().join(".kube").join("config");
    std::fs::create_dir_all(kube.parent().expect("dir")).expect("mkdir");
    let mine = "apiVersion: v1\nkind: Config\nclusters:\n- name: mine\n  cluster:\n    server: https://mine.example.com\nusers:\n- name: mine\n  user:\n    token: my-own\ncontexts:\n- name: mine\n  context:\n    cluster: mine\n    user: mine\ncurrent-context: mine\n";
    std::fs::write(&kube, mine).expect("kubeconfig");
    sb.run(&["kubeconfig", "dev"])
        .ok()
        .warns("wrote context 'dev'");
    let first = std::fs::read_to_string(&kube).expect("read");
    sb.run(&["kubeconfig", "dev"])
        .ok()
        .warns("unchanged: context 'dev'");
    assert_eq!(std::fs::read_to_string(&kube).expect("read"), first);
    assert!(first.contains("token: my-own") && first.contains("server: https://mine.example.com"));
    let mut cmd = sb.command(venv_bin("kubectl"));
    cmd.args(["get", "--raw", "/api/v1/namespaces"]);
    finish(cmd.output().expect("kubectl")).ok();
    let token = stand_in.state().k8s_tokens[0].clone();
    assert_eq!(api.seen(1), vec![format!("Bearer {token}")]);
    assert_eq!(
        stand_in.count("k8s/jitAccess"),
        1,
        "the context reuses the cached credential"
    );
    let printed = sb.run(&["kubeconfig", "dev", "--print"]).ok().stdout;
    assert!(
        printed.contains("current-context: dev") && !printed.contains("mine"),
        "{printed}"
    );
    sb.run(&["kubeconfig", "admin"]).fails(2, "--plan ID");
}

/// A kubeconfig from `jit kubeconfig` works for a kubectl started with no PATH at all, as GUIs
/// launched outside a shell are: the context names jit by its absolute path. `--bare-command`
/// keeps `command: jit`, which such a kubectl cannot find.
#[test]
fn kubeconfig_names_jit_by_its_path_so_kubectl_without_a_path_finds_it() {
    let stand_in = StandIn::start();
    let sb = Sandbox::new();
    let api = ApiServer::start(&sb);
    stand_in.state().k8s_server = api.url.clone();
    sb.standard_config(&stand_in);
    let kube = sb.dir.path().join("gui-kubeconfig");
    let kube_arg = kube.display().to_string();
    let empty = sb.dir.path().join("empty-path");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let gui_kubectl = || {
        let mut cmd = sb.command(venv_bin("kubectl"));
        cmd.env("PATH", &empty).args([
            "--kubeconfig",
            &kube_arg,
            "get",
            "--raw",
            "/api/v1/namespaces",
        ]);
        finish(cmd.output().expect("kubectl"))
    };

    sb.run(&["kubeconfig", "dev", "--kubeconfig", &kube_arg])
        .ok();
    let written = std::fs::read_to_string(&kube).expect("read");
    let doc: yaml_serde::Value = yaml_serde::from_str(&written).expect("yaml");
    let command = doc["users"][0]["user"]["exec"]["command"]
        .as_str()
        .expect("command")
        .to_string();
    assert!(Path::new(&command).is_absolute(), "{written}");
    assert_eq!(
        std::fs::canonicalize(&command).expect("command exists"),
        std::fs::canonicalize(JIT).expect("jit")
    );
    let out = gui_kubectl().ok();
    assert!(out.stdout.contains("NamespaceList"), "{}", out.stdout);
    let token = stand_in.state().k8s_tokens[0].clone();
    assert_eq!(api.seen(1), vec![format!("Bearer {token}")]);

    sb.run(&[
        "kubeconfig",
        "dev",
        "--kubeconfig",
        &kube_arg,
        "--bare-command",
    ])
    .ok();
    let written = std::fs::read_to_string(&kube).expect("read");
    assert!(written.contains("command: jit\n"), "{written}");
    let run = gui_kubectl();
    assert_ne!(run.code, Some(0), "{}", run.stdout);
    assert!(run.stderr.contains("jit"), "{}", run.stderr);
}
