//! Test harness: a sandboxed `jit` (temp HOME and XDG dirs, AWS_* scrubbed), the
//! commercial portal's stand-in (`StandIn`), moto, and a check that no secret ever reaches stderr.

pub mod moto;
pub mod stand_in;
pub mod tmux;

use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use moto::{Moto, moto, start_moto};
pub use stand_in::StandIn;
pub(crate) use tmux::Tmux;

pub const JIT: &str = env!("CARGO_BIN_EXE_jit");

static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Every token and key the stand-in hands out or accepts; stderr is checked against all of them.
pub fn register_secret(s: &str) {
    SECRETS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(s.to_string());
}

#[track_caller]
pub fn assert_no_secrets(text: &str, what: &str) {
    let secrets = SECRETS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for s in secrets {
        assert!(!text.contains(&s), "a secret leaked into {what}: {text}");
    }
}

pub fn random_hex(n: usize) -> String {
    let mut out = String::new();
    while out.len() < n {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(Instant::now().elapsed().as_nanos() ^ u128::from(std::process::id()));
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out.truncate(n);
    out
}

pub fn venv() -> PathBuf {
    std::env::var_os("JIT_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv"))
}

#[track_caller]
pub fn venv_bin(name: &str) -> PathBuf {
    let path = venv().join("bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: run scripts/test-deps.sh (creates .venv with awscli, boto3, moto)",
        path.display()
    );
    path
}

pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub output: Output,
}

impl Run {
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code,
            Some(0),
            "expected success; stderr: {}\nstdout: {}",
            self.stderr,
            self.stdout
        );
        self
    }

    #[track_caller]
    pub fn fails(self, code: i32, needle: &str) -> Self {
        assert_eq!(
            self.code,
            Some(code),
            "expected exit {code}; stderr: {}",
            self.stderr
        );
        assert!(
            self.stdout.is_empty(),
            "stdout must stay empty on failure: {}",
            self.stdout
        );
        assert!(
            self.stderr.contains(needle),
            "stderr lacks '{needle}': {}",
            self.stderr
        );
        assert!(
            self.stderr.starts_with("jit: ") || self.stderr.starts_with("error:"),
            "{}",
            self.stderr
        );
        self
    }

    /// Assert a warning (or any line) on stderr; chains into `key`.
    #[track_caller]
    pub fn warns(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks '{needle}': {}",
            self.stderr
        );
        self
    }

    /// The AccessKeyId of the printed credential JSON.
    #[track_caller]
    pub fn key(&self) -> String {
        // `match`, not `unwrap_or_else`: a panic inside a closure would name this file.
        match self.json()["AccessKeyId"].as_str() {
            Some(key) => key.to_string(),
            None => panic!("no AccessKeyId: {}", self.stdout),
        }
    }

    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        match serde_json::from_str(self.stdout.trim()) {
            Ok(json) => json,
            Err(e) => panic!("not JSON ({e}): {}", self.stdout),
        }
    }
}

/// A private HOME with its own cache and config; nothing of the real user's leaks in.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    extra_env: Vec<(String, String)>,
}

impl Sandbox {
    #[track_caller]
    pub fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("tempdir");
        for sub in ["home", "cache", "config"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
        }
        Sandbox {
            dir,
            extra_env: Vec::new(),
        }
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.dir.path().join("cache").join("jit")
    }

    pub fn config_file(&self) -> PathBuf {
        self.dir
            .path()
            .join("config")
            .join("jit")
            .join("config.toml")
    }

    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.extra_env.push((k.into(), v.into()));
        self
    }

    #[track_caller]
    pub fn path_var(&self) -> String {
        let bin = venv().join("bin");
        let jit_dir = Path::new(JIT).parent().expect("bin dir").to_path_buf();
        format!(
            "{}:{}:/usr/local/bin:/usr/bin:/bin",
            jit_dir.display(),
            bin.display()
        )
    }

    /// Any program, with the sandbox environment.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("PATH", self.path_var())
            .env("HOME", self.home())
            .env("XDG_CACHE_HOME", self.dir.path().join("cache"))
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("AWS_CONFIG_FILE", self.home().join(".aws").join("config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.home().join(".aws").join("credentials"),
            )
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("LANG", "C.UTF-8")
            .env("JIT_VERBOSE", "1")
            .stdin(Stdio::null());
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
        cmd
    }

    /// `jit aws`, to be described further: `sb.aws().admin().host(&stand_in.url).ok()`.
    pub fn aws(&self) -> Jit<'_> {
        self.jit_cmd(["aws"])
    }

    /// `jit duplo`, to be described further as `aws` is.
    pub fn duplo(&self) -> Jit<'_> {
        self.jit_cmd(["duplo"])
    }

    /// Any other `jit` invocation as a builder: `sb.jit_cmd(["config", "add", "dev"]).host(..)`.
    pub fn jit_cmd<S: AsRef<str>>(&self, args: impl IntoIterator<Item = S>) -> Jit<'_> {
        Jit {
            sb: self,
            args: Vec::new(),
            env: Vec::new(),
        }
        .args(args)
    }

    pub fn jit(&self, args: &[&str]) -> Command {
        let mut cmd = self.command(JIT);
        cmd.args(args);
        cmd
    }

    #[track_caller]
    pub fn run(&self, args: &[&str]) -> Run {
        finish(self.jit(args).output().expect("spawn jit"))
    }

    #[track_caller]
    pub fn write_config(&self, toml: &str) {
        let path = self.config_file();
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, toml).expect("write config");
    }

    /// The AWS CLI's `~/.aws/config`.
    #[track_caller]
    pub fn write_aws_config(&self, text: &str) {
        let dir = self.home().join(".aws");
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("config"), text).expect("write aws config");
    }

    /// The real AWS CLI, with `moto` as its endpoint.
    #[track_caller]
    pub fn aws_cli(&self, moto: &Moto, args: &[&str]) -> Run {
        let mut cmd = self.command(venv_bin("aws"));
        cmd.env("AWS_ENDPOINT_URL", &moto.url).args(args);
        finish(cmd.output().expect("spawn aws"))
    }

    /// A token file, so tokens stay out of argv as users are told to do.
    #[track_caller]
    pub fn token_file(&self, token: &str) -> String {
        let path = self.dir.path().join(format!("token-{}", random_hex(6)));
        std::fs::write(&path, token).expect("write token");
        path.display().to_string()
    }

    /// Config with `dev` (tenant dev01) and `admin` environments on `stand_in`.
    #[track_caller]
    pub fn standard_config(&self, stand_in: &StandIn) {
        let user = self.token_file(&stand_in.user_token);
        let admin = self.token_file(&stand_in.admin_token);
        self.write_config(&format!(
            "[env.dev]\nhost = \"{url}\"\ntenant = \"dev01\"\ntoken_file = \"{user}\"\n\n[env.admin]\nhost = \"{url}\"\nadmin = true\ntoken_file = \"{admin}\"\n",
            url = stand_in.url
        ));
    }
}

/// One `jit` invocation in a sandbox, described so that a test reads as a sentence (after just's
/// `tests/test.rs`) and run as often as the test needs:
/// `sb.aws().tenant("dev01").host(&stand_in.url).token_file(&tf).ok()`.
#[derive(Clone)]
#[must_use]
pub struct Jit<'a> {
    sb: &'a Sandbox,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Jit<'_> {
    pub fn args<S: AsRef<str>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_string()));
        self
    }

    pub fn arg(self, arg: &str) -> Self {
        self.args([arg])
    }

    pub fn admin(self) -> Self {
        self.arg("--admin")
    }

    pub fn duplo_ops(self) -> Self {
        self.arg("--duplo-ops")
    }

    pub fn tenant(self, name: &str) -> Self {
        self.args(["--tenant", name])
    }

    pub fn host(self, url: &str) -> Self {
        self.args(["--host", url])
    }

    pub fn api_host(self, url: &str) -> Self {
        self.args(["--api-host", url])
    }

    pub fn token_file(self, path: &str) -> Self {
        self.args(["--token-file", path])
    }

    pub fn no_cache(self) -> Self {
        self.arg("--no-cache")
    }

    pub fn refresh(self) -> Self {
        self.arg("--refresh")
    }

    /// `--interactive --no-browser`: the test plays the browser.
    pub fn interactive(self) -> Self {
        self.args(["--interactive", "--no-browser"])
    }

    /// An environment variable for this invocation only, on top of the sandbox's.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The arguments after `jit`, for a wrapper that runs `jit` itself.
    pub fn argv(&self) -> &[String] {
        &self.args
    }

    /// The invocation as one shell-quoted line, for a `credential_process` (its env is not in it).
    pub fn command_line(&self) -> String {
        shell_words::join(std::iter::once(JIT).chain(self.args.iter().map(String::as_str)))
    }

    pub fn command(&self) -> Command {
        let mut cmd = self.sb.command(JIT);
        cmd.args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Start it with stdout and stderr piped.
    #[track_caller]
    pub fn spawn(&self) -> Child {
        self.command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn jit")
    }

    #[track_caller]
    pub fn run(&self) -> Run {
        finish(self.command().output().expect("spawn jit"))
    }

    /// Run it and assert success.
    #[track_caller]
    pub fn ok(&self) -> Run {
        self.run().ok()
    }

    /// Run it and assert it fails with `code`, `needle` on stderr and nothing on stdout.
    #[track_caller]
    pub fn fails(&self, code: i32, needle: &str) -> Run {
        self.run().fails(code, needle)
    }

    /// Start an interactive login and return it with the login URL it printed on stderr.
    #[track_caller]
    pub fn start_login(&self) -> (Child, url::Url) {
        let mut child = self.clone().interactive().spawn();
        let url = login_url(&mut child);
        (child, url)
    }
}

/// The login URL a starting interactive `jit` prints on stderr.
#[track_caller]
pub fn login_url(child: &mut Child) -> url::Url {
    let line = read_stderr_until(child, |l| l.contains("/app/user/verify-token"));
    let url = line
        .split_whitespace()
        .find(|w| w.contains("verify-token"))
        .expect("url in line");
    url::Url::parse(url).expect("login url")
}

/// Turn an Output into a Run, checking that no secret reached stderr.
#[track_caller]
pub fn finish(output: Output) -> Run {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_no_secrets(&stderr, "stderr");
    Run {
        code: output.status.code(),
        stdout,
        stderr,
        output,
    }
}

/// A child's stderr, read in the background: a long-running child never blocks on a full pipe,
/// and the test can look at what it has said so far.
pub struct Stderr {
    text: Arc<Mutex<String>>,
    reader: std::thread::JoinHandle<()>,
}

impl Stderr {
    /// Take the piped stderr of `child` and start reading it.
    #[track_caller]
    pub fn capture(child: &mut Child) -> Stderr {
        let mut stream = child.stderr.take().expect("piped stderr");
        let text = Arc::new(Mutex::new(String::new()));
        let sink = text.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Stderr { text, reader }
    }

    /// What the child has written so far.
    pub fn so_far(&self) -> String {
        self.text.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Everything, once the child has closed its stderr (exited); checked for secrets.
    #[track_caller]
    pub fn all(self) -> String {
        let Stderr { text, reader } = self;
        reader.join().expect("stderr reader");
        let text = text.lock().unwrap_or_else(|e| e.into_inner()).clone();
        assert_no_secrets(&text, "stderr");
        text
    }
}

/// Read a child's stderr until `pred` matches a line; returns that line.
#[track_caller]
pub fn read_stderr_until(child: &mut Child, pred: impl Fn(&str) -> bool) -> String {
    let stderr = child.stderr.as_mut().expect("piped stderr");
    let mut seen = String::new();
    let mut buf = [0u8; 1];
    let mut line = String::new();
    loop {
        let n = stderr.read(&mut buf).expect("read stderr");
        assert!(n > 0, "stderr closed before the expected line; got: {seen}");
        let c = buf[0] as char;
        seen.push(c);
        if c == '\n' {
            if pred(&line) {
                return line;
            }
            line.clear();
        } else {
            line.push(c);
        }
    }
}

/// Call `f` every 50 ms until it returns Ok; past `timeout`, fail with its last Err.
#[track_caller]
pub fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match f() {
            Ok(value) => return value,
            Err(why) => assert!(Instant::now() < deadline, "timed out: {why}"),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A listener on `port` must be on loopback only: this machine's other addresses do not answer.
#[track_caller]
pub fn assert_loopback_only(port: u16) {
    let others = Command::new("hostname")
        .arg("-I")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    for ip in others
        .split_whitespace()
        .filter_map(|a| a.parse::<std::net::IpAddr>().ok())
    {
        let addr = std::net::SocketAddr::new(ip, port);
        assert!(
            std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err(),
            "listener reachable on {addr}"
        );
    }
}

pub fn unique<T: std::hash::Hash + Eq>(items: impl IntoIterator<Item = T>) -> usize {
    items.into_iter().collect::<HashSet<_>>().len()
}
