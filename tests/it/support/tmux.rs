//! A real terminal for the tests that type into real shells: `shells` and `hooks` (e2e) and
//! `credserver` (cli), which types Ctrl-C at a `jit exec` running in a live bash.

use std::time::Duration;

use super::{Sandbox, poll, random_hex};

/// A tmux server of one's own, killed on drop.
pub(crate) struct Tmux<'a> {
    sb: &'a Sandbox,
    socket: String,
}

impl<'a> Tmux<'a> {
    #[track_caller]
    pub(crate) fn start(sb: &'a Sandbox, argv: &[&str]) -> Tmux<'a> {
        let t = Tmux {
            sb,
            socket: format!("jit-test-{}", random_hex(10)),
        };
        let mut args = vec!["new-session", "-d", "-x", "200", "-y", "50"];
        args.extend_from_slice(argv);
        t.tmux(&args);
        t
    }

    #[track_caller]
    pub(crate) fn tmux(&self, args: &[&str]) -> String {
        let out = self
            .sb
            .command("tmux")
            .env("TERM", "xterm-256color")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .output()
            .expect("tmux");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[track_caller]
    pub(crate) fn send(&self, line: &str) {
        self.tmux(&["send-keys", "-t", "0", "-l", line]);
        self.tmux(&["send-keys", "-t", "0", "Enter"]);
    }

    #[track_caller]
    pub(crate) fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-J", "-t", "0", "-S", "-200"])
    }

    /// Wait until the screen satisfies `pred`; returns the screen.
    #[track_caller]
    pub(crate) fn wait(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        poll(Duration::from_secs(30), || {
            let screen = self.screen();
            if pred(&screen) {
                Ok(screen)
            } else {
                Err(format!("waiting for {what}; screen:\n{screen}"))
            }
        })
    }

    /// Type `typed`, press Tab, wait for the line to end in `want`, then clear the line.
    pub(crate) fn complete(&self, typed: &str, want: &str) {
        self.tmux(&["send-keys", "-t", "0", "-l", typed]);
        self.tmux(&["send-keys", "-t", "0", "Tab"]);
        self.wait(&format!("Tab after `{typed}`"), |s| {
            s.lines().any(|l| l.trim_end().ends_with(want))
        });
        self.tmux(&["send-keys", "-t", "0", "C-u"]);
    }

    /// Send a command that prints `marker` when done, and wait for its output line.
    #[track_caller]
    pub(crate) fn run(&self, cmd: &str, marker: &str) -> String {
        self.send(&format!("{cmd}; echo {marker}"));
        let line_marker = format!("\n{marker}");
        self.wait(marker, |s| s.contains(&line_marker));
        self.screen()
    }
}

impl Drop for Tmux<'_> {
    fn drop(&mut self) {
        let _ = self
            .sb
            .command("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}
