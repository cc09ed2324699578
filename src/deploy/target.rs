//! Where a rotated secret is delivered, as the inventory declares it: the `deploy:` targets
//! of a credential (one, or a list run in order) and the optional `deploy_check` that must
//! pass before the old key is revoked. Data only: [`super::deliver`] does the delivering.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::inventory::CredentialRef;

/// One place a rotated secret is delivered to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Deploy {
    /// A person updates the consumers and confirms.
    Manual {
        /// What to tell the person, e.g. where the setting lives.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        instructions: Option<String>,
    },
    /// A command run with `sh -c`; it receives the new secret on stdin, never in argv or env.
    Command {
        /// The command line, e.g. `gh secret set CRM_KEY --repo acme/bot`.
        run: String,
        /// Running it twice is harmless: after a crash while it ran, `resume --yes` may run
        /// it again. Without it a person decides.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        idempotent: bool,
    },
    /// `NAME=value` in an env file on this machine, replaced atomically (mode 0600).
    EnvFile {
        /// The env file.
        path: String,
        /// The variable.
        name: String,
    },
    /// `NAME=value` in an env file on another host, through the system `ssh` client.
    Ssh {
        /// The host as `ssh` takes it (`user@host`, or an alias of `~/.ssh/config`).
        host: String,
        /// The env file on that host.
        path: String,
        /// The variable.
        name: String,
        /// The port, when not the one `ssh` would pick.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        port: Option<u16>,
        /// An `ssh` configuration file to use instead of `~/.ssh/config` (`ssh -F`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ssh_config: Option<String>,
        /// A command run on the host after the file is replaced (e.g. a service reload).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reload: Option<String>,
    },
    /// An AWS Systems Manager parameter (a SecureString, overwritten).
    AwsSsm {
        /// The `aws-iam` connection whose keys sign the request.
        connection: String,
        /// The parameter's name (`/acme/prod/CRM_KEY`).
        parameter: String,
        /// `params.region` of the connection is used when not set here.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        region: Option<String>,
        /// The KMS key encrypting it; AWS's default key when not set.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kms_key_id: Option<String>,
    },
    /// An AWS Secrets Manager secret: the value becomes its new current version.
    AwsSecretsManager {
        /// The `aws-iam` connection whose keys sign the request.
        connection: String,
        /// The secret's name or ARN.
        secret_id: String,
        /// `params.region` of the connection is used when not set here.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        region: Option<String>,
    },
    /// A GitHub Actions secret of a repository, one of its environments, or an organisation.
    GithubActions {
        /// The credential in this inventory holding the GitHub token keyward uses.
        token: String,
        /// `OWNER/REPO`, for a repository or environment secret.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        repository: Option<String>,
        /// The repository's environment, for an environment secret.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        environment: Option<String>,
        /// The organisation, for an organisation secret.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        organization: Option<String>,
        /// The secret's name.
        name: String,
        /// An organisation secret's visibility (`all`, `private`, `selected`); default `private`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        visibility: Option<String>,
        /// The API's base URL (GitHub Enterprise Server); `https://api.github.com` if not set.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        api: Option<String>,
    },
    /// A GitLab CI/CD variable of a project or a group.
    GitlabCi {
        /// The credential in this inventory holding the GitLab token keyward uses.
        token: String,
        /// The project's id or `group/project` path.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        project: Option<String>,
        /// The group's id or path, for a group variable.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group: Option<String>,
        /// The variable's key.
        key: String,
        /// Masked in job logs (default yes).
        #[serde(default = "yes", skip_serializing_if = "is_yes")]
        masked: bool,
        /// Only on protected branches and tags.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        protected: bool,
        /// The environments it applies to; `*` when not set.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        environment_scope: Option<String>,
        /// The API's base URL; `https://gitlab.com/api/v4` if not set.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        api: Option<String>,
    },
    /// A Vercel project's environment variable.
    VercelEnv {
        /// The credential in this inventory holding the Vercel token keyward uses.
        token: String,
        /// The project's id or name.
        project: String,
        /// The variable's key.
        key: String,
        /// The environments (`production`, `preview`, `development`); production and
        /// preview when not set.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        targets: Vec<String>,
        /// The team owning the project, when it is a team's.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        team_id: Option<String>,
        /// The API's base URL; `https://api.vercel.com` if not set.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        api: Option<String>,
    },
    /// A Netlify site's environment variable.
    NetlifyEnv {
        /// The credential in this inventory holding the Netlify token keyward uses.
        token: String,
        /// The account (team) id.
        account: String,
        /// The site's id.
        site: String,
        /// The variable's key.
        key: String,
        /// The deploy context the value is for (`all`, `production`, …); `all` if not set.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        context: Option<String>,
        /// The API's base URL; `https://api.netlify.com/api/v1` if not set.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        api: Option<String>,
    },
}

fn yes() -> bool {
    true
}

fn is_yes(b: &bool) -> bool {
    *b
}

/// The kinds of deploy target: the `kind:` vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// [`Deploy::Manual`].
    Manual,
    /// [`Deploy::Command`].
    Command,
    /// [`Deploy::EnvFile`].
    EnvFile,
    /// [`Deploy::Ssh`].
    Ssh,
    /// [`Deploy::AwsSsm`].
    AwsSsm,
    /// [`Deploy::AwsSecretsManager`].
    AwsSecretsManager,
    /// [`Deploy::GithubActions`].
    GithubActions,
    /// [`Deploy::GitlabCi`].
    GitlabCi,
    /// [`Deploy::VercelEnv`].
    VercelEnv,
    /// [`Deploy::NetlifyEnv`].
    NetlifyEnv,
}

impl TargetKind {
    /// The word written after `kind:`.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Manual => "manual",
            TargetKind::Command => "command",
            TargetKind::EnvFile => "env-file",
            TargetKind::Ssh => "ssh",
            TargetKind::AwsSsm => "aws-ssm",
            TargetKind::AwsSecretsManager => "aws-secrets-manager",
            TargetKind::GithubActions => "github-actions",
            TargetKind::GitlabCi => "gitlab-ci",
            TargetKind::VercelEnv => "vercel-env",
            TargetKind::NetlifyEnv => "netlify-env",
        }
    }
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Deploy {
    /// Its kind.
    pub fn kind(&self) -> TargetKind {
        match self {
            Deploy::Manual { .. } => TargetKind::Manual,
            Deploy::Command { .. } => TargetKind::Command,
            Deploy::EnvFile { .. } => TargetKind::EnvFile,
            Deploy::Ssh { .. } => TargetKind::Ssh,
            Deploy::AwsSsm { .. } => TargetKind::AwsSsm,
            Deploy::AwsSecretsManager { .. } => TargetKind::AwsSecretsManager,
            Deploy::GithubActions { .. } => TargetKind::GithubActions,
            Deploy::GitlabCi { .. } => TargetKind::GitlabCi,
            Deploy::VercelEnv { .. } => TargetKind::VercelEnv,
            Deploy::NetlifyEnv { .. } => TargetKind::NetlifyEnv,
        }
    }

    /// Whether keyward delivers it itself (every kind but `manual`).
    pub fn is_automatic(&self) -> bool {
        self.kind() != TargetKind::Manual
    }

    /// Whether delivering it twice is harmless, so a delivery cut short by a crash may simply
    /// be made again: every kind that sets one value in place is; a command only when it
    /// says so.
    pub fn idempotent(&self) -> bool {
        match self {
            Deploy::Command { idempotent, .. } => *idempotent,
            Deploy::Manual { .. } => false,
            _ => true,
        }
    }

    /// The credential holding the API token it is delivered with, if it needs one.
    pub fn token(&self) -> Option<&str> {
        match self {
            Deploy::GithubActions { token, .. }
            | Deploy::GitlabCi { token, .. }
            | Deploy::VercelEnv { token, .. }
            | Deploy::NetlifyEnv { token, .. } => Some(token),
            _ => None,
        }
    }

    /// The `aws-iam` connection it is signed with, if it needs one.
    pub fn connection(&self) -> Option<&str> {
        match self {
            Deploy::AwsSsm { connection, .. } | Deploy::AwsSecretsManager { connection, .. } => {
                Some(connection)
            }
            _ => None,
        }
    }

    /// Where it goes, in one line for plans, tables and journals (no secret, no token).
    pub fn describe(&self) -> String {
        let where_ = match self {
            // The words the dashboard and `show` used before targets came in lists.
            Deploy::Manual { instructions: None } => return "manual".to_string(),
            Deploy::Manual {
                instructions: Some(i),
            } => i.clone(),
            Deploy::Command { run, .. } => run.clone(),
            Deploy::EnvFile { path, name } => format!("{name} in {path}"),
            Deploy::Ssh {
                host, path, name, ..
            } => format!("{name} in {host}:{path}"),
            Deploy::AwsSsm { parameter, .. } => format!("parameter {parameter}"),
            Deploy::AwsSecretsManager { secret_id, .. } => format!("secret {secret_id}"),
            Deploy::GithubActions {
                repository,
                environment,
                organization,
                name,
                ..
            } => match (organization, repository, environment) {
                (Some(org), _, _) => format!("{name} of organisation {org}"),
                (None, Some(repo), Some(env)) => format!("{name} of {repo} environment {env}"),
                (None, Some(repo), None) => format!("{name} of {repo}"),
                (None, None, _) => format!("{name} (no repository or organisation)"),
            },
            Deploy::GitlabCi {
                project,
                group,
                key,
                ..
            } => match (project, group) {
                (Some(p), _) => format!("{key} of project {p}"),
                (None, Some(g)) => format!("{key} of group {g}"),
                (None, None) => format!("{key} (no project or group)"),
            },
            Deploy::VercelEnv { project, key, .. } => format!("{key} of project {project}"),
            Deploy::NetlifyEnv { site, key, .. } => format!("{key} of site {site}"),
        };
        format!("{}: {where_}", self.kind())
    }
}

/// A credential's deploy targets: `deploy:` holds one mapping or a list of them. One target
/// is written back as a mapping, so files that had one keep their shape.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deploys(pub Vec<Deploy>);

impl Deploys {
    /// No target: consumers are updated by hand.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The targets in the order they run.
    pub fn iter(&self) -> std::slice::Iter<'_, Deploy> {
        self.0.iter()
    }

    /// Every target in one line, in order; what an empty list means when there is none.
    pub fn describe(&self) -> String {
        if self.0.is_empty() {
            return "none: consumers are updated by hand".to_string();
        }
        self.0
            .iter()
            .map(Deploy::describe)
            .collect::<Vec<_>>()
            .join(", then ")
    }

    /// Whether any target is delivered by keyward itself.
    pub fn any_automatic(&self) -> bool {
        self.0.iter().any(Deploy::is_automatic)
    }
}

impl From<Deploy> for Deploys {
    fn from(d: Deploy) -> Self {
        Deploys(vec![d])
    }
}

impl From<Option<Deploy>> for Deploys {
    fn from(d: Option<Deploy>) -> Self {
        Deploys(d.into_iter().collect())
    }
}

impl Serialize for Deploys {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => one.serialize(s),
            many => many.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Deploys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Through a value, so that a bad target's own error (not an untagged enum's
        // "did not match any variant") reaches the person.
        let value = serde_yaml::Value::deserialize(d)?;
        let targets = match value {
            serde_yaml::Value::Sequence(_) => serde_yaml::from_value::<Vec<Deploy>>(value),
            one => serde_yaml::from_value::<Deploy>(one).map(|d| vec![d]),
        };
        targets.map(Deploys).map_err(serde::de::Error::custom)
    }
}

/// What must pass after the deploys before the old key is revoked. Written as a mapping
/// with one of `run:` or `url:`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(try_from = "CheckFields", into = "CheckFields")]
pub enum DeployCheck {
    /// A command run with `sh -c` (no secret given to it) that must exit 0.
    Run(String),
    /// An HTTPS URL (plain HTTP only to loopback) that must answer 2xx to a GET.
    Url(String),
}

/// [`DeployCheck`] as the file writes it.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    run: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    url: Option<String>,
}

impl TryFrom<CheckFields> for DeployCheck {
    type Error = String;
    fn try_from(f: CheckFields) -> Result<Self, String> {
        match (f.run, f.url) {
            (Some(run), None) => Ok(DeployCheck::Run(run)),
            (None, Some(url)) => Ok(DeployCheck::Url(url)),
            _ => Err("`deploy_check` takes one of `run` (a command) or `url`".into()),
        }
    }
}

impl From<DeployCheck> for CheckFields {
    fn from(c: DeployCheck) -> Self {
        match c {
            DeployCheck::Run(run) => CheckFields {
                run: Some(run),
                url: None,
            },
            DeployCheck::Url(url) => CheckFields {
                run: None,
                url: Some(url),
            },
        }
    }
}

impl DeployCheck {
    /// What it checks, in one line.
    pub fn describe(&self) -> String {
        match self {
            DeployCheck::Run(run) => format!("check: command {run}"),
            DeployCheck::Url(url) => format!("check: GET {url} answers 2xx"),
        }
    }
}

/// The credential a `token:` field names, parsed.
pub fn token_ref(token: &str) -> Result<CredentialRef, String> {
    token
        .parse::<CredentialRef>()
        .map_err(|e| format!("`token` must name a credential as CLIENT/INTEGRATION: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deploy_takes_one_target_or_a_list_and_keeps_a_single_ones_shape() {
        let one: Deploys =
            serde_yaml::from_str("kind: env-file\npath: /srv/.env\nname: K\n").expect("one target");
        assert_eq!(one.0.len(), 1);
        let back = serde_yaml::to_string(&one).unwrap();
        assert!(back.starts_with("kind: env-file"), "{back}");
        let many: Deploys = serde_yaml::from_str(
            "- kind: env-file\n  path: /srv/.env\n  name: K\n- kind: manual\n",
        )
        .expect("a list");
        assert_eq!(many.0.len(), 2);
        assert_eq!(many.0[1].kind(), TargetKind::Manual);
        let again: Deploys = serde_yaml::from_str(&serde_yaml::to_string(&many).unwrap()).unwrap();
        assert_eq!(again, many);
    }

    #[test]
    fn an_unknown_target_field_is_named() {
        let e = serde_yaml::from_str::<Deploys>("kind: ssh\nhost: h\npath: p\nname: K\nkey: x\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("key"), "{e}");
    }

    #[test]
    fn every_kind_has_its_word() {
        let d: Deploy = serde_yaml::from_str(
            "kind: aws-secrets-manager\nconnection: aws\nsecret_id: acme/crm\n",
        )
        .unwrap();
        assert_eq!(d.kind().as_str(), "aws-secrets-manager");
        assert_eq!(d.describe(), "aws-secrets-manager: secret acme/crm");
        let check: DeployCheck = serde_yaml::from_str("url: https://example.com/health").unwrap();
        assert!(check.describe().contains("2xx"));
        let back = serde_yaml::to_string(&check).unwrap();
        assert_eq!(back, "url: https://example.com/health\n");
        assert!(serde_yaml::from_str::<DeployCheck>("run: a\nurl: b\n").is_err());
    }
}
