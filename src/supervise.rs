//! Running a child while jit stays its parent (`jit exec --server` must outlive nothing it
//! serves): signals behave as they do for a command run by a shell.
//!
//! The child shares jit's process group, so a key typed at the terminal (Ctrl-C, Ctrl-\) reaches
//! it directly; jit itself ignores SIGINT and SIGQUIT while it waits and forwards SIGTERM and
//! SIGHUP, which are aimed at jit alone. Handlers (not SIG_IGN) are installed, so the child
//! starts with default dispositions; a signal already ignored when jit started (`nohup`, a
//! background job) is left ignored, and the child inherits that.

use std::process::{Command, ExitStatus};

/// Spawn `cmd` and wait for it; its exit code, or 128 + the signal that ended it.
/// Only a failure to start the child is an `Err`.
pub fn run(cmd: &mut Command) -> std::io::Result<u8> {
    let guard = imp::Guard::install();
    let mut child = cmd.spawn()?;
    let forwarding = guard.forward_to(&child);
    let status = child.wait();
    drop(forwarding);
    Ok(status.map(code).unwrap_or(1))
}

fn code(status: ExitStatus) -> u8 {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return u8::try_from(128 + signal).unwrap_or(255);
        }
    }
    status
        .code()
        .map_or(1, |c| u8::try_from(c.clamp(0, 255)).unwrap_or(1))
}

#[cfg(unix)]
mod imp {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
    use signal_hook::iterator::{Handle, Signals};

    pub struct Guard {
        signals: Option<Signals>,
    }

    pub struct Forwarding {
        handle: Option<Handle>,
    }

    impl Drop for Forwarding {
        fn drop(&mut self) {
            if let Some(handle) = &self.handle {
                handle.close();
            }
        }
    }

    impl Guard {
        /// Before the spawn, so a signal between spawn and wait is neither fatal nor lost.
        pub fn install() -> Guard {
            let ignored = ignored_at_start();
            let swallow = Arc::new(AtomicBool::new(false));
            for sig in [SIGINT, SIGQUIT] {
                if !ignored.contains(&sig) {
                    let _ = signal_hook::flag::register(sig, swallow.clone());
                }
            }
            let forwarded: Vec<i32> = [SIGTERM, SIGHUP]
                .into_iter()
                .filter(|s| !ignored.contains(s))
                .collect();
            Guard {
                signals: Signals::new(forwarded).ok(),
            }
        }

        pub fn forward_to(self, child: &std::process::Child) -> Forwarding {
            let Some(mut signals) = self.signals else {
                return Forwarding { handle: None };
            };
            let pid = rustix::process::Pid::from_child(child);
            let handle = signals.handle();
            let spawned = std::thread::Builder::new()
                .name("jit-signals".into())
                .spawn(move || {
                    for sig in signals.forever() {
                        if let Some(sig) = rustix::process::Signal::from_named_raw(sig) {
                            let _ = rustix::process::kill_process(pid, sig);
                        }
                    }
                });
            Forwarding {
                handle: spawned.is_ok().then_some(handle),
            }
        }
    }

    /// The signals this process started with ignored. Linux says so in /proc; elsewhere none
    /// are assumed (reading it needs `sigaction`, which is unsafe code).
    fn ignored_at_start() -> Vec<i32> {
        let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
            return Vec::new();
        };
        let mask = status
            .lines()
            .find_map(|l| l.strip_prefix("SigIgn:"))
            .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
            .unwrap_or(0);
        (1..64).filter(|s| mask & (1u64 << (s - 1)) != 0).collect()
    }
}

#[cfg(not(unix))]
mod imp {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    /// Ctrl-C reaches every process on the console; jit stays to return the child's code.
    pub struct Guard;
    pub struct Forwarding;

    impl Guard {
        pub fn install() -> Guard {
            let _ = signal_hook::flag::register(
                signal_hook::consts::SIGINT,
                Arc::new(AtomicBool::new(false)),
            );
            Guard
        }

        pub fn forward_to(self, _child: &std::process::Child) -> Forwarding {
            Forwarding
        }
    }
}
