//! Shipping without Rust: `scripts/release.sh` packages the linux amd64 archive and its
//! SHA256SUMS, the `get.sh` it publishes installs that release from a loopback server into a
//! scratch prefix and refuses a tampered or truncated archive leaving nothing behind, and the
//! Homebrew formula, the Scoop manifest and the release workflow pass their own checkers.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use sha2::{Digest, Sha256};

use crate::support::{JIT, Run, Sandbox, finish, venv_bin};

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn sha256_hex(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("read");
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[track_caller]
fn release_sh(sb: &Sandbox, args: &[&str]) -> Run {
    finish(
        sb.command("bash")
            .arg(repo().join("scripts/release.sh"))
            .args(args)
            .output()
            .expect("release.sh"),
    )
}

/// The files under `dir`, relative and sorted; none at all when `dir` does not exist.
fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let rel = path.strip_prefix(dir).expect("under dir");
                found.push(rel.display().to_string());
            }
        }
    }
    found.sort();
    found
}

/// `python3 -m http.server` on 127.0.0.1, serving `dir`, stopped on drop.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(dir: &Path) -> Server {
        let mut child = Command::new("python3")
            .args(["-u", "-m", "http.server", "0", "--bind", "127.0.0.1"])
            .arg("--directory")
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m http.server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read");
        // "Serving HTTP on 127.0.0.1 port 40123 (http://127.0.0.1:40123/) ..."
        let port = line
            .split_whitespace()
            .skip_while(|w| *w != "port")
            .nth(1)
            .unwrap_or_else(|| panic!("no port in {line:?}"))
            .to_string();
        Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `get.sh` as published with the release in `dist`, from `base_url`, for a person whose HOME is
/// the sandbox's, into `<HOME>/.local`, with its own scratch TMPDIR.
#[track_caller]
fn get_sh(sb: &Sandbox, dist: &Path, base_url: &str, tmp: &Path) -> Run {
    std::fs::create_dir_all(tmp).expect("tmp");
    finish(
        sb.command("sh")
            .env("SHELL", "/bin/bash")
            .env("TMPDIR", tmp)
            .arg(dist.join("get.sh"))
            .args(["--base-url", base_url, "--shell", "bash", "--add-hook"])
            .arg("--prefix")
            .arg(sb.home().join(".local"))
            .output()
            .expect("get.sh"),
    )
}

fn head_commit() -> String {
    let out = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(repo())
        .output()
        .expect("git");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn the_linux_archive_installs_from_a_release_server_and_a_tampered_one_is_refused() {
    let sb = Sandbox::new();
    let work = sb.dir.path().join("work");
    // The test binaries, stripped (as the release profile strips), stand in for a release build.
    let prebuilt = work.join("prebuilt");
    std::fs::create_dir_all(&prebuilt).expect("mkdir");
    for bin in ["jit", "jit-portal"] {
        let from = Path::new(JIT).with_file_name(bin);
        assert!(
            from.exists(),
            "{} is missing: cargo build --workspace",
            from.display()
        );
        std::fs::copy(&from, prebuilt.join(bin)).expect("copy");
        finish(
            Command::new("strip")
                .arg(prebuilt.join(bin))
                .output()
                .expect("strip"),
        )
        .ok();
    }
    let dist = work.join("www/good");
    let dist_s = dist.display().to_string();
    let pre_s = prebuilt.display().to_string();
    let args = ["--os", "linux", "--arch", "amd64", "--prebuilt", &pre_s];
    release_sh(&sb, &[&["package", "--out", &dist_s][..], &args].concat()).ok();
    release_sh(&sb, &["sums", "--repo", "example/jit", "--out", &dist_s]).ok();

    // The archive holds what the README says, with the programs executable.
    let archive = format!("jit_{VERSION}_linux_amd64.zip");
    let zip = dist.join(&archive);
    let listing = finish(
        Command::new("unzip")
            .arg("-Z")
            .arg(&zip)
            .output()
            .expect("unzip"),
    )
    .ok()
    .stdout;
    let mut names: Vec<&str> = listing
        .lines()
        .filter(|l| l.starts_with('-'))
        .filter_map(|l| l.split_whitespace().last())
        .collect();
    names.sort_unstable();
    let mut want = vec![
        "LICENSE",
        "README.md",
        "install.sh",
        "jit",
        "jit-portal",
        "completions/jit.bash",
        "completions/jit.fish",
        "completions/jit.ps1",
        "completions/jit.zsh",
        "shell/jit.bash",
        "shell/jit.fish",
        "shell/jit.ps1",
        "shell/jit.zsh",
    ];
    want.sort_unstable();
    assert_eq!(names, want, "{listing}");
    for exe in ["jit", "jit-portal", "install.sh"] {
        let line = listing
            .lines()
            .find(|l| l.ends_with(&format!(" {exe}")))
            .expect("listed");
        assert!(line.starts_with("-rwxr-xr-x"), "{line}");
    }

    // The checksum file: one line, the archive's sha256, in the form `sha256sum -c` reads.
    let sums_name = format!("jit_{VERSION}_SHA256SUMS");
    let sums = std::fs::read_to_string(dist.join(&sums_name)).expect("SHA256SUMS");
    assert_eq!(sums, format!("{}  {archive}\n", sha256_hex(&zip)));
    finish(
        Command::new("sha256sum")
            .args(["--check", "--strict", &sums_name])
            .current_dir(&dist)
            .output()
            .expect("sha256sum"),
    )
    .ok();

    // Two bad copies of the release beside it: one byte changed, and cut in half.
    let bytes = std::fs::read(&zip).expect("read zip");
    let mut tampered = bytes.clone();
    tampered[bytes.len() / 2] ^= 0x01;
    for (name, content) in [
        ("tampered", tampered),
        ("truncated", bytes[..bytes.len() / 2].to_vec()),
    ] {
        let dir = work.join("www").join(name);
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::copy(dist.join(&sums_name), dir.join(&sums_name)).expect("copy");
        std::fs::write(dir.join(&archive), content).expect("write");
    }
    let server = Server::start(&work.join("www"));

    for bad in ["tampered", "truncated"] {
        let person = Sandbox::new();
        let tmp = person.dir.path().join("tmp");
        let run = get_sh(&person, &dist, &format!("{}/{bad}", server.url), &tmp);
        assert_ne!(run.code, Some(0), "{bad}: {}", run.stdout);
        let stderr = run.stderr.trim_end();
        assert!(!stderr.contains('\n'), "{bad}: not one line: {stderr}");
        assert!(
            stderr.starts_with("get.sh: ")
                && stderr.contains(&format!("{archive} does not match {sums_name}"))
                && stderr.contains("refusing to install"),
            "{bad}: {stderr}"
        );
        assert_eq!(
            files_under(&person.home()),
            Vec::<String>::new(),
            "{bad}: written"
        );
        assert_eq!(files_under(&tmp), Vec::<String>::new(), "{bad}: left");
    }

    // The good release, into a scratch prefix.
    let person = Sandbox::new();
    let tmp = person.dir.path().join("tmp");
    let run = get_sh(&person, &dist, &format!("{}/good", server.url), &tmp).ok();
    assert!(
        run.stdout.contains(&format!("verified {archive}")),
        "{}",
        run.stdout
    );
    assert_eq!(files_under(&tmp), Vec::<String>::new(), "left behind");
    let bin = person.home().join(".local/bin");
    let version = finish(
        person
            .command(bin.join("jit"))
            .arg("--version")
            .output()
            .expect("jit"),
    )
    .ok()
    .stdout;
    assert_eq!(version.trim(), format!("jit {VERSION} ({})", head_commit()));
    let portal_version = finish(
        person
            .command(bin.join("jit-portal"))
            .arg("--version")
            .output()
            .expect("jit-portal"),
    )
    .ok()
    .stdout;
    assert_eq!(
        portal_version.trim(),
        format!("jit-portal {VERSION} ({})", head_commit())
    );
    // What install.sh writes: bash completions where bash-completion looks, the hook line.
    let completions = std::fs::read_to_string(
        person
            .home()
            .join(".local/share/bash-completion/completions/jit"),
    )
    .expect("completions installed");
    let expected = person.run(&["completions", "bash"]).ok().stdout;
    assert_eq!(completions, expected);
    let bashrc = std::fs::read_to_string(person.home().join(".bashrc")).expect(".bashrc");
    for line in [
        "export PATH=\"$HOME/.local/bin:$PATH\"",
        "eval \"$(jit init bash)\"",
    ] {
        assert!(bashrc.lines().any(|l| l == line), "{bashrc}");
    }
}

#[test]
fn the_formula_and_the_manifest_carry_each_archive_and_its_checksum() {
    let sb = Sandbox::new();
    let dist = sb.dir.path().join("dist");
    std::fs::create_dir_all(&dist).expect("mkdir");
    // Only the checksums matter here: five small stand-ins for the five archives.
    let platforms = [
        "darwin_amd64",
        "darwin_arm64",
        "linux_amd64",
        "linux_arm64",
        "windows_amd64",
    ];
    for p in platforms {
        std::fs::write(
            dist.join(format!("jit_{VERSION}_{p}.zip")),
            format!("archive {p}"),
        )
        .expect("write");
    }
    let dist_s = dist.display().to_string();
    let run = release_sh(
        &sb,
        &[
            "sums",
            "--repo",
            "example/jit",
            "--out",
            &dist_s,
            "--tag",
            "v0.0.0-not",
        ],
    );
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    assert!(
        run.stderr.contains(&format!(
            "tag v0.0.0-not does not match Cargo.toml's version {VERSION}"
        )),
        "{}",
        run.stderr
    );
    let tag = format!("v{VERSION}");
    release_sh(
        &sb,
        &[
            "sums",
            "--repo",
            "example/jit",
            "--out",
            &dist_s,
            "--tag",
            &tag,
        ],
    )
    .ok();

    let base = format!("https://github.com/example/jit/releases/download/v{VERSION}");
    let formula = std::fs::read_to_string(dist.join("jit.rb")).expect("jit.rb");
    for p in &platforms[..4] {
        let archive = format!("jit_{VERSION}_{p}.zip");
        let stanza = format!(
            "url \"{base}/{archive}\"\n      sha256 \"{}\"",
            sha256_hex(&dist.join(&archive))
        );
        assert!(formula.contains(&stanza), "{p}:\n{formula}");
    }
    assert!(formula.contains(&format!("version \"{VERSION}\"")));
    assert!(!formula.contains('@'), "left a placeholder:\n{formula}");
    finish(
        Command::new("ruby")
            .arg("-c")
            .arg(dist.join("jit.rb"))
            .output()
            .expect("ruby (run scripts/test-deps.sh)"),
    )
    .ok();

    let text = std::fs::read_to_string(dist.join("jit.json")).expect("jit.json");
    let manifest: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let win = format!("jit_{VERSION}_windows_amd64.zip");
    assert_eq!(manifest["version"], VERSION);
    assert_eq!(
        manifest["architecture"]["64bit"]["url"],
        format!("{base}/{win}")
    );
    assert_eq!(
        manifest["architecture"]["64bit"]["hash"],
        sha256_hex(&dist.join(&win))
    );
    assert_eq!(manifest["bin"], "jit.exe");

    // The get.sh published with the release points at it.
    let get = std::fs::read_to_string(dist.join("get.sh")).expect("get.sh");
    assert!(get.contains("\ndefault_repo=\"example/jit\"\n"), "{get}");
    assert!(get.contains(&format!("\ndefault_version=\"{VERSION}\"\n")));
}

#[test]
fn the_release_workflow_passes_actionlint_and_its_shellcheck() {
    let sb = Sandbox::new();
    let lint = |file: &Path| {
        finish(
            sb.command(venv_bin("actionlint"))
                .arg("-no-color")
                .arg(file)
                .current_dir(repo())
                .output()
                .expect("actionlint"),
        )
    };
    let workflow = repo().join(".github/workflows/release.yml");
    let run = lint(&workflow);
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    // The check can fail: an unquoted variable in a step's script is a shellcheck finding.
    let text = std::fs::read_to_string(&workflow).expect("read");
    let broken = text.replacen("\"${GITHUB_REF_NAME}\"", "${GITHUB_REF_NAME}", 1);
    assert_ne!(broken, text);
    let copy = sb.dir.path().join("release.yml");
    std::fs::write(&copy, broken).expect("write");
    let run = lint(&copy);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    assert!(run.stdout.contains("shellcheck"), "{}", run.stdout);
}
