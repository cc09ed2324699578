//! Deploy targets: delivering a credential's secret to the places that use it.
//!
//! A credential's `deploy:` lists [`Deploy`] targets, run in order by the rotation's deploy
//! step (journaled per target, see [`crate::rotation`]) and by `keyward deploy`, which
//! re-delivers the current secret without rotating. This module delivers one target:
//! - `env-file` ([`env_file`]) and `ssh` ([`ssh`]) set `NAME=value` in an env file, here or
//!   on another host through the system `ssh` client, replacing the file atomically;
//! - `aws-ssm` and `aws-secrets-manager` ([`aws`]) sign with keyward's SigV4 code;
//! - `github-actions` ([`github`]), `gitlab-ci` ([`gitlab`]), `vercel-env` ([`vercel`]) and
//!   `netlify-env` ([`netlify`]) call the platforms' REST APIs with a token that is itself a
//!   credential of the inventory.
//!
//! `command` (the rotation sink) and `manual` (a person) are run by the engine itself.
//! The secret travels only in memory, in a request body over TLS, or on a child's standard
//! input: never in an argument, an environment variable or a temporary file of its own.
//! Errors name the target and the request, never the secret nor the token.

pub mod aws;
pub mod check;
pub mod dotenv;
pub mod env_file;
pub mod github;
pub mod gitlab;
pub mod netlify;
mod rest;
pub mod ssh;
pub mod target;
pub mod vercel;

use std::fmt;
use std::time::Duration;

pub use target::{Deploy, DeployCheck, Deploys, TargetKind};

use crate::inventory::{Connection, Inventory, ProviderKind};
use crate::providers::error::{ErrorKind, ProviderError};
use crate::providers::http::Http;
use crate::secret::Secret;

/// A failed delivery: which target, the request, the status, whether trying again later
/// may help, and what happened (redacted: never the secret or the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployError {
    /// The target's kind.
    pub target: TargetKind,
    /// `METHOD /path` or the program run, when there was one.
    pub request: Option<String>,
    /// The HTTP status, when one came back.
    pub status: Option<u16>,
    /// Whether a later retry may succeed (429, 5xx, no answer).
    pub transient: bool,
    /// What happened, and what to do when it says.
    pub message: String,
}

impl DeployError {
    /// An error of the inventory's making (a missing field, connection or token).
    pub fn config(target: TargetKind, message: impl Into<String>) -> Self {
        DeployError {
            target,
            request: None,
            status: None,
            transient: false,
            message: message.into(),
        }
    }

    /// A provider-client error, relabelled for `target` (the shared HTTP client names a
    /// provider kind; a deploy target is not one).
    pub fn from_provider(target: TargetKind, e: ProviderError) -> Self {
        DeployError {
            target,
            transient: e.is_transient(),
            request: e.request,
            status: e.status,
            message: match e.kind {
                ErrorKind::Unauthorized => format!(
                    "{}: the token was refused; check it and its permissions",
                    e.message
                ),
                ErrorKind::NotFound => format!(
                    "{}: not found; check the names in the deploy target",
                    e.message
                ),
                _ => e.message,
            },
        }
    }

    /// Masks every occurrence of each of `secrets` in the message.
    pub fn redacting(mut self, secrets: &[&Secret]) -> Self {
        for s in secrets {
            self.message = s.redact(&self.message);
        }
        self
    }
}

impl fmt::Display for DeployError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.target)?;
        if let Some(r) = &self.request {
            write!(f, " {r}")?;
        }
        if let Some(s) = self.status {
            write!(f, ": HTTP {s}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for DeployError {}

/// What a target needs from the inventory besides the secret: the `aws-iam` connection it
/// is signed with, or the API token it calls with.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// The connection, for AWS targets.
    pub connection: Option<Connection>,
    /// The token's secret, for REST targets.
    pub token: Option<Secret>,
}

/// Looks up what `target` needs in `inventory`; the error says what is missing and where.
pub fn access(inventory: &Inventory, target: &Deploy) -> Result<Access, DeployError> {
    let kind = target.kind();
    let mut found = Access::default();
    if let Some(id) = target.connection() {
        let conn = inventory.connection(id).ok_or_else(|| {
            DeployError::config(
                kind,
                format!(
                    "connection `{id}` is not in the inventory: add it (`keyward connections add`)"
                ),
            )
        })?;
        if conn.provider != ProviderKind::AwsIam {
            return Err(DeployError::config(
                kind,
                format!(
                    "connection `{id}` is a {} connection, not aws-iam",
                    conn.provider
                ),
            ));
        }
        found.connection = Some(conn.clone());
    }
    if let Some(token) = target.token() {
        let at = target::token_ref(token).map_err(|e| DeployError::config(kind, e))?;
        let secret = inventory
            .credential(&at)
            .and_then(|c| c.secret.clone())
            .ok_or_else(|| {
                DeployError::config(
                    kind,
                    format!("`token` {at} is not a credential with a secret in the inventory"),
                )
            })?;
        found.token = Some(secret);
    }
    Ok(found)
}

/// One delivery: the secret, what the target needs, and how.
pub struct Delivery<'a> {
    /// The value delivered.
    pub secret: &'a Secret,
    /// The connection or token the target needs.
    pub access: &'a Access,
    /// The shared HTTP client.
    pub http: &'a Http,
    /// How long a child process (`ssh`) may take.
    pub timeout: Duration,
    /// Identifies this delivery for APIs that deduplicate requests (a Secrets Manager
    /// version): the same id and value make the same version, however often sent.
    pub request_id: &'a str,
}

/// Delivers `d.secret` to `target`; `Ok` says what was done, in words. `command` and
/// `manual` are the engine's (a sink, a person): asking here for them is a config error.
pub async fn deliver(target: &Deploy, d: &Delivery<'_>) -> Result<String, DeployError> {
    let mut mask = vec![d.secret];
    mask.extend(d.access.token.as_ref());
    let done = match target {
        Deploy::EnvFile { path, name } => env_file::set(path, name, d.secret),
        Deploy::Ssh {
            host,
            path,
            name,
            port,
            ssh_config,
            reload,
        } => {
            let to = ssh::Remote {
                host,
                path,
                name,
                port: *port,
                ssh_config: ssh_config.as_deref(),
                reload: reload.as_deref(),
            };
            ssh::set(&to, d.secret, d.timeout).await
        }
        Deploy::AwsSsm { .. } | Deploy::AwsSecretsManager { .. } => aws::put(target, d).await,
        Deploy::GithubActions { .. } => github::put(target, d).await,
        Deploy::GitlabCi { .. } => gitlab::put(target, d).await,
        Deploy::VercelEnv { .. } => vercel::put(target, d).await,
        Deploy::NetlifyEnv { .. } => netlify::put(target, d).await,
        Deploy::Command { .. } | Deploy::Manual { .. } => Err(DeployError::config(
            target.kind(),
            "run by the rotation engine, not delivered here",
        )),
    };
    done.map_err(|e| e.redacting(&mask))
}

/// The process's HTTP client for deploy targets and checks, made on first use.
pub fn shared_http() -> &'static Http {
    static HTTP: std::sync::OnceLock<Http> = std::sync::OnceLock::new();
    HTTP.get_or_init(Http::default)
}
