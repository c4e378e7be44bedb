//! Test harness: a sandboxed `jit` (temp HOME and XDG dirs, AWS_* scrubbed), the portal
//! stand-in, moto, and a check that no secret ever reaches stderr.

pub mod portal;

use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub use portal::Portal;

pub const JIT: &str = env!("CARGO_BIN_EXE_jit");

static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Every token and key the stand-in hands out or accepts; stderr is checked against all of them.
pub fn register_secret(s: &str) {
    SECRETS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(s.to_string());
}

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
    pub fn warns(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks '{needle}': {}",
            self.stderr
        );
        self
    }

    /// The AccessKeyId of the printed credential JSON.
    pub fn key(&self) -> String {
        self.json()["AccessKeyId"]
            .as_str()
            .unwrap_or_else(|| panic!("no AccessKeyId: {}", self.stdout))
            .to_string()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

/// A private HOME with its own cache and config; nothing of the real user's leaks in.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub extra_env: Vec<(String, String)>,
}

impl Sandbox {
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

    pub fn jit(&self, args: &[&str]) -> Command {
        let mut cmd = self.command(JIT);
        cmd.args(args);
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        finish(self.jit(args).output().expect("spawn jit"))
    }

    pub fn write_config(&self, toml: &str) {
        let path = self.config_file();
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, toml).expect("write config");
    }

    /// A token file, so tokens stay out of argv as users are told to do.
    pub fn token_file(&self, token: &str) -> String {
        let path = self.dir.path().join(format!("token-{}", random_hex(6)));
        std::fs::write(&path, token).expect("write token");
        path.display().to_string()
    }

    /// Config with `dev` (tenant dev01) and `admin` environments on `portal`.
    pub fn standard_config(&self, portal: &Portal) {
        let user = self.token_file(&portal.user_token);
        let admin = self.token_file(&portal.admin_token);
        self.write_config(&format!(
            "[env.dev]\nhost = \"{url}\"\ntenant = \"dev01\"\ntoken_file = \"{user}\"\n\n[env.admin]\nhost = \"{url}\"\nadmin = true\ntoken_file = \"{admin}\"\n",
            url = portal.url
        ));
    }
}

/// Turn an Output into a Run, checking that no secret reached stderr.
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

pub struct Moto {
    pub url: String,
    _child: Child,
}

static MOTO: OnceLock<Moto> = OnceLock::new();
/// moto's recorder is global: tests that read it take this lock.
pub static MOTO_RECORDER: Mutex<()> = Mutex::new(());

/// One moto server per test run. It dies with the test process: the wrapper shell waits on
/// its stdin, which closes when we exit.
pub fn moto() -> &'static Moto {
    MOTO.get_or_init(start_moto)
}

/// A moto of one's own, for tests that change its global settings; stops when dropped.
pub fn start_moto() -> Moto {
    {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let server = venv_bin("moto_server");
        let script = format!(
            "'{}' -H 127.0.0.1 -p {port} >/dev/null 2>&1 & pid=$!; cat >/dev/null; kill $pid",
            server.display()
        );
        // moto's request recorder writes into its working directory, or the file named here:
        // one file per moto, or two motos would append to and reset the same recording.
        let recording = std::env::temp_dir().join(format!("jit-moto-{port}-{}", random_hex(8)));
        let child = Command::new("sh")
            .args(["-c", &script])
            .env("MOTO_RECORDER_FILEPATH", recording)
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("start moto");
        let url = format!("http://127.0.0.1:{port}");
        poll(Duration::from_secs(60), || {
            std::net::TcpStream::connect(("127.0.0.1", port))
                .map_err(|e| format!("moto did not start: {e}"))
        });
        Moto { url, _child: child }
    }
}

/// Read a child's stderr until `pred` matches a line; returns that line.
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

/// Start an interactive `jit` and return it with the login URL it printed on stderr.
pub fn start_login(sb: &Sandbox, args: &[&str]) -> (Child, url::Url) {
    let mut child = sb
        .jit(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let line = read_stderr_until(&mut child, |l| l.contains("/app/user/verify-token"));
    let url = line
        .split_whitespace()
        .find(|w| w.contains("verify-token"))
        .expect("url in line");
    (child, url::Url::parse(url).expect("login url"))
}
