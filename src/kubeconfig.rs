//! Writing one context into a kubeconfig: a cluster, a user whose exec plugin runs `jit k8s` (by
//! jit's absolute path, so GUIs started without a shell's PATH find it), and a context joining
//! them, merged by name into the file without touching any other entry (as `aws eks
//! update-kubeconfig` does). Running it again changes nothing.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use yaml_serde::{Mapping, Value};

use crate::k8s::ExecCredential;

/// What one context needs: the names, the cluster as the portal described it, the program
/// kubectl runs (jit's absolute path, or `jit`) and the argv of `jit k8s` that logs in the same
/// way as the environment.
pub struct KubeContext {
    pub name: String,
    pub credential: ExecCredential,
    pub command: String,
    pub args: Vec<String>,
}

/// The jit that is running, by a path that needs no PATH: the `jit` on PATH when it is this very
/// file (a package manager's stable link, kept across upgrades), else the running executable.
pub fn own_command() -> Result<String> {
    let exe = std::env::current_exe().context("cannot find the running jit's path")?;
    let same = |p: &Path| {
        let (Ok(a), Ok(b)) = (std::fs::canonicalize(p), std::fs::canonicalize(&exe)) else {
            return false;
        };
        a == b
    };
    let path = match which::which("jit") {
        Ok(found) if found.is_absolute() && same(&found) => found,
        _ => exe,
    };
    path.into_os_string()
        .into_string()
        .map_err(|_| anyhow!("the running jit's path is not UTF-8"))
}

/// `$KUBECONFIG`'s first path (kubectl writes there too), else `~/.kube/config`.
pub fn default_path() -> Result<PathBuf> {
    if let Some(list) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty())
        && let Some(first) = std::env::split_paths(&list).find(|p| !p.as_os_str().is_empty())
    {
        return Ok(first);
    }
    dirs::home_dir()
        .map(|h| h.join(".kube").join("config"))
        .ok_or_else(|| anyhow!("cannot find the home directory (set KUBECONFIG)"))
}

fn s(text: &str) -> Value {
    Value::String(text.to_string())
}

fn entry(name: &str, key: &str, body: Mapping) -> Value {
    let mut m = Mapping::new();
    m.insert(s("name"), s(name));
    m.insert(s(key), Value::Mapping(body));
    Value::Mapping(m)
}

fn cluster(ctx: &KubeContext) -> Value {
    let c = &ctx.credential.spec.cluster;
    let mut body = Mapping::new();
    body.insert(s("server"), s(&c.server));
    match &c.certificate_authority_data {
        Some(ca) => {
            body.insert(s("certificate-authority-data"), s(ca));
        }
        None => {
            body.insert(s("insecure-skip-tls-verify"), Value::Bool(true));
        }
    }
    entry(&ctx.name, "cluster", body)
}

fn user(ctx: &KubeContext) -> Value {
    let mut exec = Mapping::new();
    exec.insert(s("apiVersion"), s("client.authentication.k8s.io/v1beta1"));
    exec.insert(s("command"), s(&ctx.command));
    exec.insert(
        s("args"),
        Value::Sequence(ctx.args.iter().map(|a| s(a)).collect()),
    );
    exec.insert(s("interactiveMode"), s("IfAvailable"));
    exec.insert(s("provideClusterInfo"), Value::Bool(false));
    let mut body = Mapping::new();
    body.insert(s("exec"), Value::Mapping(exec));
    entry(&ctx.name, "user", body)
}

fn context(ctx: &KubeContext) -> Value {
    let mut body = Mapping::new();
    body.insert(s("cluster"), s(&ctx.name));
    body.insert(s("user"), s(&ctx.name));
    entry(&ctx.name, "context", body)
}

/// Replace the entry named `name` in the list under `key`, or append it.
fn upsert(doc: &mut Mapping, key: &str, name: &str, value: Value) -> Result<()> {
    let list = doc
        .entry(s(key))
        .or_insert_with(|| Value::Sequence(Vec::new()));
    if list.is_null() {
        *list = Value::Sequence(Vec::new());
    }
    let Value::Sequence(items) = list else {
        bail!("the kubeconfig's `{key}` is not a list");
    };
    match items
        .iter_mut()
        .find(|i| i.get("name").and_then(Value::as_str) == Some(name))
    {
        Some(existing) => *existing = value,
        None => items.push(value),
    }
    Ok(())
}

/// `text` (a kubeconfig, or empty) with `ctx` merged in and made the current context.
pub fn merge(text: &str, ctx: &KubeContext) -> Result<String> {
    let mut doc = if text.trim().is_empty() {
        Mapping::new()
    } else {
        match yaml_serde::from_str::<Value>(text).context("the kubeconfig is not YAML")? {
            Value::Mapping(m) => m,
            Value::Null => Mapping::new(),
            _ => bail!("the kubeconfig is not a YAML mapping"),
        }
    };
    doc.entry(s("apiVersion")).or_insert_with(|| s("v1"));
    doc.entry(s("kind")).or_insert_with(|| s("Config"));
    upsert(&mut doc, "clusters", &ctx.name, cluster(ctx))?;
    upsert(&mut doc, "users", &ctx.name, user(ctx))?;
    upsert(&mut doc, "contexts", &ctx.name, context(ctx))?;
    doc.insert(s("current-context"), s(&ctx.name));
    Ok(yaml_serde::to_string(&Value::Mapping(doc))?)
}

/// Merge `ctx` into the file at `path` (created 0600 when missing). Returns whether it changed.
pub fn write(path: &Path, ctx: &KubeContext) -> Result<bool> {
    let old = match crate::limit::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let new = merge(&old, ctx).with_context(|| format!("{}", path.display()))?;
    if new == old {
        return Ok(false);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    crate::atomic::write(path, new.as_bytes())?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(name: &str, ca: Option<&str>) -> KubeContext {
        let credential: ExecCredential = serde_json::from_value(serde_json::json!({
            "kind": "ExecCredential",
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "spec": {"cluster": {"server": "https://k8s.example.com", "certificate-authority-data": ca, "config": null}, "interactive": false},
            "status": {"expirationTimestamp": "2026-11-25T12:00:00Z", "token": "t"}
        }))
        .expect("cred");
        KubeContext {
            name: name.into(),
            credential,
            command: "/opt/jit/bin/jit".into(),
            args: vec!["k8s".into(), "--tenant".into(), "dev01".into()],
        }
    }

    #[test]
    fn merging_keeps_other_entries_and_is_idempotent() {
        let mine = "apiVersion: v1\nkind: Config\nclusters:\n- name: mine\n  cluster:\n    server: https://mine\nusers:\n- name: mine\n  user:\n    token: secret\ncontexts:\n- name: mine\n  context:\n    cluster: mine\n    user: mine\ncurrent-context: mine\npreferences: {}\n";
        let once = merge(mine, &ctx("dev", Some("Q0E="))).expect("merge");
        let twice = merge(&once, &ctx("dev", Some("Q0E="))).expect("merge");
        assert_eq!(once, twice);
        let doc: Value = yaml_serde::from_str(&once).expect("yaml");
        for key in ["clusters", "users", "contexts"] {
            let names: Vec<&str> = doc[key]
                .as_sequence()
                .expect("list")
                .iter()
                .filter_map(|i| i["name"].as_str())
                .collect();
            assert_eq!(names, ["mine", "dev"], "{key}");
        }
        assert_eq!(doc["users"][0]["user"]["token"], "secret");
        assert_eq!(doc["current-context"], "dev");
        assert_eq!(doc["users"][1]["user"]["exec"]["args"][2], "dev01");
        assert_eq!(
            doc["users"][1]["user"]["exec"]["command"],
            "/opt/jit/bin/jit"
        );
        // Updating replaces in place.
        let updated = merge(&once, &ctx("dev", None)).expect("merge");
        let doc: Value = yaml_serde::from_str(&updated).expect("yaml");
        assert_eq!(doc["clusters"].as_sequence().expect("list").len(), 2);
        assert_eq!(
            doc["clusters"][1]["cluster"]["insecure-skip-tls-verify"],
            true
        );
        assert!(merge("- a\n- b\n", &ctx("dev", None)).is_err());
    }
}
