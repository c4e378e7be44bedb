//! Every clap type lives here so the whole command-line surface can be read in one place.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use jiff::SignedDuration;

use crate::model::CacheMode;

#[derive(Debug, Parser)]
#[command(
    name = "jit",
    version,
    about = "Just-in-time, short-lived AWS credentials from your access portal",
    propagate_version = true,
    after_long_help = "Examples:
  jit aws --tenant dev01 --host https://portal.example.com --interactive
  jit exec prod -- aws sts get-caller-identity
  eval \"$(jit init zsh)\" && jitnow prod"
)]
pub struct Cli {
    /// Log requests and cache decisions to stderr (never secrets)
    #[arg(short, long, global = true, alias = "debug")]
    pub verbose: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Aws(AwsArgs),
    Duplo(DuploArgs),
    Exec(ExecArgs),
    Env(EnvArgs),
    Console(ConsoleArgs),
    Ls(LsArgs),
    Config(ConfigArgs),
    Init(InitArgs),
    Completions(CompletionsArgs),
    Portal(PortalArgs),
    #[command(name = "clear-cache")]
    ClearCache(ClearCacheArgs),
    /// Print the version
    Version,
}

/// How to reach the portal: where it is and how to authenticate to it.
#[derive(Debug, Clone, Default, Args)]
pub struct ConnArgs {
    /// Portal UI URL (https://, or http:// for loopback only); also the cache key
    #[arg(long, value_name = "URL")]
    pub host: Option<String>,

    /// Portal API URL when it differs from --host
    #[arg(long, value_name = "URL")]
    pub api_host: Option<String>,

    /// Portal API token (prefer JIT_TOKEN or --token-file: argv is visible to other users)
    #[arg(long, value_name = "TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// Read the portal API token from this file
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,

    /// Log in through the portal in a browser when no token is given
    #[arg(long)]
    pub interactive: bool,

    /// Loopback port for the interactive login callback (default: random)
    #[arg(long, value_name = "N")]
    pub port: Option<u16>,

    /// Print the login URL to stderr instead of opening a browser
    #[arg(long)]
    pub no_browser: bool,
}

/// Which credentials to ask the portal for.
#[derive(Debug, Clone, Default, Args)]
#[group(id = "scope", multiple = true)]
pub struct ScopeArgs {
    /// Admin credentials (wins over --duplo-ops and --tenant, as in duplo-jit)
    #[arg(long)]
    pub admin: bool,

    /// Operations credentials (duplo-ops)
    #[arg(long)]
    pub duplo_ops: bool,

    /// Tenant credentials: a tenant name, or an id (32 characters or more)
    #[arg(long, value_name = "NAME|ID")]
    pub tenant: Option<String>,
}

/// Env names for shell completion: local files only, never the network.
fn complete_env(current: &std::ffi::OsStr) -> Vec<clap_complete::CompletionCandidate> {
    let prefix = current.to_string_lossy();
    crate::config::names()
        .into_iter()
        .filter(|(name, _)| name.starts_with(prefix.as_ref()))
        .map(|(name, help)| clap_complete::CompletionCandidate::new(name).help(Some(help.into())))
        .collect()
}

#[derive(Debug, Clone, Copy, Default, Args)]
pub struct CacheArgs {
    /// Neither read nor write the cache
    #[arg(long, conflicts_with = "refresh")]
    pub no_cache: bool,

    /// Fetch new credentials and write them to the cache
    #[arg(long)]
    pub refresh: bool,
}

impl CacheArgs {
    pub fn mode(self) -> CacheMode {
        if self.no_cache {
            CacheMode::Bypass
        } else if self.refresh {
            CacheMode::Refresh
        } else {
            CacheMode::Use
        }
    }
}

/// Print AWS credential_process JSON (drop-in for duplo-jit)
#[derive(Debug, Args)]
#[command(after_long_help = "Example ~/.aws/config profile:
  [profile dev]
  credential_process = jit aws --tenant dev01 --host https://portal.example.com --interactive")]
pub struct AwsArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub cache: CacheArgs,
    #[arg(long, value_name = "DURATION", value_parser = crate::duration::parse, help = MIN_TTL_HELP)]
    pub min_ttl: Option<SignedDuration>,
}

const MIN_TTL_HELP: &str = "Fetch anew unless this much is left (45m, 2h, 900s); fail before running anything if the portal gives less";

/// Print the portal token as JSON after checking it with the portal (drop-in for `duplo-jit duplo`)
#[derive(Debug, Args)]
pub struct DuploArgs {
    /// Accepted for compatibility: the login is always an admin login, as in duplo-jit
    #[arg(long)]
    pub admin: bool,
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub cache: CacheArgs,
}

/// Pick credentials by environment name, or by portal flags as `jit aws` takes them.
#[derive(Debug, Clone, Args)]
pub struct EnvSelect {
    /// Environment name from the config file (or a ~/.aws/config profile that runs jit)
    #[arg(value_name = "ENV", required_unless_present = "host", add = clap_complete::engine::ArgValueCompleter::new(complete_env))]
    pub env: Option<String>,
    #[command(flatten)]
    pub scope: ScopeArgs,
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub cache: CacheArgs,
}

/// Run a command with fresh AWS credentials in its environment
#[derive(Debug, Args)]
#[command(after_long_help = "Examples:
  jit exec prod -- aws s3 ls
  jit exec dev -- terraform plan -out plan.bin
  jit exec --server prod -- terraform apply   # runs past the session's end: the SDKs renew
  jit exec --min-ttl 2h prod -- ./long-job    # at least two hours, or fail before starting
  jit exec prod                      # a shell ($SHELL) with the credentials

With --server (or `server = true` in the environment) jit stays the parent: it serves the AWS
container-credentials endpoint on 127.0.0.1 (AWS_CONTAINER_CREDENTIALS_FULL_URI with a per-run
AWS_CONTAINER_AUTHORIZATION_TOKEN) instead of putting keys in the environment, renews the
credentials through the cache, and returns the child's exit code (128 + signal).")]
pub struct ExecArgs {
    #[command(flatten)]
    pub select: EnvSelect,

    /// Run even inside another jit environment (JIT_ENV is set)
    #[arg(long)]
    pub force: bool,

    /// Serve credentials to the child on loopback, renewed as they near expiry, instead of
    /// putting static keys in its environment
    #[arg(long, conflicts_with = "no_server")]
    pub server: bool,

    /// Static keys in the environment even when the environment says `server = true`
    #[arg(long)]
    pub no_server: bool,

    #[arg(long, value_name = "DURATION", value_parser = crate::duration::parse, help = MIN_TTL_HELP)]
    pub min_ttl: Option<SignedDuration>,

    /// The command and its arguments, passed on unchanged (default: $SHELL)
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EnvFormat {
    Json,
    Sh,
    Fish,
    Powershell,
}

/// Print the environment variables that `jit exec` would set
#[derive(Debug, Args)]
pub struct EnvArgs {
    #[command(flatten)]
    pub select: EnvSelect,

    /// Output format
    #[arg(long, short, value_enum, default_value = "json")]
    pub format: EnvFormat,

    #[arg(long, value_name = "DURATION", value_parser = crate::duration::parse, help = MIN_TTL_HELP)]
    pub min_ttl: Option<SignedDuration>,
}

/// Print or open the AWS console sign-in URL
#[derive(Debug, Args)]
pub struct ConsoleArgs {
    #[command(flatten)]
    pub select: EnvSelect,

    /// Print the URL to stdout (default when no browser can be opened)
    #[arg(long, conflicts_with = "open")]
    pub print: bool,

    /// Open the URL in a browser
    #[arg(long)]
    pub open: bool,

    /// Console page to land on, e.g. https://us-east-1.console.aws.amazon.com/ec2/home
    #[arg(long, value_name = "URL")]
    pub destination: Option<String>,
}

/// List cached sessions and the time they have left
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

/// Manage named environments
#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Add or replace an environment
    Add(ConfigAddArgs),
    /// List environments
    List,
    /// Remove an environment
    Remove {
        /// Environment name
        name: String,
    },
    /// Print the config file path
    Path,
}

#[derive(Debug, Args)]
pub struct ConfigAddArgs {
    /// Environment name
    pub name: String,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Portal UI URL
    #[arg(long, value_name = "URL")]
    pub host: String,
    /// Portal API URL when it differs from --host
    #[arg(long, value_name = "URL")]
    pub api_host: Option<String>,
    /// Log in through the browser (the default when no token source is given)
    #[arg(long, conflicts_with_all = ["token_file", "token_env"])]
    pub interactive: bool,
    /// Read the portal token from this file
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// Read the portal token from this environment variable
    #[arg(long, value_name = "VAR")]
    pub token_env: Option<String>,
    /// AWS region to use instead of the portal's
    #[arg(long)]
    pub region: Option<String>,
    /// Export AWS_ENDPOINT_URL (LocalStack, moto, a private endpoint)
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// `jit exec` serves renewing credentials on loopback (as `jit exec --server`)
    #[arg(long)]
    pub server: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

/// Print the shell hook: `jitnow`, `jitoff` and a prompt indicator
#[derive(Debug, Args)]
#[command(after_long_help = "Setup:
  bash:        eval \"$(jit init bash)\"         in ~/.bashrc
  zsh:         eval \"$(jit init zsh)\"          in ~/.zshrc
  fish:        jit init fish | source          in ~/.config/fish/config.fish
  PowerShell:  Invoke-Expression (& jit init powershell | Out-String)   in $PROFILE")]
pub struct InitArgs {
    #[arg(value_enum)]
    pub shell: Shell,

    /// Do not add the remaining-time indicator to the prompt
    #[arg(long)]
    pub no_prompt: bool,
}

/// Print shell completions
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Delete cached credentials and tokens: every one, or one environment's credentials
#[derive(Debug, Args)]
pub struct ClearCacheArgs {
    /// Only this environment's credentials (from the config file or ~/.aws/config)
    #[arg(value_name = "ENV", add = clap_complete::engine::ArgValueCompleter::new(complete_env))]
    pub env: Option<String>,
}

/// Run or administer a self-hosted access portal (same API as the commercial one)
#[derive(Debug, Args)]
#[command(after_long_help = "Examples:
  jit portal serve --demo                       # demo user, tenant and token against local moto STS
  jit portal tenant add dev01 --role-arn arn:aws:iam::111111111111:role/dev01 --validity 7200
  jit portal user add alice --tenant dev01
  jit portal token create alice                 # prints a permanent API token
  AWS_PROFILE=portal jit portal serve --listen 127.0.0.1:8480")]
pub struct PortalArgs {
    /// Portal state file (default: <XDG data dir>/jit/portal.toml)
    #[arg(long, global = true, value_name = "PATH")]
    pub state: Option<PathBuf>,

    #[command(subcommand)]
    pub command: PortalCommand,
}

#[derive(Debug, Subcommand)]
pub enum PortalCommand {
    /// Serve the portal API and browser login page
    Serve(ServeArgs),
    /// Manage portal users
    #[command(subcommand)]
    User(PortalUserCommand),
    /// Manage tenants (each maps to an IAM role)
    #[command(subcommand)]
    Tenant(PortalTenantCommand),
    /// Manage API tokens
    #[command(subcommand)]
    Token(PortalTokenCommand),
    /// Change system-wide settings
    Set(PortalSetArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (loopback by default; put TLS in front for anything else)
    #[arg(long, default_value = "127.0.0.1:8480", value_name = "ADDR")]
    pub listen: String,
    /// STS endpoint for AssumeRole (the portal signs with its own AWS_* credentials)
    #[arg(long, value_name = "URL")]
    pub sts_endpoint: Option<String>,
    /// AWS federation endpoint used to build ConsoleUrl
    #[arg(
        long,
        default_value = "https://signin.aws.amazon.com/federation",
        value_name = "URL"
    )]
    pub signin_url: String,
    /// Region reported with credentials and used to sign STS calls
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// Start with a demo user, tenant and token against a local moto STS, and add a `demo`
    /// environment to the jit config
    #[arg(long)]
    pub demo: bool,
    /// Name of the environment `--demo` writes (it never replaces one it did not write)
    #[arg(long, default_value = "demo", value_name = "NAME", requires = "demo")]
    pub demo_env: String,
}

#[derive(Debug, Subcommand)]
pub enum PortalUserCommand {
    /// Add or update a user
    Add {
        name: String,
        /// Give the user admin access
        #[arg(long)]
        admin: bool,
        /// Tenant the user belongs to (repeatable)
        #[arg(long = "tenant", value_name = "NAME")]
        tenants: Vec<String>,
    },
    /// List users
    List,
}

#[derive(Debug, Subcommand)]
pub enum PortalTenantCommand {
    /// Add or update a tenant
    Add {
        name: String,
        /// IAM role the tenant's users assume
        #[arg(long, value_name = "ARN")]
        role_arn: String,
        /// AWS access token validity in seconds (clamped to 900..the role's maximum)
        #[arg(long, value_name = "SECS")]
        validity: Option<i64>,
        /// The role's MaxSessionDuration in seconds (default 43200)
        #[arg(long, value_name = "SECS")]
        max_session: Option<i64>,
    },
    /// List tenants
    List,
}

#[derive(Debug, Subcommand)]
pub enum PortalTokenCommand {
    /// Create an API token for a user and print it (it is stored hashed)
    Create {
        user: String,
        /// Make it temporary: seconds until it expires
        #[arg(long, value_name = "SECS")]
        ttl: Option<i64>,
    },
}

#[derive(Debug, Args)]
pub struct PortalSetArgs {
    /// Admin and duplo-ops JIT session length in seconds (clamped to 900..43200)
    #[arg(long, value_name = "SECS")]
    pub admin_session: Option<i64>,
    /// IAM role behind `jit aws --admin`
    #[arg(long, value_name = "ARN")]
    pub admin_role_arn: Option<String>,
    /// IAM role behind `jit aws --duplo-ops`
    #[arg(long, value_name = "ARN")]
    pub ops_role_arn: Option<String>,
}
