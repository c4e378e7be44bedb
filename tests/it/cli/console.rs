//! `jit console` in one browser context per environment: a Firefox container or a Chromium
//! profile each, several environments at once, and never the sign-in URL in a browser's argv.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::support::{Sandbox, StandIn, assert_no_secrets, random_hex, register_secret};

/// Stub browsers that record each call's argv and fetch what they were given, as a browser
/// would: `firefox` the page behind the container URL (twice: the page is served once),
/// `chromium` the file its last argument names.
fn stub_browsers(sb: &Sandbox) -> (PathBuf, PathBuf) {
    let bin = sb.dir.path().join("stubs");
    let log = sb.dir.path().join("launched");
    for d in [&bin, &log] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    let scripts = [
        (
            "firefox",
            "u=$(printf '%s' \"$1\" | /bin/sed -n 's/.*&url=\\([^&]*\\).*/\\1/p' | /bin/sed 's/%3A/:/g; s/%2F/\\//g')\n\
             /usr/bin/curl -s \"$u\" > \"$f.page\"\n\
             /usr/bin/curl -s -o /dev/null -w '%{http_code}' \"$u\" > \"$f.again\"\n",
        ),
        (
            "chromium",
            "for a in \"$@\"; do last=$a; done\n/bin/cat \"${last#file://}\" > \"$f.page\"\n",
        ),
    ];
    for (name, body) in scripts {
        let script = format!(
            "#!/bin/sh\nf='{log}/{name}-'$$\nprintf '%s\\n' \"$@\" > \"$f.argv\"\n/usr/bin/env > \"$f.env\"\n{body}exit 0\n",
            log = log.display()
        );
        let path = bin.join(name);
        std::fs::write(&path, script).expect("write stub");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    (bin, log)
}

/// Each recorded launch of `name`: (argv, what it fetched).
fn launches(log: &Path, name: &str) -> Vec<(String, String, Option<String>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(log).expect("log").flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if let Some(stem) = file
            .strip_prefix(&format!("{name}-"))
            .and_then(|f| f.strip_suffix(".argv"))
        {
            let read =
                |ext: &str| std::fs::read_to_string(log.join(format!("{name}-{stem}.{ext}")));
            out.push((
                read("argv").expect("argv"),
                read("page").unwrap_or_default(),
                read("again").ok(),
            ));
        }
    }
    out
}

fn config(sb: &Sandbox, portal: &StandIn, extra: &str) {
    let user = sb.token_file(&portal.user_token);
    let admin = sb.token_file(&portal.admin_token);
    sb.write_config(&format!(
        "[env.dev]\nhost = \"{url}\"\ntenant = \"dev01\"\ntoken_file = \"{user}\"\ncontainer_color = \"red\"\ncontainer_icon = \"fence\"\n\n\
         [env.admin]\nhost = \"{url}\"\nadmin = true\ntoken_file = \"{admin}\"\nconsole = \"profile\"\n{extra}",
        url = portal.url
    ));
}

#[test]
fn container_and_profile_launches_carry_no_sign_in_url() {
    let portal = StandIn::start();
    let decoy = format!("decoy-{}", random_hex(16));
    register_secret(&decoy);
    let sb = Sandbox::new();
    config(&sb, &portal, "");
    let (bin, log) = stub_browsers(&sb);
    let sb = sb
        .env("PATH", &bin.display().to_string())
        .env("JIT_TOKEN", &decoy);

    let run = sb.run(&["console", "dev", "--container"]).ok();
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(run.stderr.contains("Firefox container"), "{}", run.stderr);
    let ff = launches(&log, "firefox");
    assert_eq!(ff.len(), 1);
    let (argv, page, again) = &ff[0];
    assert_no_secrets(argv, "firefox's argv");
    assert!(
        !argv.contains("SigninToken") && !argv.contains("federation"),
        "{argv}"
    );
    assert_eq!(argv.lines().count(), 1, "{argv}");
    assert!(
        argv.starts_with(
            "ext+container:name=dev&color=red&icon=fence&url=http%3A%2F%2F127.0.0.1%3A"
        ),
        "{argv}"
    );
    assert!(
        page.contains(&format!("{}/federation?Action=login&", portal.url))
            && page.contains("location.replace("),
        "{page}"
    );
    assert_ne!(again.as_deref(), Some("200"), "the page is served once");

    // `console = "profile"` in the environment: a Chromium profile of its own, given a file.
    let run = sb.run(&["console", "admin"]).ok();
    assert!(run.stderr.contains("own browser profile"), "{}", run.stderr);
    let ch = launches(&log, "chromium");
    assert_eq!(ch.len(), 1);
    let (argv, page, _) = &ch[0];
    assert_no_secrets(argv, "chromium's argv");
    assert!(
        !argv.contains("SigninToken") && !argv.contains("federation"),
        "{argv}"
    );
    let args: Vec<&str> = argv.lines().collect();
    let profile = sb
        .home()
        .join(".local/share/jit/browser-profiles/admin")
        .display()
        .to_string();
    assert_eq!(args[0], format!("--user-data-dir={profile}"));
    assert!(args[args.len() - 1].starts_with("file:///"), "{argv}");
    let mode = std::fs::metadata(&profile)
        .expect("profile dir")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
    assert!(
        page.contains(&format!("{}/federation?Action=login&", portal.url)),
        "{page}"
    );
    for (name, _) in [("firefox", 0), ("chromium", 1)] {
        for entry in std::fs::read_dir(&log).expect("log").flatten() {
            let f = entry.file_name().to_string_lossy().into_owned();
            if f.starts_with(name) && f.ends_with(".env") {
                let env = std::fs::read_to_string(entry.path()).expect("env");
                assert_no_secrets(&env, "the browser's environment");
            }
        }
    }
}

#[test]
fn several_environments_open_side_by_side_and_one_failure_stops_none() {
    let portal = StandIn::start();
    let sb = Sandbox::new();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let tf = sb.token_file(&portal.user_token);
    config(
        &sb,
        &portal,
        &format!(
            "\n[env.gone]\nhost = \"http://127.0.0.1:{closed}\"\ntenant = \"dev01\"\ntoken_file = \"{tf}\"\n"
        ),
    );
    let (bin, log) = stub_browsers(&sb);
    let sb = sb.env("PATH", &bin.display().to_string());
    let run = sb
        .jit(&["console", "dev", "gone", "admin", "--browser-profile"])
        .output()
        .expect("jit");
    let run = crate::support::finish(run);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stderr.contains("gone:"), "{}", run.stderr);
    let dirs: Vec<String> = launches(&log, "chromium")
        .iter()
        .map(|(argv, page, _)| {
            assert!(page.contains("Action=login"), "{page}");
            argv.lines().next().expect("first arg").to_string()
        })
        .collect();
    assert_eq!(dirs.len(), 2, "{dirs:?}");
    for env in ["dev", "admin"] {
        assert!(
            dirs.iter()
                .any(|d| d.ends_with(&format!("/browser-profiles/{env}"))),
            "{dirs:?}"
        );
    }
    // A browser holds one console session: several at once need a context each.
    sb.run(&["console", "dev", "admin"])
        .fails(1, "one console sign-in at a time");
}

/// The cookies a Chromium profile keeps on disk, as `host name` lines (their values are
/// encrypted there; the names say whose sign-in set them).
fn profile_cookies(sb: &Sandbox, profile: &Path) -> Vec<String> {
    let db = profile.join("Default").join("Cookies");
    assert!(db.exists(), "no cookie store in {}", profile.display());
    let run = crate::support::finish(
        sb.command("python3")
            .arg("-c")
            .arg(
                "import sqlite3, sys\n\
                 db = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True)\n\
                 for host, name in db.execute('select host_key, name from cookies order by name'):\n    print(host, name)\n",
            )
            .arg(&db)
            .output()
            .expect("python3"),
    )
    .ok();
    run.stdout.lines().map(str::to_string).collect()
}

/// Two accounts side by side in a real (headless) Chromium: `jit console a b --browser-profile`
/// launches the configured browser once per environment with a profile of its own, each
/// follows its sign-in URL to its own stand-in sign-in endpoint, which sets a cookie; each
/// profile then holds its own sign-in's cookie and not the other's.
#[test]
fn two_profiles_in_real_chromium_keep_two_sign_ins_apart() {
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "chromium missing: run scripts/test-deps.sh"
    );
    let (a, b) = (StandIn::start(), StandIn::start());
    let sb = Sandbox::new();
    let done = sb.dir.path().join("done");
    std::fs::create_dir_all(&done).expect("mkdir");
    // A browser that keeps the argv jit gives it (the profile dir, the page) and runs Chromium
    // headless on it until the page has loaded, then says so.
    let wrapper = sb.dir.path().join("headless-chromium");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\n/usr/bin/chromium --headless=new --no-sandbox --disable-gpu --password-store=basic --dump-dom \"$@\" > '{done}/dom-'$$ 2>/dev/null\necho $? > '{done}/'$$.tmp && mv '{done}/'$$.tmp '{done}/exit-'$$\n",
            done = done.display()
        ),
    )
    .expect("write wrapper");
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let mut toml = String::new();
    for (name, portal) in [("acct-a", &a), ("acct-b", &b)] {
        toml.push_str(&format!(
            "[env.{name}]\nhost = \"{url}\"\ntenant = \"dev01\"\ntoken_file = \"{tf}\"\nbrowser = \"{w}\"\n\n",
            url = portal.url,
            tf = sb.token_file(&portal.user_token),
            w = wrapper.display()
        ));
    }
    sb.write_config(&toml);
    let data = sb.dir.path().join("data");
    let sb = sb.env("JIT_DATA_DIR", &data.display().to_string());

    let run = sb
        .run(&["console", "acct-a", "acct-b", "--browser-profile"])
        .ok();
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    let exits = crate::support::poll(std::time::Duration::from_secs(60), || {
        let exits: Vec<String> = std::fs::read_dir(&done)
            .expect("done dir")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("exit-"))
            .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
            .collect();
        if exits.len() == 2 {
            Ok(exits)
        } else {
            Err(format!("{} of 2 headless Chromiums done", exits.len()))
        }
    });
    assert!(exits.iter().all(|e| e.trim() == "0"), "{exits:?}");
    for portal in [&a, &b] {
        assert_eq!(
            portal
                .requests()
                .iter()
                .filter(|r| r.path == "federation")
                .count(),
            1,
            "each stand-in signs in one browser"
        );
    }
    let profiles = data.join("browser-profiles");
    let (in_a, in_b) = (
        profile_cookies(&sb, &profiles.join("acct-a")),
        profile_cookies(&sb, &profiles.join("acct-b")),
    );
    assert_eq!(in_a, [format!("127.0.0.1 {}", a.signin_cookie)], "{in_b:?}");
    assert_eq!(in_b, [format!("127.0.0.1 {}", b.signin_cookie)], "{in_a:?}");
}

/// The container's one-time page on 127.0.0.1 is for the user who ran jit: another local user
/// who finds the port is refused (403) and does not use up the page, which the real fetch then
/// gets. Needs root, to fetch as another uid.
#[test]
fn another_user_cannot_fetch_the_container_page() {
    if !rustix::process::geteuid().is_root() {
        eprintln!(
            "skipped another_user_cannot_fetch_the_container_page: needs root to fetch as another uid"
        );
        return;
    }
    let portal = StandIn::start();
    let sb = Sandbox::new();
    config(&sb, &portal, "");
    let bin = sb.dir.path().join("stubs");
    let log = sb.dir.path().join("launched");
    for d in [&bin, &log] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    // Firefox fetches the page after `nobody` has tried it.
    let script = format!(
        "#!/bin/sh\nf='{log}/firefox'\n\
         u=$(printf '%s' \"$1\" | /bin/sed -n 's/.*&url=\\([^&]*\\).*/\\1/p' | /bin/sed 's/%3A/:/g; s/%2F/\\//g')\n\
         /usr/bin/setpriv --reuid 65534 --regid 65534 --clear-groups /usr/bin/curl -s -o \"$f.other-page\" -w '%{{http_code}}' \"$u\" > \"$f.other\"\n\
         /usr/bin/curl -s -w '\\n%{{http_code}}' \"$u\" > \"$f.page\"\n\
         /usr/bin/curl -s -o /dev/null -w '%{{http_code}}' \"$u\" > \"$f.again\"\nexit 0\n",
        log = log.display()
    );
    let stub = bin.join("firefox");
    std::fs::write(&stub, script).expect("write stub");
    std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let sb = sb.env("PATH", &bin.display().to_string());

    let run = sb.run(&["console", "dev", "--container"]).ok();
    assert!(run.stderr.contains("Firefox container"), "{}", run.stderr);
    let read = |ext: &str| std::fs::read_to_string(log.join(format!("firefox.{ext}"))).expect(ext);
    assert_eq!(read("other"), "403", "another uid fetched the page");
    let other = std::fs::read_to_string(log.join("firefox.other-page")).unwrap_or_default();
    assert!(!other.contains("federation"), "{other}");
    let page = read("page");
    assert!(page.ends_with("\n200"), "{page}");
    assert!(
        page.contains(&format!("{}/federation?Action=login&", portal.url)),
        "{page}"
    );
    assert_ne!(read("again"), "200", "the page is served once");
}
