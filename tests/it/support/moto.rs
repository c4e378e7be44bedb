//! moto, the tests' AWS endpoint: one way to start it, one server shared by the tests that only
//! call AWS, and a server of one's own for a test that reads or changes moto's global state.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use super::{poll, venv_bin};

pub struct Moto {
    pub url: String,
    /// The wrapper shell: it stops moto and removes its directory when its stdin, this pipe,
    /// closes, that is when the `Moto` is dropped or the test process exits, however it exits.
    child: Child,
}

static SHARED: OnceLock<Moto> = OnceLock::new();

/// The moto shared by every test that only makes AWS calls. Its global state is off limits:
/// `record` and `enforce_auth` need a `&mut Moto`, which only `start_moto` gives.
pub fn moto() -> &'static Moto {
    SHARED.get_or_init(start_moto)
}

/// The one way to start moto: on a port it picks itself (no window for another process to take
/// a port we chose), in a directory of its own (its recorder writes `moto_recording` into its
/// working directory, and other test runs on this machine record too). Stops when dropped.
#[track_caller]
pub fn start_moto() -> Moto {
    let dir: PathBuf = tempfile::Builder::new()
        .prefix("jit-moto-")
        .tempdir()
        .expect("moto dir")
        .keep();
    let log = dir.join("moto.log");
    let script = "\"$0\" -H 127.0.0.1 -p 0 >moto.log 2>&1 & pid=$!; cat >/dev/null; \
                  kill $pid; wait $pid; rm -rf \"$1\"";
    let child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(venv_bin("moto_server"))
        .arg(&dir)
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start moto");
    let url = poll(Duration::from_secs(60), || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.split_inclusive('\n')
            .filter(|l| l.ends_with('\n'))
            .find_map(|l| l.split_once("Running on ").map(|(_, url)| url.trim()))
            .map(str::to_string)
            .ok_or_else(|| format!("moto did not start: {text}"))
    });
    Moto { url, child }
}

impl Moto {
    /// Run `f` with moto's request recorder on; returns what `f` returned and the recording.
    /// The recorder is global to the server: only a moto of one's own is free of other tests'
    /// calls, hence `&mut`.
    #[track_caller]
    pub fn record<T>(&mut self, f: impl FnOnce(&Moto) -> T) -> (T, String) {
        self.post("recorder/reset-recording", "");
        self.post("recorder/start-recording", "");
        let out = f(self);
        self.post("recorder/stop-recording", "");
        let log =
            reqwest::blocking::get(format!("{}/moto-api/recorder/download-recording", self.url))
                .and_then(|r| r.text())
                .expect("download moto's recording");
        (out, log)
    }

    /// Strict auth: from now on moto checks every signature against its IAM users.
    #[track_caller]
    pub fn enforce_auth(&mut self) {
        self.post("reset-auth", "0");
    }

    #[track_caller]
    fn post(&self, api: &str, body: &'static str) {
        let resp = reqwest::blocking::Client::new()
            .post(format!("{}/moto-api/{api}", self.url))
            .header("Content-Type", "text/plain")
            .body(body)
            .send()
            .expect("moto-api request");
        assert!(
            resp.status().is_success(),
            "moto-api/{api}: {}",
            resp.status()
        );
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}
