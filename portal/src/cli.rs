//! Every flag of `jit-portal` (also run as `jit portal`). Help text is the doc comment.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use crate::log::LogFormat;

/// Run or administer a self-hosted access portal (same API as the commercial one)
#[derive(Debug, Parser)]
#[command(
    name = "jit-portal",
    bin_name = "jit portal",
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("JIT_BUILD_COMMIT"), ")"),
    after_long_help = "Examples:
  jit portal serve --demo                       # demo user, tenant and token against local moto STS
  jit portal tenant add dev01 --role-arn arn:aws:iam::111111111111:role/dev01 --validity 7200
  jit portal user add alice --tenant dev01
  jit portal user passwd alice                  # reads the web sign-in password from stdin
  jit portal token create alice                 # prints a permanent API token
  jit portal token list; jit portal token revoke tok_0123456789abcdef
  jit portal audit --user alice --since 1d --json
  jit portal backup /var/backups/jit/portal-$(date +%F).db   # while it serves
  AWS_PROFILE=portal jit portal serve --listen 127.0.0.1:8480
  JIT_PORTAL_DB=postgres://portal@db.internal/jit jit portal serve   # replicas share one database
  jit portal serve --public-url https://jit.example.com --oidc-issuer https://id.example.com \
    --oidc-client-id jit-portal --oidc-client-secret-file /run/secrets/oidc   # single sign-on

The portal signs STS AssumeRole with credentials from the standard AWS chain (environment,
AWS_PROFILE, credential_process, SSO, container or instance role)."
)]
pub struct Cli {
    /// Database: an SQLite file (default: <XDG data dir>/jit/portal.db) or a postgres:// URL.
    /// Prefer the variable or ~/.pgpass for a URL with a password: argv is visible to others.
    #[arg(
        long,
        global = true,
        value_name = "PATH|URL",
        env = "JIT_PORTAL_DB",
        hide_env_values = true,
        alias = "state"
    )]
    pub db: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the portal API and browser login page
    Serve(Box<ServeArgs>),
    /// Manage portal users
    #[command(subcommand)]
    User(UserCommand),
    /// Manage tenants (each maps to an IAM role)
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage API tokens
    #[command(subcommand)]
    Token(TokenCommand),
    /// Change system-wide settings
    Set(SetArgs),
    /// Manage local groups (single sign-on groups come from the `groups` claim)
    #[command(subcommand)]
    Group(GroupCommand),
    /// Who may request a target (a tenant name, admin or duplo-ops)
    #[command(subcommand)]
    Eligible(RuleCommand),
    /// Who approves requests for a target
    #[command(subcommand)]
    Approver(RuleCommand),
    /// A target's access policy: approvals, longest grant, reason, ticket, break-glass
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Grants made by approved access requests: list the running ones, or end one now
    #[command(subcommand)]
    Grant(GrantCommand),
    /// Show the audit trail: logins, credential vends and admin changes
    Audit(AuditArgs),
    /// Copy the SQLite database to FILE while the portal serves: a consistent, checked,
    /// private (0600) copy that `--db FILE` opens as it is (PostgreSQL: use pg_dump)
    Backup {
        /// The new file (an existing one is never replaced)
        file: PathBuf,
    },
    /// See the outbox of email and chat notifications, or send a test one through the serving
    /// portal's mail server or chat webhook
    #[command(subcommand)]
    Notify(NotifyCommand),
}

#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// Queue a test notification; the serving portal sends it (see `notify list`)
    #[command(group = clap::ArgGroup::new("to_whom").required(true))]
    Test {
        /// An email to this address
        #[arg(long, value_name = "ADDR", group = "to_whom")]
        to: Option<String>,
        /// A message to the chat webhook
        #[arg(long, group = "to_whom")]
        chat: bool,
        /// The portal's public URL: the message then carries a single-use link to the Profile
        /// page, as a request's notification carries one to the request
        #[arg(long, value_name = "URL")]
        portal_url: Option<url::Url>,
    },
    /// The newest 1000 notifications waiting or given up, with their tries and last error;
    /// `--sent` adds what went out in the last week
    List {
        #[arg(long)]
        sent: bool,
    },
    /// Send a given-up notification again (after fixing what refused it)
    Retry {
        /// The notification's id (n_...), as `notify list` shows it
        id: String,
    },
}

/// A claim that can name a user: not a display name, which users usually edit themselves.
fn user_claim(text: &str) -> Result<String, String> {
    match text {
        "" => Err("want a claim name".into()),
        "name" | "nickname" | "given_name" | "family_name" => Err(format!(
            "'{text}' is a display name users can change: use email, preferred_username or sub"
        )),
        _ => Ok(text.to_string()),
    }
}

/// A trusted proxy: a CIDR (`10.0.0.0/8`, `fd00::/8`) or one address.
fn trusted_proxy(text: &str) -> Result<ipnet::IpNet, String> {
    let text = text.trim();
    if let Ok(addr) = text.parse::<std::net::IpAddr>() {
        return Ok(ipnet::IpNet::from(addr));
    }
    text.parse::<ipnet::IpNet>()
        .map(|net| net.trunc())
        .map_err(|_| {
            format!("'{text}' is not an address or CIDR (10.0.0.0/8, fd00::/8, 192.0.2.7)")
        })
}

/// The audit webhook: https, or plain http only to a loopback address; no user or fragment.
fn audit_webhook(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text).map_err(|e| format!("not a URL: {e}"))?;
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err("want no user, password or fragment (a bearer secret comes from --audit-webhook-secret-file)".into());
    }
    https_or_loopback(&url, "the audit trail names users, roles and addresses")?;
    Ok(url)
}

/// A URL the portal sends to: https, or plain http only to a loopback address (plain http
/// elsewhere would show `what` to the network).
pub fn https_or_loopback(url: &url::Url, what: &str) -> Result<(), String> {
    if url.host().is_none() {
        return Err("want a host".into());
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err(format!(
            "want https:// (plain http only to a loopback address): {what}"
        )),
        _ => Err("want an https:// URL".into()),
    }
}

/// Whether the URL's host is this machine. A URL of a scheme the URL standard does not know
/// (`smtp://`) keeps its host as text, an address included.
pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => {
            d == "localhost"
                || d.trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        None => false,
    }
}

/// The mail server: `smtps://[USER@]HOST[:PORT]` (TLS), or `smtp://` (STARTTLS, required
/// unless the host is this machine); the password comes from --smtp-password-file.
fn smtp_url(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text).map_err(|e| format!("not a URL: {e}"))?;
    if url.password().is_some() {
        return Err("want no password in the URL (it comes from --smtp-password-file)".into());
    }
    if !matches!(url.scheme(), "smtp" | "smtps") {
        return Err("want smtps://HOST[:PORT] or smtp://HOST[:PORT]".into());
    }
    if url.host_str().is_none_or(str::is_empty)
        || !matches!(url.path(), "" | "/")
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err("want smtps://[USER@]HOST[:PORT] with nothing after the port".into());
    }
    Ok(url)
}

/// Where the audit stream's syslog lines go.
#[derive(Debug, Clone)]
pub struct SyslogTarget {
    pub tcp: bool,
    /// `host:port`, resolved at each connection.
    pub addr: String,
}

fn audit_syslog(text: &str) -> Result<SyslogTarget, String> {
    let wanted = || "want tcp://HOST:PORT or udp://HOST:PORT".to_string();
    let (tcp, rest) = match text.split_once("://") {
        Some(("tcp", rest)) => (true, rest),
        Some(("udp", rest)) => (false, rest),
        _ => return Err(wanted()),
    };
    let url = url::Url::parse(&format!("syslog://{rest}")).map_err(|_| wanted())?;
    let (Some(host), Some(port)) = (url.host_str(), url.port()) else {
        return Err(wanted());
    };
    if !matches!(url.path(), "" | "/") || url.query().is_some() || !url.username().is_empty() {
        return Err(wanted());
    }
    Ok(SyslogTarget {
        tcp,
        addr: format!("{host}:{port}"),
    })
}

fn public_url(text: &str) -> Result<String, String> {
    let url = url::Url::parse(text).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("want an http:// or https:// URL with a host".into());
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err("want no user, query or fragment".into());
    }
    if url.path() != "/" {
        return Err("want no path: the portal serves from the root of its address".into());
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (loopback by default; anything else wants --tls-cert/--tls-key)
    #[arg(long, default_value = "127.0.0.1:8480", value_name = "ADDR")]
    pub listen: String,
    /// STS endpoint for AssumeRole, signed with the portal's own AWS credentials (default: the
    /// region's endpoint)
    #[arg(long, value_name = "URL")]
    pub sts_endpoint: Option<String>,
    /// AWS federation endpoint used to build ConsoleUrl (default: the one of the role's
    /// partition, from its ARN, else from --region: signin.aws.amazon.com,
    /// signin.amazonaws-us-gov.com, signin.amazonaws.cn, or <region>.signin.amazonaws-eusc.eu)
    #[arg(long, value_name = "URL")]
    pub signin_url: Option<String>,
    /// Give up on ConsoleUrl after this many milliseconds (the credentials go out without it)
    #[arg(long, default_value_t = 3000, value_name = "MS")]
    pub signin_timeout_ms: u64,
    /// Region reported with credentials and used to sign STS calls
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// Do not send SourceIdentity with AssumeRole (for roles whose trust policy does not allow
    /// sts:SetSourceIdentity)
    #[arg(long)]
    pub no_source_identity: bool,
    /// Serve HTTPS with this PEM certificate chain
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key for --tls-cert
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The address users reach the portal at, when it is not the listen address (behind a TLS
    /// proxy, say): it fills in the profile page's workstation lines and the OpenID Connect
    /// redirect, and an https URL makes session cookies Secure
    #[arg(long, value_name = "URL", value_parser = public_url)]
    pub public_url: Option<String>,
    /// A proxy in front of the portal (an address or CIDR; repeat, or comma-separate in the
    /// variable): from these peers the client's address is taken from X-Forwarded-For (the
    /// nearest hop that is not itself a trusted proxy), for the audit trail, the log and the
    /// sign-in limits. From any other peer the header is ignored
    #[arg(
        long = "trusted-proxy",
        value_name = "CIDR",
        value_parser = trusted_proxy,
        value_delimiter = ',',
        env = "JIT_PORTAL_TRUSTED_PROXIES"
    )]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Single sign-on: the OpenID Connect provider's issuer URL (its discovery document is
    /// fetched at start-up). The redirect URI to register there is
    /// {public URL}/login/oidc/callback
    #[arg(long, value_name = "URL", requires = "oidc_client_id")]
    pub oidc_issuer: Option<String>,
    /// The portal's client id at the OpenID Connect provider
    #[arg(long, value_name = "ID", requires = "oidc_issuer")]
    pub oidc_client_id: Option<String>,
    /// A file holding the client secret (else JIT_PORTAL_OIDC_CLIENT_SECRET; never argv)
    #[arg(long, value_name = "PATH", requires = "oidc_issuer")]
    pub oidc_client_secret_file: Option<PathBuf>,
    /// The id token claim that names the portal user (email, which must be verified,
    /// preferred_username, sub, or any other string claim; not the display names `name` and
    /// `nickname`); the user must already exist in the portal
    #[arg(
        long,
        default_value = "email",
        value_name = "CLAIM",
        requires = "oidc_issuer",
        value_parser = user_claim
    )]
    pub oidc_user_claim: String,
    /// Also trust these CA certificates (PEM) for the provider's HTTPS, beside the public roots
    #[arg(long, value_name = "PEM", requires = "oidc_issuer")]
    pub oidc_ca_file: Option<PathBuf>,
    /// The provider's name on the sign-in button ("Sign in with NAME")
    #[arg(
        long,
        default_value = "single sign-on",
        value_name = "NAME",
        requires = "oidc_issuer"
    )]
    pub oidc_name: String,
    /// Serve Prometheus metrics (`GET /metrics`, OpenMetrics text) on this address, a listener
    /// of its own in plain HTTP: keep it on loopback or a private network, never the public one
    #[arg(long, value_name = "ADDR", env = "JIT_PORTAL_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,
    /// Send every audit event to this webhook as it is committed: POSTs of JSON lines, in
    /// order, at least once (docs/protocol.md §12). https, or http to a loopback address
    #[arg(long, value_name = "URL", value_parser = audit_webhook)]
    pub audit_webhook: Option<url::Url>,
    /// A file holding the bearer token sent to --audit-webhook (else
    /// JIT_PORTAL_AUDIT_WEBHOOK_SECRET; never argv)
    #[arg(long, value_name = "PATH", requires = "audit_webhook")]
    pub audit_webhook_secret_file: Option<PathBuf>,
    /// Send every audit event to this syslog receiver as it is committed: RFC 5424, over TCP
    /// (octet-counted frames, RFC 6587) or UDP (best effort)
    #[arg(long, value_name = "tcp://HOST:PORT|udp://HOST:PORT", value_parser = audit_syslog)]
    pub audit_syslog: Option<SyslogTarget>,
    /// Send email notifications (approvals wanted, break-glass) through this mail server:
    /// smtps://[USER@]HOST[:PORT] for TLS, or smtp:// for STARTTLS (required, except to a
    /// loopback address)
    #[arg(long, value_name = "URL", value_parser = smtp_url, env = "JIT_PORTAL_SMTP_URL", requires = "mail_from")]
    pub smtp_url: Option<url::Url>,
    /// A file holding the password of --smtp-url's user (else JIT_PORTAL_SMTP_PASSWORD; never
    /// argv)
    #[arg(long, value_name = "PATH", requires = "smtp_url")]
    pub smtp_password_file: Option<PathBuf>,
    /// The From of the portal's email, e.g. "JIT portal <jit@example.com>"
    #[arg(
        long,
        value_name = "ADDR",
        env = "JIT_PORTAL_MAIL_FROM",
        requires = "smtp_url"
    )]
    pub mail_from: Option<String>,
    /// A file holding the URL of a Slack-compatible incoming webhook for chat notifications
    /// (else JIT_PORTAL_NOTIFY_WEBHOOK): the URL carries its key, so never argv. https, or http
    /// to a loopback address
    #[arg(long, value_name = "PATH")]
    pub notify_webhook_file: Option<PathBuf>,
    /// When a grant is revoked, also deny its role to the sessions its user started before
    /// then: an inline policy `jit-cut-off-USER` on the role (needs iam:PutRolePolicy on it;
    /// docs/access.md)
    #[arg(long)]
    pub cut_off_on_revoke: bool,
    /// The IAM endpoint for --cut-off-on-revoke (default: the partition's)
    #[arg(long, value_name = "URL", requires = "cut_off_on_revoke")]
    pub iam_endpoint: Option<String>,
    /// Count a single sign-on as a second factor when the id token's `amr` names one (mfa,
    /// otp, hwk, swk, fido, sms, face, fpt, iris, retina, pin); otherwise the portal asks for
    /// its own factor after the provider when the user has one or the policy requires it
    #[arg(long, requires = "oidc_issuer")]
    pub oidc_trust_amr: bool,
    /// Most connections held open at once (lowered to fit the descriptor limit); past it the
    /// longest-idle connection is closed
    #[arg(long, default_value_t = 10000, value_name = "N")]
    pub max_connections: usize,
    /// Close a connection after this many seconds without a request
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub idle_timeout: u64,
    /// A request's headers, its body and a TLS handshake must each arrive within this
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    pub header_timeout: u64,
    /// Answer 408 when a request takes longer than this
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub request_timeout: u64,
    /// Start with a demo user, tenant and token against a local moto STS, and add a `demo`
    /// environment to the jit config
    #[arg(long)]
    pub demo: bool,
    /// Name of the environment `--demo` writes (it never replaces one it did not write)
    #[arg(long, default_value = "demo", value_name = "NAME", requires = "demo")]
    pub demo_env: String,
    /// The log on stderr: `jit portal: ...` lines, or one JSON object per line (timestamp,
    /// level, message, and method, path, status, user, client and ms for a request)
    #[arg(
        long,
        value_enum,
        default_value_t = LogFormat::Text,
        value_name = "FORMAT",
        env = "JIT_PORTAL_LOG_FORMAT"
    )]
    pub log_format: LogFormat,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user (an existing one is changed with `user set`)
    Add {
        name: String,
        /// Give the user admin access
        #[arg(long)]
        admin: bool,
        /// Tenant the user belongs to (repeatable)
        #[arg(long = "tenant", value_name = "NAME")]
        tenants: Vec<String>,
        /// The address the user's notifications (access requests, decisions) go to
        #[arg(long, value_name = "ADDR")]
        email: Option<String>,
    },
    /// Change a user's admin flag, tenants or email address
    #[command(after_long_help = "Examples:
  jit portal user set alice --tenant dev01 --tenant prod01   # exactly these tenants
  jit portal user set alice --admin true
  jit portal user set alice --no-tenants
  jit portal user set alice --email alice@example.com   # where her notifications go
  jit portal user set alice --no-email")]
    Set {
        name: String,
        /// Admin access on or off
        #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set)]
        admin: Option<bool>,
        /// The tenants the user belongs to, replacing the list (repeatable)
        #[arg(long = "tenant", value_name = "NAME", conflicts_with = "no_tenants")]
        tenants: Vec<String>,
        /// Take the user out of every tenant
        #[arg(long)]
        no_tenants: bool,
        /// The address the user's notifications go to (a single sign-on with a verified
        /// `email` claim sets it too)
        #[arg(long, value_name = "ADDR", conflicts_with = "no_email")]
        email: Option<String>,
        /// Clear the user's email address: mail goes to their name if it is an address, else
        /// nowhere
        #[arg(long)]
        no_email: bool,
    },
    /// List users: name, admin or user, tenants, and the email address when one is set
    List,
    /// Remove a user and every token of theirs
    Remove { name: String },
    /// Set a user's web sign-in password, read from standard input (first line; never argv)
    #[command(after_long_help = "Examples:
  jit portal user passwd alice                  # type it, then Enter
  printf '%s\\n' \"$PW\" | jit portal user passwd alice")]
    Passwd { name: String },
    /// List a user's live web sessions (ids and times, never a cookie), or end them all
    #[command(after_long_help = "Examples:
  jit portal user sessions alice
  jit portal user sessions alice --revoke   # sign alice out everywhere")]
    Sessions {
        name: String,
        /// End every web session of the user and the CLI tokens those sessions minted
        #[arg(long)]
        revoke: bool,
    },
    /// List a user's second factors for the web sign-in, or remove them all (a lost phone)
    #[command(after_long_help = "Examples:
  jit portal user mfa alice
  jit portal user mfa alice --reset   # remove alice's factors and end her sessions")]
    Mfa {
        name: String,
        /// Remove every second factor of the user and end their web sessions (with the CLI
        /// tokens those minted); they enrol again after their next password sign-in
        #[arg(long)]
        reset: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Add a tenant (an existing one is changed with `tenant set`)
    Add {
        name: String,
        /// IAM role the tenant's users assume
        #[arg(long, value_name = "ARN")]
        role_arn: String,
        /// AWS access token validity in seconds, 900 to 43200 (default 3600; a vend is also
        /// held to the role's maximum)
        #[arg(long, value_name = "SECS")]
        validity: Option<i64>,
        /// The role's MaxSessionDuration in seconds, 900 to 43200 (default 43200)
        #[arg(long, value_name = "SECS")]
        max_session: Option<i64>,
    },
    /// Change some of a tenant's settings
    Set {
        name: String,
        /// IAM role the tenant's users assume
        #[arg(long, value_name = "ARN")]
        role_arn: Option<String>,
        /// AWS access token validity in seconds, 900 to 43200
        #[arg(long, value_name = "SECS")]
        validity: Option<i64>,
        /// The role's MaxSessionDuration in seconds, 900 to 43200
        #[arg(long, value_name = "SECS")]
        max_session: Option<i64>,
        /// The tenant's EKS cluster name (signed into its tokens as x-k8s-aws-id)
        #[arg(long, value_name = "NAME")]
        k8s_cluster: Option<String>,
        /// The cluster's API server URL
        #[arg(long, value_name = "URL")]
        k8s_server: Option<String>,
        /// The cluster's CA certificate, a PEM file
        #[arg(long, value_name = "PEM", conflicts_with = "k8s_ca")]
        k8s_ca_file: Option<std::path::PathBuf>,
        /// The cluster's CA as base64 of the PEM (kubeconfig's certificate-authority-data)
        #[arg(long, value_name = "BASE64")]
        k8s_ca: Option<String>,
        /// Drop the tenant's cluster
        #[arg(long, conflicts_with_all = ["k8s_cluster", "k8s_server", "k8s_ca_file", "k8s_ca"])]
        k8s_clear: bool,
    },
    /// List tenants
    List,
    /// Remove a tenant (its users lose access to it)
    Remove { name: String },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token for a user and print it (it is stored as a digest only)
    Create {
        user: String,
        /// Make it temporary: seconds until it expires
        #[arg(long, value_name = "SECS")]
        ttl: Option<i64>,
    },
    /// List live tokens by id (never the tokens themselves)
    List {
        /// Only this user's
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke tokens by id, or every token of a user; tokens a browser login minted from
    /// them go too. A user's web sessions stay: `user sessions NAME --revoke` ends them
    Revoke {
        #[arg(value_name = "ID", required_unless_present = "user")]
        ids: Vec<String>,
        /// Every token of this user
        #[arg(long)]
        user: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Make a local group
    Add { name: String },
    /// Remove a local group and its local members
    Remove { name: String },
    /// List groups (local, and those single sign-on named) with their members
    List,
    /// Put users in a local group, or take them out
    #[command(subcommand)]
    Member(MemberCommand),
}

#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Put a user in a local group
    Add { group: String, user: String },
    /// Take a user out of a local group
    Remove { group: String, user: String },
}

/// `eligible` and `approver`: a user, or `group:NAME`, for a target.
#[derive(Debug, Subcommand)]
pub enum RuleCommand {
    /// Add a user (or group:NAME) for a target (tenant name, tenant:NAME, admin, duplo-ops)
    #[command(after_long_help = "Examples:
  jit portal eligible add prod alice
  jit portal eligible add admin group:oncall
  jit portal approver add prod group:leads")]
    Add { target: String, member: String },
    /// Remove a user (or group:NAME) for a target
    Remove { target: String, member: String },
    /// List every rule of this kind
    List,
}

#[derive(Debug, Subcommand)]
pub enum GrantCommand {
    /// The grants that have not ended, soonest end first: id, user, target, end, request
    List,
    /// End a grant now: the next vend for it is refused
    Revoke { id: String },
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Change a target's policy (a target without one: 1 approval, 1h, reason required)
    #[command(after_long_help = "Examples:
  jit portal policy set prod --approvals 2 --max-grant 4h --ticket-required true
  jit portal policy set admin --break-glass true")]
    Set {
        target: String,
        /// Distinct approvers needed: 1 or 2
        #[arg(long, value_name = "N")]
        approvals: Option<i64>,
        /// The longest grant: seconds, or 90m, 4h (15m to 12h)
        #[arg(long, value_name = "DURATION")]
        max_grant: Option<String>,
        /// Whether a request must give a reason
        #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set)]
        reason_required: Option<bool>,
        /// Whether a request must name a ticket
        #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set)]
        ticket_required: Option<bool>,
        /// Whether a requester may approve their own request, with a reason, to be reviewed
        #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set)]
        break_glass: Option<bool>,
    },
    /// List the stored policies
    List,
}

#[derive(Debug, Args)]
pub struct SetArgs {
    /// Admin and duplo-ops JIT session length in seconds, 900 to 43200
    #[arg(long, value_name = "SECS")]
    pub admin_session: Option<i64>,
    /// IAM role behind `jit aws --admin` ('' clears it)
    #[arg(long, value_name = "ARN")]
    pub admin_role_arn: Option<String>,
    /// IAM role behind `jit aws --duplo-ops` ('' clears it)
    #[arg(long, value_name = "ARN")]
    pub ops_role_arn: Option<String>,
    /// Who must sign in to the web pages with a second factor: none, admins or all (a covered
    /// user without one enrols right after their password)
    #[arg(long, value_name = "WHO", value_parser = ["none", "admins", "all"])]
    pub require_mfa: Option<String>,
    /// Whether admin-scope vends (admin, duplo-ops, a plan's cluster) need a session or login
    /// token whose sign-in used a second factor
    #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set)]
    pub admin_vends_need_mfa: Option<bool>,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only entries about this user
    #[arg(long)]
    pub user: Option<String>,
    /// Only entries of this event (login, vend, tenant set, user add, settings, ...)
    #[arg(long)]
    pub event: Option<String>,
    /// Only entries from then on: an RFC 3339 time, or an age such as 90s, 30m, 12h, 7d
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// At most this many entries (the newest)
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub limit: i64,
    /// One JSON object per line
    #[arg(long)]
    pub json: bool,
    /// Keep printing entries as they are committed (through any replica or command), until
    /// interrupted
    #[arg(long, short = 'f')]
    pub follow: bool,
}
