//! Every clap type lives here so the whole command-line surface can be read in one place.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::builder::PossibleValue;
use clap::{Args, Parser, Subcommand, ValueEnum};
use jiff::SignedDuration;

use crate::model::CacheMode;
use crate::shell::Shell;

#[derive(Debug, Parser)]
#[command(
    name = "jit",
    version = crate::VERSION,
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
    K8s(K8sArgs),
    Kubeconfig(KubeconfigArgs),
    Exec(ExecArgs),
    Env(EnvArgs),
    Console(ConsoleArgs),
    Ls(LsArgs),
    Config(ConfigArgs),
    Init(InitArgs),
    Completions(CompletionsArgs),
    Portal(PortalArgs),
    Login(LoginArgs),
    Request(RequestArgs),
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

    /// Log in through the portal in a browser when no token is given; only the portal's page
    /// can hand the token over (JIT_LOGIN_TIMEOUT seconds, default 180)
    #[arg(long)]
    pub interactive: bool,

    /// Loopback port for the interactive login callback (default: random)
    #[arg(long, value_name = "N")]
    pub port: Option<u16>,

    /// Print the login URL to stderr (and the terminal, when stderr is captured) instead of
    /// opening a browser
    #[arg(long)]
    pub no_browser: bool,

    /// Log in on another device: print a short URL and a code to approve in any browser, and
    /// open no listening socket (the default for --interactive over SSH with no DISPLAY or
    /// BROWSER, when the portal offers it)
    #[arg(long)]
    pub device: bool,
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

/// Log in to the portal now and cache its token (what --interactive does when it needs one)
#[derive(Debug, Args)]
#[command(after_long_help = "Examples:
  jit login prod                      # the browser login; --admin for an admin login
  jit login prod --device             # over SSH or in a container: a URL and a code to approve
                                      # on any device; nothing listens on this machine
  jit login --host https://portal.example.com --device

The token replaces the cached one for the portal, as an --interactive login would leave it.
Over SSH with no DISPLAY or BROWSER, --interactive logs in on another device by itself when the
portal offers it (`jit portal` does).")]
pub struct LoginArgs {
    /// Environment name from the config file (its portal, and whether it is an admin one)
    #[arg(value_name = "ENV", required_unless_present = "host", add = clap_complete::engine::ArgValueCompleter::new(complete_env))]
    pub env: Option<String>,
    /// Ask for admin access (an admin login serves every scope)
    #[arg(long)]
    pub admin: bool,
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// Ask a `jit portal` for access you are eligible for; an approver decides
#[derive(Debug, Args)]
#[command(after_long_help = "Examples:
  jit request prod --for 1h --reason \"incident 4242\" --wait   # ENV names from the config
  jit request prod staging --for 2h --reason \"release\" --ticket CHG-17
  jit request --host https://portal.example.com admin --for 30m --reason \"db failover\"
  jit request prod --for 1h --reason \"pager: site down\" --break-glass

Prints the request id on stdout (with --wait, once approved). With --wait, waits for the
decision: exits 0 once approved, non-zero when denied, withdrawn or expired. Until then `jit aws` and `jit exec` for the target
say which request they wait for.")]
pub struct RequestArgs {
    /// What to ask for: environment names from the config file; with --host, tenant names,
    /// tenant:NAME, admin or duplo-ops
    #[arg(value_name = "TARGET", required = true, add = clap_complete::engine::ArgValueCompleter::new(complete_env))]
    pub targets: Vec<String>,
    /// How long the access should last once approved (15m to the policy's longest)
    #[arg(long = "for", value_name = "DURATION", value_parser = crate::duration::parse)]
    pub duration: SignedDuration,
    /// Why you need it (most policies require one)
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// A change or incident ticket, where the policy asks for one
    #[arg(long, value_name = "ID")]
    pub ticket: Option<String>,
    /// Wait for the decision; exit 0 once approved
    #[arg(long)]
    pub wait: bool,
    /// Approve it yourself at once, where the policy allows break-glass (a reason is required;
    /// approvers review it afterwards)
    #[arg(long)]
    pub break_glass: bool,
    #[command(flatten)]
    pub conn: ConnArgs,
}

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

/// Print a kubectl ExecCredential (drop-in for `duplo-jit k8s`, the exec credential plugin)
#[derive(Debug, Args)]
#[command(
    after_long_help = "Example kubeconfig user (or let `jit kubeconfig ENV` write it):
  users:
  - name: dev01
    user:
      exec:
        apiVersion: client.authentication.k8s.io/v1beta1
        command: jit
        args: [k8s, --tenant, dev01, --host, https://portal.example.com, --interactive]
        interactiveMode: IfAvailable"
)]
pub struct K8sArgs {
    /// The cluster of this plan (an admin login; wins over --tenant, as in duplo-jit)
    #[arg(long, value_name = "ID")]
    pub plan: Option<String>,
    /// The cluster of this tenant: a name, or an id (32 characters or more)
    #[arg(long, value_name = "NAME|ID")]
    pub tenant: Option<String>,
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub cache: CacheArgs,
}

/// Add a kubectl context for an environment, whose user runs `jit k8s`
#[derive(Debug, Args)]
#[command(after_long_help = "Examples:
  jit kubeconfig dev                  # merge into $KUBECONFIG or ~/.kube/config; other entries kept
  jit kubeconfig ops --plan default   # an admin environment names the plan of its cluster
  jit kubeconfig dev --print          # a kubeconfig with just this context, on stdout

The context runs this jit by its absolute path (as found on PATH, else as running), so GUIs
started outside a shell (Lens, k9s from a launcher, kubeterm) find it too; --bare-command writes
`command: jit` instead.")]
pub struct KubeconfigArgs {
    /// Environment name (a tenant environment, or an admin one with --plan)
    #[arg(value_name = "ENV", add = clap_complete::engine::ArgValueCompleter::new(complete_env))]
    pub env: String,
    /// Context (and cluster and user) name (default: the environment's)
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// The plan whose cluster an admin environment means
    #[arg(long, value_name = "ID")]
    pub plan: Option<String>,
    /// Print a kubeconfig with this context instead of writing
    #[arg(long)]
    pub print: bool,
    /// The kubeconfig to write (default: the first of $KUBECONFIG, else ~/.kube/config)
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// Write `command: jit`, for kubectl to find on its PATH, instead of the absolute path of
    /// this jit (which Kubernetes GUIs started outside a shell need); for binaries that move
    #[arg(long)]
    pub bare_command: bool,
}

/// Pick credentials by environment name, or by portal flags as `jit aws` takes them.
#[derive(Debug, Clone, Default, Args)]
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

/// A shell named on the command line (`jit init`, `jit completions`): clap's spelling of the
/// contract's [`Shell`], which knows nothing of clap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShellArg(pub Shell);

impl ValueEnum for ShellArg {
    fn value_variants<'a>() -> &'a [Self] {
        &[
            ShellArg(Shell::Bash),
            ShellArg(Shell::Zsh),
            ShellArg(Shell::Fish),
            ShellArg(Shell::Powershell),
        ]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.0.name()))
    }
}

/// How an environment's console opens (`jit config add --console`): clap's spelling of
/// [`crate::config::ConsoleMode`], which knows nothing of clap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsoleModeArg(pub crate::config::ConsoleMode);

impl ValueEnum for ConsoleModeArg {
    fn value_variants<'a>() -> &'a [Self] {
        use crate::config::ConsoleMode;
        &[
            ConsoleModeArg(ConsoleMode::Container),
            ConsoleModeArg(ConsoleMode::Profile),
            ConsoleModeArg(ConsoleMode::Default),
        ]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        use crate::config::ConsoleMode;
        Some(match self.0 {
            ConsoleMode::Container => PossibleValue::new("container")
                .help("a Firefox container named after the environment"),
            ConsoleMode::Profile => {
                PossibleValue::new("profile").help("a Chromium profile of the environment's own")
            }
            ConsoleMode::Default => PossibleValue::new("default").help("the default browser"),
        })
    }
}

/// What `jit env` prints: JSON, or code for a shell to evaluate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvFormat {
    Json,
    Shell(Shell),
}

/// By hand, to keep the values `jit env` has always taken: `sh` is the POSIX syntax that bash
/// and zsh (and dash) evaluate.
impl ValueEnum for EnvFormat {
    fn value_variants<'a>() -> &'a [Self] {
        &[
            EnvFormat::Json,
            EnvFormat::Shell(Shell::Bash),
            EnvFormat::Shell(Shell::Fish),
            EnvFormat::Shell(Shell::Powershell),
        ]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(match self {
            EnvFormat::Json => PossibleValue::new("json").help("the variables set, as one object"),
            EnvFormat::Shell(Shell::Bash | Shell::Zsh) => {
                PossibleValue::new("sh").help("export/unset for bash, zsh and sh")
            }
            EnvFormat::Shell(Shell::Fish) => PossibleValue::new("fish"),
            EnvFormat::Shell(Shell::Powershell) => PossibleValue::new("powershell"),
        })
    }
}

/// Print the variables `jit exec` would set, as JSON or as code for a shell
#[derive(Debug, Args)]
#[command(
    after_long_help = "The shell formats also unset every variable jit manages that this
environment does not set (AWS_REGION when there is no region, JIT_ENDPOINT_URL when there is no
endpoint, AWS_PROFILE and the other credential sources), so switching environments leaves
nothing of the last one. AWS_ENDPOINT_URL is unset only while it equals JIT_ENDPOINT_URL, the
value jit set: an endpoint of your own is kept. The access key id, region and endpoint URL are
checked first; every value is quoted for the shell.

Examples:
  eval \"$(jit env prod --format sh)\"
  jit env prod --format fish | source
  jit env prod --format powershell | Out-String | Invoke-Expression"
)]
pub struct EnvArgs {
    #[command(flatten)]
    pub select: EnvSelect,

    /// Output format
    #[arg(long, short, value_enum, default_value = "json")]
    pub format: EnvFormat,

    #[arg(long, value_name = "DURATION", value_parser = crate::duration::parse, help = MIN_TTL_HELP)]
    pub min_ttl: Option<SignedDuration>,
}

/// Open, print or copy the AWS console sign-in URL
///
/// The URL signs in whoever has it until it expires, so it never goes on a command line:
/// the browser gets a private local page that redirects to it, a clipboard tool gets it on
/// stdin.
#[derive(Debug, Args)]
#[command(after_long_help = "Examples:
  jit console prod                   # opens a browser when stdout is a terminal, else prints
  jit console prod --copy            # paste it into the browser profile you want
  jit console prod --destination https://us-east-1.console.aws.amazon.com/ec2/home
  jit console prod staging dev --container     # each in its own Firefox container
  jit console prod staging --browser-profile   # each in its own Chromium profile

A browser holds one console session per profile: signing in to a second account signs the
first out. --container opens the console in a Firefox container named after the environment,
through the \"Open external links in a container\" extension (ext+container: URLs); the page it
opens is a one-time loopback address, never the sign-in URL. --browser-profile runs the first
Chromium-family browser on PATH with its own profile under <data dir>/jit/browser-profiles/ENV,
given the path of a private page. `console = \"container\"|\"profile\"|\"default\"` in an
environment makes either the default; container_color, container_icon and browser set the rest.
Several environments are fetched in parallel; one that fails is reported and the others open.")]
pub struct ConsoleArgs {
    #[command(flatten)]
    pub select: EnvSelect,

    /// More environments, each opened in its own container or profile
    #[arg(value_name = "ENV", conflicts_with_all = ["print", "copy", "destination"])]
    pub more: Vec<String>,

    /// Open in a Firefox container named after the environment
    #[arg(long, conflicts_with_all = ["print", "copy", "browser_profile"])]
    pub container: bool,

    /// Open in a Chromium-family browser with a profile of the environment's own
    #[arg(long, conflicts_with_all = ["print", "copy"])]
    pub browser_profile: bool,

    /// Print the URL to stdout (default when stdout is not a terminal, and when no browser can
    /// be opened)
    #[arg(long, conflicts_with_all = ["open", "copy"])]
    pub print: bool,

    /// Open the URL in a browser (default when stdout is a terminal)
    #[arg(long, conflicts_with = "copy")]
    pub open: bool,

    /// Put the URL on the clipboard: pbcopy, wl-copy, xclip, xsel or clip.exe, whichever works,
    /// else the terminal's OSC 52 escape
    #[arg(long)]
    pub copy: bool,

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
    List {
        /// Every environment's settings as one JSON object keyed by name, as config.toml
        /// holds them
        #[arg(long)]
        json: bool,
    },
    /// Remove an environment
    Remove {
        /// Environment name
        name: String,
    },
    /// Print the config file path
    Path,
    /// Write one environment per tenant the portal lets you use (and an admin one with --admin)
    Sync(ConfigSyncArgs),
}

#[derive(Debug, Args)]
#[command(after_long_help = "Examples:
  jit config sync --host https://portal.example.com --interactive
  jit config sync --host https://portal.example.com --token-file ~/.portal-token --aws-config --kubeconfig
  jit config sync --host https://portal.example.com --interactive --dry-run

Running it again updates only what it wrote: environments, profiles and contexts of your own with
the same names are kept as they are, and entries it wrote for tenants you lost are removed.")]
pub struct ConfigSyncArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Also write an `admin` environment (admin credentials)
    #[arg(long)]
    pub admin: bool,
    /// Also write `[profile NAME]` sections whose credential_process runs jit to ~/.aws/config
    #[arg(long)]
    pub aws_config: bool,
    /// Also write a kubectl context per tenant (as `jit kubeconfig`)
    #[arg(long)]
    pub kubeconfig: bool,
    /// Show what would change (on stdout) and change nothing
    #[arg(long)]
    pub dry_run: bool,
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
    /// How `jit console` opens this environment
    #[arg(long, value_name = "MODE")]
    pub console: Option<ConsoleModeArg>,
    /// The Firefox container's colour (`--console container`)
    #[arg(long, value_name = "COLOR", value_parser = clap::builder::PossibleValuesParser::new(crate::config::COLORS))]
    pub container_color: Option<String>,
    /// The Firefox container's icon (`--console container`)
    #[arg(long, value_name = "ICON", value_parser = clap::builder::PossibleValuesParser::new(crate::config::ICONS))]
    pub container_icon: Option<String>,
    /// The browser for the console: a name on PATH or a path (default firefox for a container,
    /// the first Chromium-family browser on PATH for a profile)
    #[arg(long, value_name = "PROGRAM")]
    pub browser: Option<String>,
}

/// Print the shell hook: `jitnow`, `jitoff` and a prompt indicator
#[derive(Debug, Args)]
#[command(after_long_help = "Setup:
  bash:        eval \"$(jit init bash)\"         in ~/.bashrc
  zsh:         eval \"$(jit init zsh)\"          in ~/.zshrc
  fish:        jit init fish | source          in ~/.config/fish/config.fish
  PowerShell:  Invoke-Expression (& jit init powershell | Out-String)   in $PROFILE

`jitnow [--console] [--no-cache] [--refresh] ENV` puts ENV's credentials in the shell and unsets
whatever jit manages that ENV does not set; `jitoff` clears them. Both return 0 on success and
non-zero on failure (`jitnow prod && deploy`); a failed `jitnow` changes nothing.
The prompt shows [prod 42m], [prod 4m!] under ten minutes, [prod 45s!] in the last minute and
[prod expired], from JIT_EXPIRES and the shell's own clock (JIT_PROMPT=0 hides it). Credentials
from an access grant are marked: [prod 42m grant]. With renewal on (JIT_AUTO_RENEW=1 or
`jitnow --renew`) the count is the grant's (JIT_GRANT_END); with it off, the credentials'.")]
pub struct InitArgs {
    #[arg(value_enum)]
    pub shell: ShellArg,

    /// Do not add the remaining-time indicator to the prompt
    #[arg(long)]
    pub no_prompt: bool,
}

/// Print shell completions
#[derive(Debug, Args)]
#[command(
    after_long_help = "Where they load without further setup (install.sh puts them there):
  bash:  ${XDG_DATA_HOME:-~/.local/share}/bash-completion/completions/jit   (with bash-completion)
  zsh:   _jit in a directory on $fpath, before compinit runs
  fish:  ~/.config/fish/completions/jit.fish"
)]
pub struct CompletionsArgs {
    #[arg(value_enum)]
    pub shell: ShellArg,
}

/// Delete cached credentials and tokens: every one, or one environment's credentials
#[derive(Debug, Args)]
pub struct ClearCacheArgs {
    /// Only this environment's credentials (from the config file or ~/.aws/config)
    #[arg(value_name = "ENV", add = clap_complete::engine::ArgValueCompleter::new(complete_env))]
    pub env: Option<String>,
}

/// Run or administer a self-hosted access portal (runs `jit-portal`; see `jit portal --help`)
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct PortalArgs {
    /// Arguments for `jit-portal`, passed on unchanged
    #[arg(
        allow_hyphen_values = true,
        trailing_var_arg = true,
        value_name = "ARGS"
    )]
    pub args: Vec<OsString>,
}
