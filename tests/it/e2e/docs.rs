//! The docs cannot rot: every ```sh block of README.md and docs/*.md is run here, in order per
//! page, in a sandbox (unless a marker right above it says why not), config snippets marked for a
//! file are written there, and every relative link must name a file that exists. The markers are
//! HTML comments, invisible on GitHub; ARCHITECTURE.md ("Docs that run") lists them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::portal::portal_server::{Served, spawn_portal};
use crate::portal::portal_web::{Browser, passwd_on, unescape};
use crate::support::{JIT, Sandbox, finish, login_url, moto, register_secret, venv};

/// The host the guides write for "your portal"; a page with a served portal runs against it.
const EXAMPLE_HOST: &str = "https://portal.example.com";

/// The home directory the guides write where a path must be absolute (a `credential_process` is
/// run without a shell, so `~` is not expanded there): the sandbox's HOME.
const EXAMPLE_HOME: &str = "/home/you/";

/// A CA the portal takes for a cluster's (it checks the PEM's shape only).
const TEST_CA: &str =
    "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUJITTESTCA\n-----END CERTIFICATE-----\n";

/// Languages whose blocks are commands the reader runs.
const SHELL: [&str; 4] = ["sh", "bash", "shell", "zsh"];

#[derive(Debug, Clone, PartialEq)]
enum Marker {
    /// `<!-- not run: why -->`: a command this machine cannot run (brew, systemctl on a host...).
    NotRun(String),
    /// `<!-- run with: portal|team|demo|moto ... -->`: what the harness provides first.
    RunWith(Vec<String>),
    /// `<!-- before: COMMANDS -->`: setup the reader does not see, run in the block's shell first.
    Before(String),
    /// `<!-- expect: TEXT -->`: the block's stdout must contain TEXT.
    Expect(String),
    /// `<!-- file: PATH -->`: a config block written (appended) to PATH (`~` is the sandbox HOME).
    File(String),
}

#[derive(Debug)]
struct Block {
    /// 1-based line of the opening fence.
    line: usize,
    lang: String,
    body: String,
    markers: Vec<Marker>,
}

fn parse_marker(line: &str) -> Option<Result<Marker, String>> {
    let inner = line
        .trim()
        .strip_prefix("<!--")?
        .strip_suffix("-->")?
        .trim();
    let (key, value) = inner.split_once(':')?;
    let value = value.trim().to_string();
    Some(match key.trim() {
        "not run" if !value.is_empty() => Ok(Marker::NotRun(value)),
        "not run" => Err("`not run:` must say why".into()),
        "run with" => Ok(Marker::RunWith(
            value.split_whitespace().map(str::to_string).collect(),
        )),
        "before" => Ok(Marker::Before(value)),
        "expect" => Ok(Marker::Expect(value)),
        "file" => Ok(Marker::File(value)),
        other => Err(format!("unknown marker `{other}:`")),
    })
}

/// The fenced blocks of a page, with the markers on the lines right above each.
fn blocks(text: &str) -> Result<Vec<Block>, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let trimmed = lines[i].trim_start();
        let Some(info) = trimmed.strip_prefix("```") else {
            i += 1;
            continue;
        };
        let indent = lines[i].len() - trimmed.len();
        let lang = info.split_whitespace().next().unwrap_or("").to_string();
        let mut markers = Vec::new();
        let mut j = i;
        while j > 0 {
            match parse_marker(lines[j - 1]) {
                Some(Ok(m)) => markers.insert(0, m),
                Some(Err(e)) => return Err(format!("line {j}: {e}")),
                None => break,
            }
            j -= 1;
        }
        let start = i;
        let mut body = String::new();
        i += 1;
        while i < lines.len() && !lines[i].trim_start().starts_with("```") {
            let line = lines[i];
            let cut = line.len() - line.trim_start().len();
            body.push_str(&line[cut.min(indent)..]);
            body.push('\n');
            i += 1;
        }
        if i == lines.len() {
            return Err(format!("line {}: the block never closes", start + 1));
        }
        out.push(Block {
            line: start + 1,
            lang,
            body,
            markers,
        });
        i += 1;
    }
    Ok(out)
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every docs/*.md, as paths relative to the repository.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![PathBuf::from("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(repo().join("docs"))
        .expect("docs/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .filter_map(|p| p.strip_prefix(repo()).ok().map(Path::to_path_buf))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

/// One page's run: its sandbox and the portal the harness serves for it.
struct PageRun {
    sb: Sandbox,
    work: PathBuf,
    bin: PathBuf,
    portal: Option<Served>,
    team: bool,
}

const WRAPPER: &str = r#"#!/bin/sh
# The docs' `jit portal serve ...` is long-running: the harness serves the portal the page talks
# to, and here only the flags are checked (clap parses them all before --help).
if [ "$1" = portal ]; then
  for arg in "$@"; do
    if [ "$arg" = serve ]; then exec "$DOC_JIT" "$@" --help >/dev/null; fi
  done
fi
exec "$DOC_JIT" "$@"
"#;

impl PageRun {
    #[track_caller]
    fn new() -> PageRun {
        let sb = Sandbox::new();
        let work = sb.dir.path().join("work");
        let bin = sb.dir.path().join("bin");
        for dir in [&work, &bin] {
            std::fs::create_dir_all(dir).expect("mkdir");
        }
        // Paths a reader runs from a checkout.
        for name in ["scripts", "contrib", "completions", "shell"] {
            std::os::unix::fs::symlink(repo().join(name), work.join(name)).expect("symlink");
        }
        let wrapper = bin.join("jit");
        std::fs::write(&wrapper, WRAPPER).expect("wrapper");
        let mut perms = std::fs::metadata(&wrapper).expect("wrapper").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&wrapper, perms).expect("chmod");
        PageRun {
            sb,
            work,
            bin,
            portal: None,
            team: false,
        }
    }

    fn portal_args(&self) -> Vec<String> {
        let mut args = vec!["portal".to_string(), "serve".to_string()];
        // A sign-in endpoint that refuses at once: no console URL, and no wait on the network.
        args.extend(
            [
                "--listen",
                "127.0.0.1:0",
                "--sts-endpoint",
                &moto().url,
                "--signin-url",
                "http://127.0.0.1:9/federation",
            ]
            .map(String::from),
        );
        args
    }

    /// Start what a block's `run with:` asks for; an error says what did not start.
    fn provide(&mut self, fixtures: &[String]) -> Result<(), String> {
        for fixture in fixtures {
            match fixture.as_str() {
                "moto" => {}
                "demo" => {
                    if self.portal.is_none() {
                        let args = ["portal", "serve", "--demo", "--listen", "127.0.0.1:0"];
                        self.portal = Some(spawn_portal(&self.sb, &args));
                    }
                }
                "portal" => {
                    if self.portal.is_none() {
                        let args = self.portal_args();
                        let args: Vec<&str> = args.iter().map(String::as_str).collect();
                        self.portal = Some(spawn_portal(&self.sb, &args));
                    }
                }
                "team" => {
                    self.provide(&["portal".to_string()])?;
                    if !self.team {
                        self.provision_team()?;
                        self.team = true;
                    }
                }
                other => return Err(format!("unknown fixture `{other}` in `run with:`")),
            }
        }
        Ok(())
    }

    /// Your team's portal: tenants dev01, stage01 and prod01, alice in all three (logged in: her
    /// token cached for the host, as after `jit login`), dev01 with an EKS cluster, and root an admin whose token is in ~/.portal-token.
    fn provision_team(&self) -> Result<(), String> {
        let admin = |args: &[&str]| -> Result<String, String> {
            let mut full = vec!["portal"];
            full.extend_from_slice(args);
            let run = self.sb.run(&full);
            if run.code == Some(0) {
                Ok(run.stdout.trim().to_string())
            } else {
                Err(format!("jit {}: {}", full.join(" "), run.stderr))
            }
        };
        for (tenant, account) in [
            ("dev01", "111111111111"),
            ("stage01", "222222222222"),
            ("prod01", "333333333333"),
        ] {
            let role = format!("arn:aws:iam::{account}:role/{tenant}");
            admin(&["tenant", "add", tenant, "--role-arn", &role])?;
        }
        admin(&[
            "user", "add", "alice", "--tenant", "dev01", "--tenant", "stage01", "--tenant",
            "prod01",
        ])?;
        admin(&["user", "add", "root", "--admin"])?;
        let ca = self.sb.dir.path().join("ca.pem");
        std::fs::write(&ca, TEST_CA).map_err(|e| e.to_string())?;
        admin(&[
            "tenant",
            "set",
            "dev01",
            "--k8s-cluster",
            "dev-eks",
            "--k8s-server",
            "https://ABCD.gr7.us-west-2.eks.amazonaws.com",
            "--k8s-ca-file",
            &ca.display().to_string(),
        ])?;
        admin(&[
            "set",
            "--admin-role-arn",
            "arn:aws:iam::444444444444:role/admin",
        ])?;
        let root = admin(&["token", "create", "root"])?;
        register_secret(&root);
        std::fs::write(self.sb.home().join(".portal-token"), &root).map_err(|e| e.to_string())?;
        self.log_in_as_alice()
    }

    /// What `jit login --host URL` and alice's browser do: she signs in, authorizes the command
    /// line's login, and the page hands the token to jit's listener, which caches it for the host.
    fn log_in_as_alice(&self) -> Result<(), String> {
        let portal = self.portal.as_ref().ok_or("no portal")?;
        let db = self.sb.home().join(".local/share/jit/portal.db");
        let password = "alice-doc-password-1";
        passwd_on(
            &self.sb,
            &db.display().to_string(),
            "alice",
            &format!("{password}\n"),
        )
        .ok();
        let mut child = self
            .sb
            .jit_cmd(["login", "--host", &portal.url, "--no-browser"])
            .spawn();
        let login = login_url(&mut child);
        let mut browser = Browser::new(portal);
        browser.sign_in("alice", password);
        let path = format!("{}?{}", login.path(), login.query().unwrap_or(""));
        let page = browser.get(&path);
        let port = login
            .query_pairs()
            .find(|(k, _)| k == "localPort")
            .map(|(_, v)| v.into_owned())
            .ok_or("no localPort in the login URL")?;
        let done = browser.post(
            "/app/user/verify-token",
            &[
                ("csrf", &page.hidden("csrf")),
                ("localPort", &port),
                ("isAdmin", "false"),
                ("state", &page.hidden("state")),
                ("action", "authorize"),
            ],
        );
        register_secret(&done.data("body"));
        // The page's link for a browser without JavaScript: a navigation to the listener.
        let marker = "id=\"handoff-link\" href=\"";
        let start = done.body.find(marker).ok_or("no hand-over link")? + marker.len();
        let end = done.body[start..].find('"').ok_or("no hand-over link")?;
        let link = unescape(&done.body[start..start + end]);
        reqwest::blocking::get(&link).map_err(|e| format!("hand-over: {e}"))?;
        let run = finish(child.wait_with_output().map_err(|e| e.to_string())?);
        match run.code {
            Some(0) => Ok(()),
            _ => Err(format!("jit login: {}", run.stderr)),
        }
    }

    fn substitute(&self, text: &str) -> String {
        let home = format!("{}/", self.sb.home().display());
        let text = text.replace(EXAMPLE_HOME, &home);
        match &self.portal {
            Some(portal) => text.replace(EXAMPLE_HOST, &portal.url),
            None => text,
        }
    }

    fn expand_home(&self, path: &str) -> PathBuf {
        match path.strip_prefix("~/") {
            Some(rest) => self.sb.home().join(rest),
            None => self.work.join(path),
        }
    }

    /// Run (or write) one block; `Ok(false)` when it is not a block the harness acts on.
    fn run(&mut self, block: &Block) -> Result<bool, String> {
        let mut fixtures = Vec::new();
        let mut before = String::new();
        let mut expect = Vec::new();
        let mut file = None;
        for marker in &block.markers {
            match marker {
                Marker::NotRun(_) => return Ok(false),
                Marker::RunWith(f) => fixtures.extend(f.iter().cloned()),
                Marker::Before(cmd) => {
                    before.push_str(cmd);
                    before.push('\n');
                }
                Marker::Expect(text) => expect.push(text.clone()),
                Marker::File(path) => file = Some(path.clone()),
            }
        }
        self.provide(&fixtures)?;
        if let Some(path) = file {
            let path = self.expand_home(&path);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
            }
            let mut text = std::fs::read_to_string(&path).unwrap_or_default();
            text.push_str(&self.substitute(&block.body));
            std::fs::write(&path, text).map_err(|e| e.to_string())?;
            return Ok(true);
        }
        if !SHELL.contains(&block.lang.as_str()) {
            return Ok(false);
        }
        let script = self.substitute(&format!("{before}{}", block.body));
        let path = format!(
            "{}:{}",
            self.bin.display(),
            self.sb.path_var() // target/debug, the venv, the system
        );
        let mut cmd = self.sb.command("bash");
        cmd.args(["--norc", "--noprofile", "-euo", "pipefail", "-c", &script])
            .current_dir(&self.work)
            .env("PATH", path)
            .env("DOC_JIT", JIT)
            .env("DOC_VENV", venv())
            .env("DOC_REPO", repo())
            .env_remove("JIT_VERBOSE")
            // A block that starts a browser login it cannot finish fails soon, not in 3 minutes.
            .env("JIT_LOGIN_TIMEOUT", "10")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if fixtures.iter().any(|f| f == "moto" || f == "team") {
            cmd.env("AWS_ENDPOINT_URL", &moto().url);
        }
        if let Some(portal) = &self.portal {
            cmd.env("DOC_PORTAL_URL", &portal.url);
        }
        let run = finish(cmd.output().map_err(|e| format!("bash: {e}"))?);
        if run.code != Some(0) {
            return Err(format!(
                "exit {:?}\n--- stderr ---\n{}--- stdout ---\n{}",
                run.code, run.stderr, run.stdout
            ));
        }
        for text in expect {
            if !run.stdout.contains(&text) {
                return Err(format!(
                    "stdout lacks `{text}`\n--- stdout ---\n{}--- stderr ---\n{}",
                    run.stdout, run.stderr
                ));
            }
        }
        Ok(true)
    }
}

/// Run every block of one page in order; the failures, each naming the page and the line.
fn run_page(name: &str, text: &str) -> Vec<String> {
    let blocks = match blocks(text) {
        Ok(blocks) => blocks,
        Err(e) => return vec![format!("{name}:{e}")],
    };
    let mut page = PageRun::new();
    let mut failures = Vec::new();
    for block in &blocks {
        if let Err(why) = page.run(block) {
            let mut msg = format!("{name}:{}: ```{} block failed: ", block.line, block.lang);
            let _ = write!(msg, "{why}\n--- block ---\n{}", block.body);
            failures.push(msg);
            // Later blocks build on this one: stop the page here.
            break;
        }
    }
    failures
}

#[test]
fn every_shell_block_in_the_docs_runs() {
    // JIT_TEST_DOC_PAGE=client runs only the pages whose path holds it, while writing one.
    let only = std::env::var("JIT_TEST_DOC_PAGE").unwrap_or_default();
    let pages = pages()
        .into_iter()
        .filter(|p| p.display().to_string().contains(&only));
    let threads: Vec<_> = pages
        .into_iter()
        .map(|page| {
            std::thread::spawn(move || {
                let text = std::fs::read_to_string(repo().join(&page)).expect("read page");
                run_page(&page.display().to_string(), &text)
            })
        })
        .collect();
    let failures: Vec<String> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("page thread"))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The harness itself: a documented command that is broken fails the page, naming its line and
/// stderr; a marker that is not one fails; an unmarked block is run, not skipped.
#[test]
fn a_broken_block_fails_with_its_page_line_and_stderr() {
    let page = "# t\n\n```sh\njit version\n```\n\nText.\n\n```sh\njit config add x --hots https://portal.example.com\n```\n";
    let failures = run_page("t.md", page);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].starts_with("t.md:9: ```sh block failed"),
        "{}",
        failures[0]
    );
    assert!(
        failures[0].contains("--hots"),
        "stderr shown: {}",
        failures[0]
    );

    let marked = "<!-- not run: needs Homebrew on macOS -->\n```sh\nbrew install jit\n```\n";
    assert!(run_page("t.md", marked).is_empty());
    let unmarked = "```sh\nbrew install jit\n```\n";
    assert_eq!(run_page("t.md", unmarked).len(), 1);
    let empty_reason = "<!-- not run: -->\n```sh\nbrew install jit\n```\n";
    assert!(run_page("t.md", empty_reason)[0].contains("must say why"));
    let expect = "<!-- expect: nothing like this -->\n```sh\njit version\n```\n";
    assert!(run_page("t.md", expect)[0].contains("stdout lacks"));
}

/// Every relative link in README.md and docs/*.md names a file that exists, and a `#anchor` into
/// a Markdown page names one of its headings (as GitHub spells them).
#[test]
fn every_relative_link_in_the_docs_resolves() {
    let mut broken = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(repo().join(&page)).expect("read page");
        let dir = page.parent().unwrap_or(Path::new("")).to_path_buf();
        for (line, target) in links(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (file, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let path = match file {
                "" => repo().join(&page),
                file => repo().join(&dir).join(file),
            };
            let found = match std::fs::read_to_string(&path) {
                Err(_) => path.exists() && anchor.is_empty(),
                Ok(_) if anchor.is_empty() => true,
                Ok(_) if path.extension().is_none_or(|x| x != "md") => true,
                Ok(target_text) => anchors(&target_text).iter().any(|a| a == anchor),
            };
            if !found {
                broken.push(format!("{}:{line}: {target}", page.display()));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "links to nothing:\n{}",
        broken.join("\n")
    );
}

/// The anchors GitHub gives a page's headings: lowercased, punctuation but `-` and `_` dropped,
/// spaces as `-`, a repeated one suffixed `-1`, `-2`...
fn anchors(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut in_fence = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
        }
        let Some(title) = line.strip_prefix('#').filter(|_| !in_fence) else {
            continue;
        };
        let slug: String = title
            .trim_start_matches('#')
            .trim()
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect();
        let seen = out.iter().filter(|a| **a == slug).count();
        out.push(match seen {
            0 => slug,
            n => format!("{slug}-{n}"),
        });
    }
    out
}

#[test]
fn anchors_are_spelled_as_github_spells_them() {
    let text = "# Using jit\n## 2.1 Device login (`jit portal`)\n```sh\n# not a heading\n```\n## Using jit\n";
    assert_eq!(
        anchors(text),
        ["using-jit", "21-device-login-jit-portal", "using-jit-1"]
    );
}

/// `[text](target)` and `![alt](target)` outside code: (line, target).
fn links(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut in_fence = false;
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        // Inline code holds examples, not links.
        let prose: String = line
            .split('`')
            .enumerate()
            .filter(|(i, _)| i % 2 == 0)
            .map(|(_, s)| s)
            .collect::<Vec<_>>()
            .join(" ");
        let mut rest = prose.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            out.push((n + 1, after[..end].trim().to_string()));
            rest = &after[end..];
        }
    }
    out
}

#[test]
fn links_are_found_outside_code_only() {
    let text = "see [a](docs/a.md) and `[b](nope)`\n```text\n[c](nope)\n```\n![i](x.png#top)\n";
    assert_eq!(
        links(text),
        vec![(1, "docs/a.md".to_string()), (5, "x.png#top".to_string())]
    );
}
