//! Load: 200 concurrent callers, `jit aws` and `jit exec` mixed, across 5 environments on a cold
//! cache; with the portal fast, slow, and failing.

use std::process::Child;
use std::time::{Duration, Instant};

use crate::support::{Sandbox, StandIn, finish, random_hex, stand_in::Tenant};

const ENVS: [&str; 5] = ["t1", "t2", "t3", "t4", "t5"];

#[track_caller]
fn setup() -> (StandIn, Sandbox) {
    let stand_in = StandIn::start();
    let sb = Sandbox::new().env("JIT_VERBOSE", "0");
    let token = sb.token_file(&stand_in.admin_token);
    let mut config = String::new();
    for (i, env) in ENVS.iter().enumerate() {
        stand_in.state().tenants.push(Tenant {
            id: random_hex(32),
            name: format!("load{i}"),
            plan: "default".into(),
            role_arn: format!("arn:aws:iam::44444444444{i}:role/load"),
            validity: 3600,
        });
        config.push_str(&format!(
            "[env.{env}]\nhost = \"{}\"\ntenant = \"load{i}\"\ntoken_file = \"{token}\"\n",
            stand_in.url
        ));
    }
    sb.write_config(&config);
    (stand_in, sb)
}

#[track_caller]
fn spawn_all(sb: &Sandbox) -> Vec<(usize, Child)> {
    let print_key = "printf '{\"AWS_ACCESS_KEY_ID\":\"%s\"}' \"$AWS_ACCESS_KEY_ID\"";
    // A loop, not `map`: a failed spawn inside a closure would not name the test's line.
    let mut children = Vec::new();
    for i in 0..200 {
        let env = ENVS[i % ENVS.len()];
        let jit = if i % 2 == 0 {
            sb.jit_cmd(["env", env])
        } else {
            sb.jit_cmd(["exec", env, "--", "sh", "-c", print_key])
        };
        children.push((i, jit.spawn()));
    }
    children
}

fn run_load(delay: Duration) {
    let (stand_in, sb) = setup();
    stand_in.state().delay = delay;
    let start = Instant::now();
    let mut keys: Vec<Vec<String>> = vec![Vec::new(); ENVS.len()];
    for (i, child) in spawn_all(&sb) {
        let run = finish(child.wait_with_output().expect("wait")).ok();
        keys[i % ENVS.len()].push(
            run.json()["AWS_ACCESS_KEY_ID"]
                .as_str()
                .expect("key")
                .to_string(),
        );
    }
    let elapsed = start.elapsed();
    assert_eq!(
        stand_in.cred_calls(),
        ENVS.len(),
        "one portal fetch per environment"
    );
    for per_env in &keys {
        assert_eq!(
            crate::support::unique(per_env.iter()),
            1,
            "all callers of an env got one key"
        );
    }
    assert_eq!(
        crate::support::unique(keys.iter().map(|k| &k[0])),
        ENVS.len()
    );
    // Environments fetch in parallel: a slow portal costs about one delay, not five.
    assert!(elapsed < delay * 3 + Duration::from_secs(20), "{elapsed:?}");
    let locks = std::fs::read_dir(sb.cache_dir()).expect("ls").count();
    assert!(locks > 0);
    // No lock is left held: a fresh caller with --refresh gets through at once.
    stand_in.state().delay = Duration::ZERO;
    sb.run(&["env", "t1", "--refresh"]).ok();
}

#[test]
fn two_hundred_callers_five_envs_one_fetch_each() {
    run_load(Duration::ZERO);
}

#[test]
fn two_hundred_callers_with_a_slow_portal() {
    run_load(Duration::from_secs(5));
}

#[test]
fn two_hundred_callers_with_a_failing_portal_all_get_a_clear_error() {
    let (stand_in, sb) = setup();
    stand_in.state().fail = Some((500, "{\"Message\":\"backend down\"}".into()));
    let start = Instant::now();
    for (_, child) in spawn_all(&sb) {
        finish(child.wait_with_output().expect("wait")).fails(1, "status 500");
    }
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "{:?}",
        start.elapsed()
    );
}

/// A slow portal that then fails: the callers queued behind the failing fetch share its error
/// instead of each waiting 5 s in turn (which would take 40 x 5 s per environment).
#[test]
fn two_hundred_callers_with_a_slow_failing_portal_share_one_failure_per_env() {
    let (stand_in, sb) = setup();
    stand_in.state().fail = Some((503, "{\"Message\":\"overloaded\"}".into()));
    stand_in.state().delay = Duration::from_secs(5);
    let start = Instant::now();
    let mut shared = 0;
    for (_, child) in spawn_all(&sb) {
        let run = finish(child.wait_with_output().expect("wait")).fails(1, "status 503");
        shared += usize::from(run.stderr.contains("(from a concurrent request)"));
    }
    let elapsed = start.elapsed();
    assert!(
        elapsed < Duration::from_secs(40),
        "no caller waits out every other caller's timeout: {elapsed:?}"
    );
    let requests = stand_in.requests().len();
    assert!(
        requests <= 2 * ENVS.len(),
        "about one failing request per environment, got {requests}"
    );
    assert!(shared >= 200 - requests, "{shared} shared failures");
    // The portal recovers: the next caller fetches again instead of replaying the old error.
    stand_in.state().fail = None;
    stand_in.state().delay = Duration::ZERO;
    sb.run(&["env", "t1"]).ok();
}
