//! `jit portal serve`: the portal API and login page over HTTP or HTTPS, and `--demo`, which
//! brings its own moto STS and a ready `demo` environment.

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::aws::{Signin, Sts};
use crate::cli::ServeArgs;
use crate::db::{self, AuditEntry, AuditEvent, Db};
use crate::net::{self, Limits};
use crate::router::{self, Timeouts};
use crate::sso::{Config as OidcConfig, Oidc};
use crate::state::App;
use crate::{notify, stream};

/// How long between sweeps of expired tokens.
const PURGE_EVERY: Duration = Duration::from_secs(60);

pub async fn run(args: ServeArgs, db_target: Option<String>) -> Result<ExitCode> {
    // A notification setting that is wrong fails the start before anything else is set up.
    let senders = notify_senders(&args)?;
    let db = super::open(db_target, args.demo).await?;
    let listener = bind(&args.listen).await?;
    let addr = listener.local_addr().context("portal has no address")?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(net::tls_acceptor(cert, key)?),
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://{addr}");
    if tls.is_none() && !addr.ip().is_loopback() {
        tracing::warn!(
            "WARNING: serving plain HTTP on {addr}, which is not a loopback address: portal tokens and AWS credentials cross the network unencrypted. Pass --tls-cert and --tls-key, or listen on 127.0.0.1 behind a TLS proxy."
        );
    }
    let mut moto = None;
    let source_identity = !args.no_source_identity;
    let sts = if args.demo && args.sts_endpoint.is_none() {
        let m = start_moto()?;
        let endpoint = m.url.clone();
        moto = Some(m);
        // moto accepts any signature; these keys exist nowhere else.
        Sts::with_keys(
            Some(endpoint),
            args.region.clone(),
            "AKIAJITDEMO000000000",
            "demo",
            source_identity,
        )
    } else {
        Sts::from_chain(
            args.sts_endpoint.clone(),
            args.region.clone(),
            source_identity,
        )
        .await?
    };
    let sts_endpoint = sts.endpoint();
    if args.demo {
        setup_demo(&db, &url, &sts_endpoint, &args.demo_env).await?;
    }
    let (max_connections, fd_limit) = net::connection_cap(args.max_connections);
    tracing::info!(
        "serving {url} (database {}, STS {sts_endpoint}, at most {max_connections} connections{})",
        db.location,
        fd_limit
            .map(|l| format!(" under a descriptor limit of {l}"))
            .unwrap_or_default()
    );
    let public_url = args.public_url.clone().unwrap_or_else(|| url.clone());
    let oidc = match oidc_config(&args)? {
        Some(config) => {
            let oidc = Oidc::discover(config, &public_url).await?;
            tracing::info!(
                "single sign-on through {} (redirect URI {public_url}/login/oidc/callback)",
                oidc.issuer()
            );
            Some(oidc)
        }
        None => None,
    };
    if !args.trusted_proxies.is_empty() {
        let list: Vec<String> = args.trusted_proxies.iter().map(|n| n.to_string()).collect();
        tracing::info!(
            "client addresses from X-Forwarded-For of {}",
            list.join(", ")
        );
    }
    let cookie_key = db
        .server_key("cookies", jiff::Timestamp::now().as_second())
        .await?;
    let secure = args.tls_cert.is_some() || public_url.starts_with("https:");
    let host_cookies = crate::web::cookies::host_cookies(secure, &public_url);
    if !host_cookies {
        tracing::warn!(
            "WARNING: {public_url} is plain HTTP at a name browsers do not treat as secure: the portal's cookies go without the __Host- prefix and Secure, so any other server on this host can plant them. Serve over HTTPS (--tls-cert and --tls-key, or a TLS proxy and --public-url https://...)."
        );
    }
    let app = Arc::new(App {
        db,
        cookie_key,
        tls: secure,
        host_cookies,
        public_url,
        // The demo's keys work only at its own moto: the pages say so wherever keys go out.
        aws_endpoint: moto.as_ref().map(|m| m.url.clone()),
        cut_off: args
            .cut_off_on_revoke
            .then(|| sts.iam(args.iam_endpoint.clone())),
        sts,
        signin: Signin::new(
            args.signin_url.clone(),
            Duration::from_millis(args.signin_timeout_ms),
        )?,
        oidc,
        trusted_proxies: args.trusted_proxies.clone(),
    });
    let header = Duration::from_secs(args.header_timeout.max(1));
    let timeouts = Timeouts {
        body: header,
        request: Duration::from_secs(args.request_timeout.max(1)),
    };
    let routes = router::app(app.clone(), &timeouts);
    let metrics = match &args.metrics_listen {
        Some(listen) => Some(serve_metrics(listen, &timeouts, header).await?),
        None => None,
    };
    let purger = tokio::spawn(purge_expired(app.clone()));
    let mut sinks = audit_sinks(&args)?;
    // Access notifications: the trail's access rows become rows of the outbox that the
    // channels' tasks below send.
    if senders.mail.is_some() || senders.chat.is_some() {
        sinks.push(stream::Sink::Notices(notify::Notices {
            email: senders.mail.is_some(),
            chat: senders.chat.is_some(),
            portal: app.public_url.clone(),
            key: app.cookie_key,
        }));
    }
    let names: Vec<String> = sinks.iter().map(stream::Sink::name).collect();
    let owner = stream::owner()?;
    let mut streams = Vec::new();
    if !sinks.is_empty() {
        let id = stream::stream_id(&app.db).await?;
        for sink in sinks {
            tracing::info!(
                "audit stream to {} (event ids {id}-SEQ)",
                crate::log::escape(&sink.name())
            );
            let (app, id, owner) = (app.clone(), id.clone(), owner.clone());
            streams.push(tokio::spawn(async move {
                stream::deliver(&app.db, sink, &id, &owner).await
            }));
        }
    }
    if let Some(mail) = &senders.mail {
        tracing::info!(
            "email notifications through {}",
            crate::log::escape(mail.server())
        );
    }
    if let Some(chat) = &senders.chat {
        tracing::info!("chat notifications to {}", crate::log::escape(&chat.host()));
    }
    let notifiers: Vec<_> = senders
        .into_channels()
        .into_iter()
        .map(|sender| {
            let (app, owner) = (app.clone(), owner.clone());
            tokio::spawn(async move { notify::deliver(&app.db, sender, &owner).await })
        })
        .collect();
    let limits = Limits {
        max_connections,
        idle: Duration::from_secs(args.idle_timeout.max(1)),
        header,
        counted: true,
    };
    net::serve(listener, tls, routes, limits, shutdown_signal()).await?;
    purger.abort();
    if let Some(metrics) = metrics {
        metrics.abort();
    }
    for s in streams {
        s.abort();
    }
    for n in notifiers {
        n.abort();
    }
    stream::release(&app.db, &names, &owner).await;
    app.db.close().await;
    drop(moto);
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// The metrics listener (`--metrics-listen`): `GET /metrics` only, plain HTTP, a few
/// connections, served until the portal stops.
async fn serve_metrics(
    listen: &str,
    timeouts: &Timeouts,
    header: Duration,
) -> Result<tokio::task::JoinHandle<()>> {
    let listener = bind(listen).await?;
    let addr = listener
        .local_addr()
        .context("the metrics listener has no address")?;
    if !addr.ip().is_loopback() {
        tracing::warn!(
            "WARNING: metrics on {addr}, which is not a loopback address: anyone who reaches it sees the portal's traffic counts. Keep it on a private network, away from the public listener."
        );
    }
    tracing::info!("metrics on http://{addr}/metrics");
    let routes = router::metrics(timeouts);
    let limits = Limits {
        max_connections: 64,
        idle: Duration::from_secs(60),
        header,
        counted: false,
    };
    Ok(tokio::spawn(async move {
        if let Err(e) = net::serve(listener, None, routes, limits, std::future::pending()).await {
            crate::log::failure("the metrics listener stopped", &e);
        }
    }))
}

/// The audit stream's sinks, with the webhook's bearer secret from its file or the environment.
fn audit_sinks(args: &ServeArgs) -> Result<Vec<stream::Sink>> {
    let mut sinks = Vec::new();
    if let Some(url) = &args.audit_webhook {
        let secret = secret_from(
            args.audit_webhook_secret_file.as_deref(),
            "JIT_PORTAL_AUDIT_WEBHOOK_SECRET",
        )?;
        sinks.push(stream::Sink::Webhook(stream::Webhook::new(
            url.clone(),
            secret,
        )?));
    }
    if let Some(target) = &args.audit_syslog {
        sinks.push(stream::Sink::Syslog(stream::Syslog::new(
            target.tcp,
            target.addr.clone(),
        )));
    }
    Ok(sinks)
}

/// A secret from its file (read up to 4 KiB) or else the environment variable `var`, trimmed;
/// None when neither gives one. Secrets never come from argv, where any local user sees them.
fn secret_from(file: Option<&std::path::Path>, var: &str) -> Result<Option<String>> {
    let text = match file {
        Some(path) => {
            let mut text = String::new();
            std::fs::File::open(path)
                .and_then(|f| f.take(4096).read_to_string(&mut text))
                .with_context(|| format!("cannot read {}", path.display()))?;
            Some(text)
        }
        None => std::env::var(var).ok(),
    };
    Ok(text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty()))
}

/// Where notifications go: the mail server and the chat webhook, when configured.
fn notify_senders(args: &ServeArgs) -> Result<notify::Senders> {
    let mut senders = notify::Senders::default();
    if let (Some(url), Some(from)) = (&args.smtp_url, &args.mail_from) {
        let password = secret_from(
            args.smtp_password_file.as_deref(),
            "JIT_PORTAL_SMTP_PASSWORD",
        )?;
        senders.mail = Some(notify::Mail::new(
            url,
            password,
            from,
            crate::cli::is_loopback(url),
        )?);
    }
    let webhook = secret_from(
        args.notify_webhook_file.as_deref(),
        "JIT_PORTAL_NOTIFY_WEBHOOK",
    )?;
    if let Some(text) = webhook {
        // Never quote the URL: it holds the webhook's key.
        let url = url::Url::parse(&text)
            .map_err(|e| anyhow::anyhow!("the chat webhook is not a URL: {e}"))?;
        crate::cli::https_or_loopback(&url, "the chat webhook's URL holds its key")
            .map_err(|e| anyhow::anyhow!("the chat webhook: {e}"))?;
        senders.chat = Some(notify::Chat::new(url)?);
    }
    Ok(senders)
}

/// The single sign-on settings, with the client secret from its file or the environment.
fn oidc_config(args: &ServeArgs) -> Result<Option<OidcConfig>> {
    let (Some(issuer), Some(client_id)) = (&args.oidc_issuer, &args.oidc_client_id) else {
        return Ok(None);
    };
    let secret = secret_from(
        args.oidc_client_secret_file.as_deref(),
        "JIT_PORTAL_OIDC_CLIENT_SECRET",
    )?
    .unwrap_or_default();
    if secret.is_empty() {
        bail!(
            "--oidc-issuer needs the client secret: --oidc-client-secret-file PATH or JIT_PORTAL_OIDC_CLIENT_SECRET"
        );
    }
    let ca_pem = match &args.oidc_ca_file {
        Some(path) => {
            let mut pem = Vec::new();
            std::fs::File::open(path)
                .and_then(|f| f.take(1024 * 1024).read_to_end(&mut pem))
                .with_context(|| format!("cannot read {}", path.display()))?;
            Some(pem)
        }
        None => None,
    };
    Ok(Some(OidcConfig {
        ca_pem,
        issuer: issuer.clone(),
        client_id: client_id.clone(),
        client_secret: secret,
        user_claim: args.oidc_user_claim.clone(),
        name: args.oidc_name.clone(),
        trust_amr: args.oidc_trust_amr,
    }))
}

/// A listener with a deep accept queue, so a burst waits instead of being refused.
async fn bind(listen: &str) -> Result<tokio::net::TcpListener> {
    let addr: SocketAddr = tokio::net::lookup_host(listen)
        .await
        .with_context(|| format!("cannot resolve {listen}"))?
        .next()
        .ok_or_else(|| anyhow!("{listen} resolves to no address"))?;
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .context("cannot create a socket")?;
    socket.set_reuseaddr(true)?;
    socket
        .bind(addr)
        .with_context(|| format!("cannot listen on {listen}"))?;
    socket
        .listen(4096)
        .with_context(|| format!("cannot listen on {listen}"))
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        // Without signal handling the default actions stop us; serve until then.
        _ => std::future::pending().await,
    }
    tracing::info!("stopping: finishing requests in flight");
}

async fn purge_expired(app: Arc<App>) {
    let mut tick = tokio::time::interval(PURGE_EVERY);
    loop {
        tick.tick().await;
        match app
            .db
            .purge_expired(jiff::Timestamp::now().as_second())
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::debug!("purged {n} expired tokens"),
            Err(e) => crate::log::failure("cannot purge expired tokens", &e),
        }
        let now = jiff::Timestamp::now().as_second();
        if let Err(e) = app
            .db
            .purge_notifications(now - notify::KEEP_SENT_SECS, now)
            .await
        {
            crate::log::failure("cannot purge sent notifications", &e);
        }
    }
}

/// The secrets the portal may take from its environment: none of them is any child's business.
const SECRET_VARS: &[&str] = &[
    "JIT_PORTAL_OIDC_CLIENT_SECRET",
    "JIT_PORTAL_AUDIT_WEBHOOK_SECRET",
    "JIT_PORTAL_SMTP_PASSWORD",
    "JIT_PORTAL_NOTIFY_WEBHOOK",
];

/// `cmd` without the portal's secrets in its environment.
fn no_secrets(cmd: &mut Command) -> &mut Command {
    for var in SECRET_VARS {
        cmd.env_remove(var);
    }
    cmd
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
    let child = no_secrets(&mut Command::new("sh"))
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

/// Where the demo's token file goes: beside an SQLite database, else in the data dir.
fn demo_token_file(db: &Db) -> Result<PathBuf> {
    if !db.is_postgres() {
        return Ok(PathBuf::from(&db.location).with_file_name("demo-token"));
    }
    Ok(db::default_path(true)?.with_file_name("demo-token"))
}

/// A demo user, tenant and token, and a `demo` environment in the jit config that uses them.
/// Credentials cached by an earlier demo are forgotten: the new moto does not know their keys.
async fn setup_demo(db: &Db, url: &str, sts_endpoint: &str, env_name: &str) -> Result<()> {
    let token_file = demo_token_file(db)?;
    let jit = Jit::find()?;
    jit.check_demo_env(env_name, &token_file)?;
    let actor = "demo";
    db.update_settings(
        None,
        Some("arn:aws:iam::123456789012:role/demo-admin"),
        Some("arn:aws:iam::123456789012:role/demo-ops"),
        AuditEntry::new(AuditEvent::Settings, actor).detail("demo roles"),
    )
    .await?;
    db.upsert_tenant(
        "demo",
        "arn:aws:iam::123456789012:role/demo",
        crate::domain::rules::DEFAULT_VALIDITY_SECS,
        crate::domain::rules::MAX_SESSION_SECS,
        AuditEntry::new(AuditEvent::TenantAdd, actor).detail("tenant demo"),
    )
    .await?;
    db.upsert_user(
        "demo",
        true,
        &["demo".to_string()],
        AuditEntry::new(AuditEvent::UserAdd, actor).user("demo"),
    )
    .await?;
    // One demo token at a time: the previous run's goes.
    db.revoke_tokens(
        &[],
        Some("demo"),
        AuditEntry::new(AuditEvent::TokenRevoke, actor),
    )
    .await?;
    let (token, _) = db
        .create_token(
            "demo",
            None,
            AuditEntry::new(AuditEvent::TokenCreate, actor),
        )
        .await?;
    write_private(&token_file, &token)?;
    // A fresh web password each run, kept beside the token: the profile page at the same URL.
    let password_file = token_file.with_file_name("demo-password");
    let password = crate::secret::new_token()?;
    let hash = tokio::task::spawn_blocking(move || {
        crate::password::hash(&password).map(|h| (h, password))
    })
    .await
    .context("cannot hash the demo password")??;
    db.set_password(
        "demo",
        &hash.0,
        AuditEntry::new(AuditEvent::UserPasswd, actor).user("demo"),
    )
    .await?;
    write_private(&password_file, &hash.1)?;
    let path = jit.add_demo_env(env_name, url, &token_file, sts_endpoint)?;
    tracing::info!(
        "demo ready: user 'demo' (token in {}), tenant 'demo', environment '{env_name}' in {}",
        token_file.display(),
        path
    );
    tracing::info!("try: jit exec {env_name} -- aws sts get-caller-identity");
    tracing::info!(
        "web: sign in at {url}/login as 'demo' with the password in {}",
        password_file.display()
    );
    Ok(())
}

/// A file only its owner may read, replaced whole (temp file, fsync, rename).
fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let dir = path.parent().context("no parent directory")?;
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".demo.")
        .tempfile_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .map_err(|e| anyhow!("cannot replace {}: {}", path.display(), e.error))?;
    Ok(())
}

/// The `jit` CLI beside this binary (else on PATH): the demo's environment is written through
/// `jit config`, so the portal never links the client or knows its config file's format.
struct Jit(PathBuf);

impl Jit {
    fn find() -> Result<Jit> {
        let beside = std::env::current_exe()
            .ok()
            .map(|exe| exe.with_file_name("jit"))
            .filter(|p| p.is_file());
        beside
            .or_else(|| which::which("jit").ok())
            .map(Jit)
            .context("--demo writes a jit environment and needs the jit binary beside jit-portal or on PATH")
    }

    fn run(&self, args: &[&std::ffi::OsStr]) -> Result<String> {
        let out = no_secrets(Command::new(&self.0).args(args).stdin(Stdio::null()))
            .output()
            .with_context(|| format!("cannot run {}", self.0.display()))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stderr = stderr.trim().strip_prefix("jit: ").unwrap_or(stderr.trim());
        if !out.status.success() {
            bail!("{}", crate::log::escape(stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The demo replaces only an environment it wrote: one whose token file is the demo's.
    fn check_demo_env(&self, env_name: &str, token_file: &Path) -> Result<()> {
        let listed = self.run(&["config".as_ref(), "list".as_ref(), "--json".as_ref()])?;
        let envs: serde_json::Value =
            serde_json::from_str(&listed).context("jit config list --json sent no JSON")?;
        if let Some(existing) = envs.get(env_name)
            && existing.get("token_file").and_then(|f| f.as_str()) != token_file.to_str()
        {
            let path = self.run(&["config".as_ref(), "path".as_ref()])?;
            bail!(
                "environment '{env_name}' in {} is not the demo's; keep it and pass --demo-env NAME",
                path.trim()
            );
        }
        Ok(())
    }

    /// Writes the demo environment and forgets credentials an earlier demo cached for it (the
    /// new moto does not know their keys). Returns the config file's path.
    fn add_demo_env(
        &self,
        env_name: &str,
        url: &str,
        token_file: &Path,
        sts_endpoint: &str,
    ) -> Result<String> {
        self.run(&[
            "config".as_ref(),
            "add".as_ref(),
            env_name.as_ref(),
            "--host".as_ref(),
            url.as_ref(),
            "--tenant".as_ref(),
            "demo".as_ref(),
            "--token-file".as_ref(),
            token_file.as_os_str(),
            "--region".as_ref(),
            "us-east-1".as_ref(),
            "--endpoint-url".as_ref(),
            sts_endpoint.as_ref(),
        ])?;
        self.run(&["clear-cache".as_ref(), env_name.as_ref()])?;
        Ok(self
            .run(&["config".as_ref(), "path".as_ref()])?
            .trim()
            .to_string())
    }
}
