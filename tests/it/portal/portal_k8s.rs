//! `jit portal` as a Kubernetes credential source (docs/protocol.md §9): an admin gives a tenant
//! a cluster, the portal vends EKS tokens made from the tenant role's credentials, and each
//! token is checked the way EKS checks it (tests/k8s/eks_verify.py: the SigV4 query signature
//! over `x-k8s-aws-id`, recomputed with the secret moto issued, and moto asked for the ARN).

use base64::Engine as _;

use crate::portal::portal_server::{
    Served, admin, provision, serve, serve_as, strict_moto_with_portal_user,
};
use crate::support::{Moto, Sandbox, assert_no_secrets, finish, register_secret, venv_bin};

const CLUSTER: &str = "prod-eks";
const SERVER: &str = "https://eks.example.com:443";
const ROLE_ARN: &str = "arn:aws:sts::111111111111:assumed-role/dev01/alice";
const PEM: &str =
    "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUJITTESTCA\n-----END CERTIFICATE-----\n";

fn tenant_id(sb: &Sandbox, name: &str) -> String {
    admin(sb, &["tenant", "list"])
        .lines()
        .find(|l| l.starts_with(&format!("{name}\t")))
        .and_then(|l| l.split('\t').nth(1))
        .expect("tenant in the list")
        .to_string()
}

/// A GET of `path` on the portal with `token`: (status, JSON body).
fn get(portal: &Served, path: &str, token: &str) -> (u16, serde_json::Value) {
    let resp = reqwest::blocking::Client::new()
        .get(format!("{}/{path}", portal.url))
        .bearer_auth(token)
        .send()
        .expect("portal");
    let status = resp.status().as_u16();
    let text = resp.text().expect("body");
    (status, serde_json::from_str(&text).expect("JSON"))
}

/// What tests/k8s/eks_verify.py finds in `token` when it is presented for `cluster`.
#[track_caller]
fn verify(sb: &Sandbox, moto: &Moto, token: &str, cluster: &str) -> serde_json::Value {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/k8s/eks_verify.py");
    let mut py = sb.command(venv_bin("python"));
    py.arg(script).args([&moto.url, token, cluster]);
    serde_json::from_str(&finish(py.output().expect("python")).ok().stdout).expect("JSON")
}

fn set_cluster(sb: &Sandbox) {
    let ca = sb.dir.path().join("ca.pem");
    std::fs::write(&ca, PEM).expect("CA file");
    admin(
        sb,
        &[
            "tenant",
            "set",
            "dev01",
            "--k8s-cluster",
            CLUSTER,
            "--k8s-server",
            SERVER,
            "--k8s-ca-file",
            ca.to_str().expect("path"),
        ],
    );
}

/// The token from `k8s/jitAccess` is an EKS token for the tenant's role: its signature holds
/// for the cluster it names and for nothing else, the key behind it belongs to the tenant role's
/// session for alice, and `jit k8s` hands it to kubectl with the admin-set server and CA.
#[test]
fn portal_vends_eks_tokens_that_verify_for_the_tenant_role() {
    let sb = Sandbox::new();
    let (strict, key, secret) = strict_moto_with_portal_user(&sb);
    let (alice, _) = provision(&sb);
    set_cluster(&sb);
    let id = tenant_id(&sb, "dev01");
    let portal = serve_as(&sb, &strict, &key, &secret);

    let before = jiff::Timestamp::now();
    let (status, config) = get(
        &portal,
        &format!("v3/subscriptions/{id}/k8s/jitAccess"),
        &alice,
    );
    assert_eq!(status, 200, "{config}");
    assert_eq!(config["Name"], CLUSTER);
    assert_eq!(config["ApiServer"], SERVER);
    assert_eq!(config["AwsRegion"], "us-east-1");
    let b64 = base64::engine::general_purpose::STANDARD;
    assert_eq!(config["CertificateAuthorityDataBase64"], b64.encode(PEM));
    let refresh: jiff::Timestamp = config["LastTokenRefreshTime"]
        .as_str()
        .expect("LastTokenRefreshTime")
        .parse()
        .expect("RFC 3339");
    let ahead = refresh.as_second() - before.as_second();
    assert!((13 * 60..15 * 60).contains(&ahead), "refresh in {ahead} s");
    let token = config["Token"].as_str().expect("Token").to_string();
    register_secret(&token);
    assert!(token.starts_with("k8s-aws-v1."), "{token}");

    let seen = verify(&sb, &strict, &token, CLUSTER);
    let params = &seen["params"];
    assert!(
        seen["url"]
            .as_str()
            .expect("url")
            .starts_with(&format!("{}/?", strict.url)),
        "{seen}"
    );
    assert_eq!(params["Action"], "GetCallerIdentity");
    assert_eq!(params["Version"], "2011-06-15");
    assert_eq!(params["X-Amz-Expires"], "60");
    assert_eq!(params["X-Amz-SignedHeaders"], "host;x-k8s-aws-id");
    assert!(params["X-Amz-Security-Token"].is_string(), "{seen}");
    assert_eq!(seen["signature"], "valid", "{seen}");
    assert_eq!(seen["key_arn"], ROLE_ARN, "{seen}");
    // moto cannot stand in for STS here: its strict mode reads credentials from the
    // Authorization header only and answers a presigned request 500 (without strict mode it
    // ignores X-Amz-Credential and names its default user). Hence the signature check above,
    // with the secret moto issued. Should moto learn presigned URLs, this tells us to use it.
    assert_eq!(seen["status"], 500, "{seen}");

    // Another cluster's name in the header: the signature no longer holds.
    let other = verify(&sb, &strict, &token, "other-cluster");
    assert_eq!(other["signature"], "invalid", "{other}");
    // A token whose URL was changed (a longer life asked for): refused too.
    let url = seen["url"].as_str().expect("url");
    let tampered = format!(
        "k8s-aws-v1.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(url.replace("X-Amz-Expires=60", "X-Amz-Expires=900"))
    );
    let tampered = verify(&sb, &strict, &tampered, CLUSTER);
    assert_eq!(tampered["signature"], "invalid", "{tampered}");

    // `jit k8s --tenant dev01` against this portal: an ExecCredential kubectl can use.
    let tf = sb.token_file(&alice);
    let out = sb
        .jit_cmd(["k8s", "--tenant", "dev01"])
        .host(&portal.url)
        .token_file(&tf)
        .no_cache()
        .ok()
        .stdout;
    let cred: serde_json::Value = serde_json::from_str(&out).expect("ExecCredential");
    assert_eq!(cred["kind"], "ExecCredential");
    assert_eq!(cred["spec"]["cluster"]["server"], SERVER);
    assert_eq!(
        cred["spec"]["cluster"]["certificate-authority-data"],
        b64.encode(PEM)
    );
    let exec_token = cred["status"]["token"].as_str().expect("token");
    register_secret(exec_token);
    let exec_seen = verify(&sb, &strict, exec_token, CLUSTER);
    assert_eq!(exec_seen["signature"], "valid", "{exec_seen}");
    assert_eq!(exec_seen["key_arn"], ROLE_ARN, "{exec_seen}");

    // Both vends are in the audit trail as k8s vends, with no token in it.
    let trail = admin(&sb, &["audit", "--json", "--user", "alice"]);
    assert_no_secrets(&trail, "the audit trail");
    let k8s: Vec<serde_json::Value> = trail
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON line"))
        .filter(|e| e["event"] == "k8s vend")
        .collect();
    assert_eq!(k8s.len(), 2, "{trail}");
    for e in &k8s {
        assert_eq!(e["scope"], "tenant dev01", "{e}");
        assert_eq!(e["role_arn"], "arn:aws:iam::111111111111:role/dev01", "{e}");
        assert!(
            e["detail"].as_str().expect("detail").contains(CLUSTER),
            "{e}"
        );
    }
    assert_no_secrets(&portal.log(), "the portal's log");
}

/// Who may have a token, and what a tenant without a cluster answers; the cluster change is
/// checked and audited.
#[test]
fn portal_k8s_refusals_and_admin_changes() {
    let sb = Sandbox::new();
    let (alice, root) = provision(&sb);
    let id = tenant_id(&sb, "dev01");
    let big = tenant_id(&sb, "big");
    admin(&sb, &["user", "add", "bob"]);
    let bob = admin(&sb, &["token", "create", "bob"]).trim().to_string();
    register_secret(&bob);
    let portal = serve(&sb);
    let path = format!("v3/subscriptions/{id}/k8s/jitAccess");

    let (status, body) = get(&portal, &path, &alice);
    assert_eq!(status, 404, "{body}");
    assert!(
        body.as_str()
            .expect("message")
            .contains("no Kubernetes cluster"),
        "{body}"
    );
    let st = crate::portal::portal_server::state(&sb);
    sb.run(&[
        "portal",
        "--state",
        &st,
        "tenant",
        "set",
        "dev01",
        "--k8s-server",
        "ftp://x",
    ])
    .fails(1, "--k8s-server must be an https:// URL");
    sb.run(&[
        "portal",
        "--state",
        &st,
        "tenant",
        "set",
        "dev01",
        "--k8s-ca",
        "bm90IGEgY2VydA==",
    ])
    .fails(1, "PEM certificate");
    sb.run(&[
        "portal",
        "--state",
        &st,
        "tenant",
        "set",
        "dev01",
        "--k8s-cluster",
        CLUSTER,
    ])
    .fails(1, "a cluster name and an API server URL go together");
    set_cluster(&sb);

    assert_eq!(get(&portal, &path, &alice).0, 200);
    assert_eq!(get(&portal, &path, &root).0, 200, "an admin may");
    let (status, body) = get(&portal, &path, &bob);
    assert_eq!(status, 403, "bob is in no tenant: {body}");
    assert_eq!(get(&portal, &path, "not-a-token").0, 401);
    let (status, body) = get(
        &portal,
        &format!("v3/subscriptions/{big}/k8s/jitAccess"),
        &root,
    );
    assert_eq!(status, 404, "big has no cluster: {body}");

    // The plan's config: admins only, the cluster of a tenant in the plan, the admin role.
    let plan = "v3/admin/plans/default/k8sConfig";
    assert_eq!(get(&portal, plan, &alice).0, 403);
    let (status, body) = get(&portal, plan, &root);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["Name"], CLUSTER);
    register_secret(body["Token"].as_str().expect("Token"));
    assert_eq!(get(&portal, "v3/admin/plans/nope/k8sConfig", &root).0, 404);

    // Clearing the cluster takes the endpoint away again; every change is in the trail.
    admin(&sb, &["tenant", "set", "dev01", "--k8s-clear"]);
    assert_eq!(get(&portal, &path, &alice).0, 404);
    let trail = admin(&sb, &["audit", "--json"]);
    let sets: Vec<&str> = trail
        .lines()
        .filter(|l| l.contains("\"event\":\"tenant set\""))
        .collect();
    assert_eq!(sets.len(), 2, "{trail}");
    assert!(
        sets[0].contains(&format!(
            "k8s_cluster - -> {CLUSTER}, k8s_server - -> {SERVER}"
        )),
        "{trail}"
    );
    assert!(sets[1].contains("k8s cleared"), "{trail}");
    let vends = trail
        .lines()
        .filter(|l| l.contains("\"event\":\"k8s vend\""))
        .count();
    assert_eq!(vends, 3, "{trail}");
}

/// On PostgreSQL too: the cluster columns migrate, `tenant set --k8s-*` writes them and the
/// portal reads them back (the admin commands and the server share nothing but the database).
#[test]
fn tenant_cluster_on_postgresql() {
    use crate::portal::portal_ops::{Pg, admin_on, provision_on, serve_on};
    let pg = Pg::start();
    let sb = Sandbox::new();
    let db = pg.database("k8s");
    let alice = provision_on(&sb, &db);
    admin_on(
        &sb,
        &db,
        &[
            "tenant",
            "set",
            "dev01",
            "--k8s-cluster",
            CLUSTER,
            "--k8s-server",
            SERVER,
            "--k8s-ca",
            &base64::engine::general_purpose::STANDARD.encode(PEM),
        ],
    );
    let list = admin_on(&sb, &db, &["tenant", "list"]);
    assert!(list.contains(&format!("\t{CLUSTER} {SERVER}")), "{list}");
    let id = list
        .lines()
        .find(|l| l.starts_with("dev01\t"))
        .and_then(|l| l.split('\t').nth(1))
        .expect("dev01")
        .to_string();
    let portal = serve_on(&sb, &db, &[]);
    let (status, config) = get(
        &portal,
        &format!("v3/subscriptions/{id}/k8s/jitAccess"),
        &alice,
    );
    assert_eq!(status, 200, "{config}");
    register_secret(config["Token"].as_str().expect("Token"));
    assert_eq!(config["Name"], CLUSTER);
    assert_eq!(config["ApiServer"], SERVER);
    admin_on(&sb, &db, &["tenant", "set", "dev01", "--k8s-clear"]);
    let (status, _) = get(
        &portal,
        &format!("v3/subscriptions/{id}/k8s/jitAccess"),
        &alice,
    );
    assert_eq!(status, 404);
}
