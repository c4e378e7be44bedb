//! Names the commit jit was built from, for `jit version`, `jit --version` and
//! `jit-portal --version` (the portal's manifest points here too): `JIT_COMMIT` when
//! set (a build from a source archive, or a release build that says so), else `git rev-parse` in
//! the checkout, else "unknown". Cargo reruns this when HEAD or the branch it names moves.

use std::path::PathBuf;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (out.status.success() && !text.is_empty()).then(|| text.to_string())
}

fn main() {
    println!("cargo:rerun-if-env-changed=JIT_COMMIT");
    let from_env = std::env::var("JIT_COMMIT")
        .ok()
        .filter(|c| !c.is_empty() && c.len() <= 40 && c.bytes().all(|b| b.is_ascii_hexdigit()));
    let commit = from_env.or_else(|| {
        // Watch what moves on a commit or a checkout; a path that does not exist would make cargo
        // rerun this on every build, so only existing ones.
        let mut watch = vec![git(&["rev-parse", "--git-path", "HEAD"])];
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watch.push(git(&["rev-parse", "--git-path", &branch]));
        }
        watch.push(git(&["rev-parse", "--git-path", "packed-refs"]));
        for path in watch.into_iter().flatten().map(PathBuf::from) {
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
        git(&["rev-parse", "--short=12", "HEAD"])
    });
    let commit = commit.unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=JIT_BUILD_COMMIT={commit}");
}
