//! Named environments: `jit exec prod` reads `prod` from `<XDG config>/jit/config.toml`, or from
//! a `[profile prod]` in `~/.aws/config` whose credential_process already runs jit or duplo-jit.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};

use crate::model::Scope;

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default, rename = "env", skip_serializing_if = "BTreeMap::is_empty")]
    pub envs: BTreeMap<String, EnvConfig>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EnvConfig {
    pub host: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_host: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub admin: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub duplo_ops: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// How the environment logs in; absent means a browser login unless a token source is named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Exported as AWS_ENDPOINT_URL, for LocalStack, moto or a private endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
    /// The portal `jit config sync` wrote this environment from; a sync changes only these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synced_from: Option<String>,
    /// `jit exec` serves credentials on loopback that the child's SDKs renew (`--server`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub server: bool,
    /// How `jit console` opens this environment: `container`, `profile` or `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console: Option<ConsoleMode>,
    /// The Firefox container's colour and icon (`console = "container"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_color: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_icon: Option<String>,
    /// The browser for a container (default firefox) or a profile (default the first Chromium
    /// on PATH): a name on PATH or a path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser: Option<String>,
}

/// Container colours and icons the extension (and Firefox) know.
pub const COLORS: &[&str] = &[
    "blue",
    "turquoise",
    "green",
    "yellow",
    "orange",
    "red",
    "pink",
    "purple",
];
pub const ICONS: &[&str] = &[
    "fingerprint",
    "briefcase",
    "dollar",
    "cart",
    "circle",
    "gift",
    "vacation",
    "food",
    "fruit",
    "pet",
    "tree",
    "chill",
    "fence",
];
/// How an environment's console opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsoleMode {
    /// The default browser, as `--open` does.
    Default,
    /// A Firefox container named after the environment.
    Container,
    /// A Chromium profile of the environment's own.
    Profile,
}

/// `auth = "interactive"` (a browser login) or `"token"` (from `token_file`, `token_env`,
/// `JIT_TOKEN` or `DUPLO_TOKEN`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    Interactive,
    Token,
}

impl EnvConfig {
    /// Browser login unless the environment names a token source.
    pub fn interactive(&self) -> bool {
        self.auth == Some(AuthMode::Interactive)
            || (self.auth.is_none() && self.token_file.is_none() && self.token_env.is_none())
    }

    /// What the environment fetches. The file spells it as three keys (`admin`, `duplo_ops`,
    /// `tenant`), as duplo-jit's flags do; `validate` wants exactly one, and should a file set
    /// more, duplo-jit's precedence picks: admin, then duplo-ops, then the tenant.
    pub fn scope(&self) -> Option<Scope> {
        match (self.admin, self.duplo_ops, &self.tenant) {
            (true, _, _) => Some(Scope::Admin),
            (_, true, _) => Some(Scope::DuploOps),
            (_, _, Some(t)) => Some(Scope::Tenant(t.trim().to_string())),
            (false, false, None) => None,
        }
    }

    /// The three keys for `scope`.
    pub fn set_scope(&mut self, scope: &Scope) {
        self.admin = *scope == Scope::Admin;
        self.duplo_ops = *scope == Scope::DuploOps;
        self.tenant = match scope {
            Scope::Tenant(t) => Some(t.clone()),
            _ => None,
        };
    }

    pub fn validate(&self, name: &str) -> Result<()> {
        let scopes = [self.admin, self.duplo_ops, self.tenant.is_some()]
            .iter()
            .filter(|b| **b)
            .count();
        if scopes != 1 {
            bail!(
                "environment '{name}': set exactly one of admin = true, duplo_ops = true or tenant = \"NAME\""
            );
        }
        crate::host::Host::parse(&self.host).with_context(|| format!("environment '{name}'"))?;
        if let Some(c) = &self.container_color
            && !COLORS.contains(&c.as_str())
        {
            bail!(
                "environment '{name}': container_color must be one of {}",
                COLORS.join(", ")
            );
        }
        if let Some(i) = &self.container_icon
            && !ICONS.contains(&i.as_str())
        {
            bail!(
                "environment '{name}': container_icon must be one of {}",
                ICONS.join(", ")
            );
        }
        if self.browser.as_deref().is_some_and(|b| b.trim().is_empty()) {
            bail!("environment '{name}': browser must name a program (or be left out)");
        }
        Ok(())
    }
}

/// Names end up in shell variables, prompts and file names: letters, digits, `.`, `_` and `-`,
/// starting with a letter or digit, at most 64 characters.
pub fn check_name(name: &str) -> Result<()> {
    let ok = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !ok {
        bail!(
            "invalid environment name {name:?}: use letters, digits, '.', '_' and '-', starting with a letter or digit (64 at most)"
        );
    }
    Ok(())
}

pub fn path() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("JIT_CONFIG").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    dirs::config_dir()
        .map(|d| d.join("jit").join("config.toml"))
        .ok_or_else(|| anyhow!("cannot find a config directory (set JIT_CONFIG)"))
}

pub fn load() -> Result<Config> {
    load_from(&path()?)
}

fn load_from(path: &Path) -> Result<Config> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read config file {}", path.display()));
        }
    };
    // The config says where our token goes: another user's file or dir is not obeyed.
    check_dir(path)?;
    file.metadata()
        .and_then(|meta| crate::trust::owned_or_root(&meta))
        .with_context(|| format!("config file {}", path.display()))?;
    let text = crate::limit::read(&file)
        .and_then(|bytes| {
            String::from_utf8(bytes).map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, "not valid UTF-8")
            })
        })
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text)
        .map_err(|e| anyhow!("invalid config file {}: {}", path.display(), e.message()))
}

/// The dir of the config file must be ours (or root's), else whoever owns it could swap the file.
fn check_dir(path: &Path) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::metadata(dir)
        .and_then(|meta| crate::trust::owned_or_root(&meta))
        .with_context(|| format!("config dir {}", dir.display()))
}

pub fn save(config: &Config) -> Result<PathBuf> {
    let path = path()?;
    let dir = path.parent().context("config path has no directory")?;
    crate::trust::private_dir(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    check_dir(&path)?;
    crate::atomic::write(&path, toml::to_string_pretty(config)?.as_bytes())?;
    Ok(path)
}

/// What a name stands for: an environment of ours, or an `~/.aws/config` profile whose
/// credential_process runs jit or duplo-jit (its words, for `cmd/` to parse as flags).
pub enum Found {
    Env(EnvConfig),
    Profile(AwsProfile),
}

pub struct AwsProfile {
    pub path: PathBuf,
    pub words: Vec<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

pub fn resolve(name: &str) -> Result<Found> {
    let config = load()?;
    if let Some(env) = config.envs.get(name) {
        env.validate(name)?;
        return Ok(Found::Env(env.clone()));
    }
    if let Some(found) = from_aws_profile(name)? {
        return Ok(Found::Profile(found));
    }
    let suggestion = config
        .envs
        .keys()
        .map(|known| (strsim::jaro_winkler(name, known), known))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, known)| format!(" (did you mean '{known}'?)"))
        .unwrap_or_default();
    Err(crate::model::UsageError(format!(
        "unknown environment '{name}'{suggestion}: add it with `jit config add {name} --host URL --tenant NAME` or to {}",
        path()?.display()
    ))
    .into())
}

pub fn aws_config_path() -> Option<PathBuf> {
    std::env::var_os("AWS_CONFIG_FILE")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|h| h.join(".aws").join("config")))
}

/// The keys of one `[profile NAME]` section (or `[default]`) of an AWS config file.
pub fn aws_profile(text: &str, name: &str) -> Option<BTreeMap<String, String>> {
    let mut current: Option<String> = None;
    let mut found: Option<BTreeMap<String, String>> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let section = section.trim();
            let profile = section
                .strip_prefix("profile")
                .filter(|rest| rest.starts_with(char::is_whitespace))
                .map(str::trim)
                .or((section == "default").then_some("default"));
            current = profile.map(str::to_string);
            if current.as_deref() == Some(name) && found.is_none() {
                found = Some(BTreeMap::new());
            }
            continue;
        }
        if current.as_deref() == Some(name)
            && let (Some(map), Some((k, v))) = (found.as_mut(), line.split_once('='))
        {
            map.insert(k.trim().to_string(), v.trim().to_string());
        }
    }
    found
}

fn from_aws_profile(name: &str) -> Result<Option<AwsProfile>> {
    let Some(path) = aws_config_path() else {
        return Ok(None);
    };
    // Unreadable is as good as absent (it is the AWS CLI's file), but never read without end.
    let text = match crate::limit::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::FileTooLarge => {
            bail!("cannot read {}: {e}", path.display())
        }
        Err(_) => return Ok(None),
    };
    let Some(profile) = aws_profile(&text, name) else {
        return Ok(None);
    };
    let Some(process) = profile.get("credential_process") else {
        return Ok(None);
    };
    let words = shell_words::split(process).with_context(|| {
        format!(
            "profile '{name}' in {}: cannot parse credential_process",
            path.display()
        )
    })?;
    let program = words.first().map(|w| {
        Path::new(w)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    if !matches!(program.as_deref(), Some("jit" | "duplo-jit"))
        || words.get(1).map(String::as_str) != Some("aws")
    {
        bail!(
            "profile '{name}' in {} does not run `jit aws` or `duplo-jit aws`",
            path.display()
        );
    }
    Ok(Some(AwsProfile {
        path,
        words,
        region: profile.get("region").cloned(),
        endpoint_url: profile.get("endpoint_url").cloned(),
    }))
}

/// Env names with a one-line description each, for shell completion: local files only.
pub fn names() -> Vec<(String, String)> {
    load()
        .map(|c| c.envs)
        .unwrap_or_default()
        .into_iter()
        .map(|(name, env)| {
            let scope = match env.scope() {
                Some(Scope::Tenant(t)) => t,
                Some(other) => other.describe(),
                None => String::new(),
            };
            let help = format!("{scope} @ {}", env.host);
            (name, help)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_profile_sections() {
        let text = "[default]\nregion=us-east-1\n[profile dev]\n credential_process = jit aws -tenant dev01 -host https://p\nregion = eu-west-1\n[profile devx]\nregion=x\n";
        let dev = aws_profile(text, "dev").expect("dev");
        assert_eq!(dev.get("region").map(String::as_str), Some("eu-west-1"));
        assert_eq!(
            dev.get("credential_process").map(String::as_str),
            Some("jit aws -tenant dev01 -host https://p")
        );
        assert_eq!(
            aws_profile(text, "default")
                .and_then(|d| d.get("region").cloned())
                .as_deref(),
            Some("us-east-1")
        );
        assert!(aws_profile(text, "nope").is_none());
    }

    #[test]
    fn config_roundtrip_and_validation() {
        let text = "[env.prod]\nhost = \"https://p.example.com\"\ntenant = \"prod01\"\nregion = \"us-west-2\"\n";
        let config: Config = toml::from_str(text).expect("parse");
        let prod = &config.envs["prod"];
        prod.validate("prod").expect("valid");
        assert!(prod.interactive(), "interactive is the default auth");
        let both = EnvConfig {
            admin: true,
            ..prod.clone()
        };
        assert!(both.validate("x").is_err());
        assert!(toml::from_str::<Config>("[env.x]\nhost=\"https://a\"\nbogus=1\n").is_err());
    }
}
