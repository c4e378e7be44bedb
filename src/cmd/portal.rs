//! `jit portal`: serve and administer the self-hosted portal.

use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::cli::{
    PortalArgs, PortalCommand, PortalSetArgs, PortalTenantCommand, PortalTokenCommand,
    PortalUserCommand, ServeArgs,
};
use crate::server::store::{self, Store, Tenant, User};
use crate::server::{Server, sts};

pub fn run(args: PortalArgs) -> Result<ExitCode> {
    // The demo never touches a real portal's state unless told to.
    let state = match (&args.command, args.state) {
        (PortalCommand::Serve(ServeArgs { demo: true, .. }), None) => Some(
            dirs::data_dir()
                .map(|d| d.join("jit").join("portal-demo.toml"))
                .context("cannot find a data directory (pass --state)")?,
        ),
        (_, state) => state,
    };
    let store = Store::new(state)?;
    let now = jiff::Timestamp::now().as_second();
    match args.command {
        PortalCommand::Serve(serve) => return run_serve(serve, store),
        PortalCommand::User(PortalUserCommand::Add {
            name,
            admin,
            tenants,
        }) => {
            store.update(|st| {
                if let Some(missing) = tenants.iter().find(|t| !st.tenants.contains_key(*t)) {
                    bail!("no tenant '{missing}': add it first with `jit portal tenant add`");
                }
                st.users.insert(
                    name.clone(),
                    User {
                        admin,
                        tenants: tenants.clone(),
                    },
                );
                Ok(())
            })?;
            crate::output::status(format_args!(
                "saved portal user '{name}' in {}",
                store.path().display()
            ));
        }
        PortalCommand::User(PortalUserCommand::List) => {
            let st = store.load()?;
            let mut out = String::new();
            for (name, u) in &st.users {
                out.push_str(&format!(
                    "{name}\t{}\t{}\n",
                    if u.admin { "admin" } else { "user" },
                    u.tenants.join(",")
                ));
            }
            crate::output::print_raw(&out)?;
        }
        PortalCommand::Tenant(PortalTenantCommand::Add {
            name,
            role_arn,
            validity,
            max_session,
        }) => {
            if !role_arn.starts_with("arn:") {
                bail!("--role-arn must be an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)");
            }
            let id = store.update(|st| {
                let id = match st.tenants.get(&name) {
                    Some(t) => t.id.clone(),
                    None => store::new_tenant_id()?,
                };
                let tenant = Tenant {
                    id: id.clone(),
                    role_arn: role_arn.clone(),
                    validity_secs: validity.unwrap_or(store::DEFAULT_VALIDITY_SECS),
                    max_session_secs: max_session.unwrap_or(store::MAX_SESSION_SECS),
                    plan: "default".into(),
                };
                st.tenants.insert(name.clone(), tenant);
                Ok(id)
            })?;
            crate::output::status(format_args!("saved tenant '{name}' (id {id})"));
        }
        PortalCommand::Tenant(PortalTenantCommand::List) => {
            let st = store.load()?;
            let mut out = String::new();
            for (name, t) in &st.tenants {
                let secs = store::clamp_session(t.validity_secs, t.max_session_secs);
                out.push_str(&format!("{name}\t{}\t{}\t{secs}s\n", t.id, t.role_arn));
            }
            crate::output::print_raw(&out)?;
        }
        PortalCommand::Token(PortalTokenCommand::Create { user, ttl }) => {
            if ttl.is_some_and(|t| t <= 0) {
                bail!("--ttl must be a positive number of seconds");
            }
            let token = store.update(|st| st.issue_token(&user, ttl, now))?;
            crate::output::print_line(&token)?;
        }
        PortalCommand::Set(PortalSetArgs {
            admin_session,
            admin_role_arn,
            ops_role_arn,
        }) => {
            store.update(|st| {
                if let Some(secs) = admin_session {
                    st.admin_session_secs = store::clamp_session(secs, store::MAX_SESSION_SECS);
                }
                if admin_role_arn.is_some() {
                    st.admin_role_arn = admin_role_arn;
                }
                if ops_role_arn.is_some() {
                    st.ops_role_arn = ops_role_arn;
                }
                Ok(())
            })?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// moto, started for `--demo` and stopped with us: the shell wrapper waits on a pipe that
/// closes when this process exits, however it exits.
struct Moto {
    url: String,
    _child: Child,
}

fn start_moto() -> Result<Moto> {
    let server = which::which("moto_server").context(
        "--demo needs moto (pip install 'moto[server]') on PATH, or pass --sts-endpoint",
    )?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    // moto's request recorder writes into its working directory.
    let child = Command::new("sh")
        .current_dir(std::env::temp_dir())
        .arg("-c")
        .arg("\"$0\" -H 127.0.0.1 -p \"$1\" >/dev/null 2>&1 & pid=$!; cat >/dev/null; kill $pid")
        .arg(&server)
        .arg(port.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .context("cannot start moto_server")?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("moto_server did not start on port {port}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(Moto {
        url: format!("http://127.0.0.1:{port}"),
        _child: child,
    })
}

fn run_serve(args: ServeArgs, store: Store) -> Result<ExitCode> {
    let server = tiny_http::Server::http(&args.listen)
        .map_err(|e| anyhow!("cannot listen on {}: {e}", args.listen))?;
    let addr = server
        .server_addr()
        .to_ip()
        .context("portal has no IP address")?;
    let url = format!("http://{addr}");
    let mut moto = None;
    let (sts_endpoint, caller) = if args.demo && args.sts_endpoint.is_none() {
        let m = start_moto()?;
        let endpoint = m.url.clone();
        moto = Some(m);
        // moto accepts any signature; these keys exist nowhere else.
        (
            endpoint,
            sts::Caller {
                access_key_id: "AKIAJITDEMO000000000".into(),
                secret_access_key: "demo".into(),
                session_token: None,
            },
        )
    } else {
        let endpoint = args
            .sts_endpoint
            .clone()
            .unwrap_or_else(|| "https://sts.amazonaws.com".into());
        (endpoint, sts::Caller::from_env()?)
    };
    if args.demo {
        setup_demo(&store, &url, &sts_endpoint, &args.demo_env)?;
    }
    crate::output::server_log(format_args!(
        "serving {url} (state {}, STS {sts_endpoint})",
        store.path().display()
    ));
    let portal = Server {
        store,
        sts_endpoint,
        signin_url: args.signin_url,
        region: args.region,
        caller,
    };
    crate::server::serve(server, portal)?;
    drop(moto);
    Ok(ExitCode::SUCCESS)
}

/// A demo user, tenant and token, and a `demo` environment in the jit config that uses them.
/// Credentials cached by an earlier demo are forgotten: the new moto does not know their keys.
fn setup_demo(store: &Store, url: &str, sts_endpoint: &str, env_name: &str) -> Result<()> {
    let token_file = store.path().with_file_name("demo-token");
    let mut config = crate::config::load()?;
    if let Some(existing) = config.envs.get(env_name)
        && existing.token_file.as_deref() != Some(token_file.as_path())
    {
        bail!(
            "environment '{env_name}' in {} is not the demo's; keep it and pass --demo-env NAME",
            crate::config::path()?.display()
        );
    }
    let now = jiff::Timestamp::now().as_second();
    let token = store.update(|st| {
        st.admin_role_arn = Some("arn:aws:iam::123456789012:role/demo-admin".into());
        st.ops_role_arn = Some("arn:aws:iam::123456789012:role/demo-ops".into());
        let id = match st.tenants.get("demo") {
            Some(t) => t.id.clone(),
            None => store::new_tenant_id()?,
        };
        st.tenants.insert(
            "demo".into(),
            Tenant {
                id,
                role_arn: "arn:aws:iam::123456789012:role/demo".into(),
                validity_secs: store::DEFAULT_VALIDITY_SECS,
                max_session_secs: store::MAX_SESSION_SECS,
                plan: "default".into(),
            },
        );
        st.users.insert(
            "demo".into(),
            User {
                admin: true,
                tenants: vec!["demo".into()],
            },
        );
        st.issue_token("demo", None, now)
    })?;
    write_private(&token_file, &token)?;
    config.envs.insert(
        env_name.into(),
        crate::config::EnvConfig {
            host: url.to_string(),
            tenant: Some("demo".into()),
            auth: Some("token".into()),
            token_file: Some(token_file.clone()),
            region: Some("us-east-1".into()),
            endpoint_url: Some(sts_endpoint.to_string()),
            ..Default::default()
        },
    );
    let path = crate::config::save(&config)?;
    let forgotten = crate::creds::forget_host(&crate::host::Host::parse(url)?)?;
    crate::output::debug(|| format!("forgot {forgotten} cached entries of an earlier demo"));
    crate::output::server_log(format_args!(
        "demo ready: user 'demo' (token in {}), tenant 'demo', environment '{env_name}' in {}",
        token_file.display(),
        path.display()
    ));
    crate::output::server_log(format_args!(
        "try: jit exec {env_name} -- aws sts get-caller-identity"
    ));
    Ok(())
}

fn write_private(path: &std::path::Path, text: &str) -> Result<()> {
    std::fs::create_dir_all(path.parent().context("no parent directory")?)?;
    crate::atomic::write(path, text.as_bytes())
}
