//! The sandbox provider: keyward's own in-process key service, for the demo, tests and
//! benchmarks. It keeps the whole lifecycle with realistic state (ids, secrets shown once,
//! created/expires/last-used dates, active or inactive, two keys per owner, scopes) in a JSON
//! state file, so keys survive the process: a crash test kills keyward and the next run sees
//! the same keys.
//!
//! Where the state lives, first match wins:
//! - `params.state_file` (credential, then connection): an absolute path, or one relative to
//!   the inventory's directory;
//! - otherwise `<inventory file>.sandbox.json` beside the inventory.
//!
//! The inventory's path comes from [`Sandbox::beside`] (as
//! [`super::registry::provider_for_inventory`] builds it); a sandbox built without one
//! accepts only an absolute `params.state_file`.
//!
//! Connection (or credential) parameters shape its behaviour:
//! - `owner`: whose keys these are (default: the credential's address); two keys per owner;
//! - `ttl_days`: new keys expire this many days after they are issued;
//! - `style`: `create` (default: a new key beside the old one) or `roll` (the value is
//!   replaced in place and the old one dies at once);
//! - `latency_ms`: every call waits this long first;
//! - `propagation_ms`: a key it creates is refused ("invalid") for this long after its
//!   creation, as AWS IAM refuses a fresh access key for a while; it also declares this as
//!   its propagation window ([`Provider::propagation`]), so rotations wait it out;
//! - `failure_rate`, `rate_limit_rate` (0 to 1): that share of calls fails before doing
//!   anything, with a transient 503 or a 429, so retries and bulk runs get exercised;
//! - `rate_limit_window_ms` (default 1000): a 429 says when to come back, as real limiters
//!   do: they count calls per window and answer with the time left until it resets (GitLab's
//!   `Retry-After`, "the number of seconds remaining until the current limit expires",
//!   about.gitlab.com/blog/2020/12/17/automation-check-in-and-rate-limit-changes-on-gitlab-dot-com/;
//!   the `RateLimit-Reset` of draft-ietf-httpapi-ratelimit-headers). The sandbox's windows
//!   are this long, aligned on the clock, and its answer is exact to the millisecond, as a
//!   reset header in fractional seconds is ([`ProviderError::retry_after`]);
//! - `delete_answers_404` (`true`): every delete answers "not found" and deletes nothing,
//!   as behind a proxy that misroutes the request, so unconfirmed revocations get exercised.
//!
//! Every change is made under an exclusive lock on `<state>.lock` and written atomically
//! (a temporary file renamed over the old one), so the state survives keyward being killed
//! at any point. Only a SHA-256 of each secret is stored;
//! `verify` compares hashes.
//!
//! The state sits beside the inventory, so it names nothing: no client, credential or key
//! id, no key name. Owners and key ids are kept as HMAC-SHA256 tags under a random salt
//! (found by recomputing the tag of what the caller names), and each key id also sealed
//! under a keystream derived from its owner (HMAC-SHA256 in counter mode), so listing an
//! owner's keys can name them while the file alone cannot. Names are the caller's
//! credential's. It is not encrypted with age: it stands for a provider's own database, and
//! a provider never holds the inventory's identities. What remains: whoever guesses an
//! owner (say `acme/crm`) can test the guess against the tags, and sees how many keys
//! there are, their dates, states and scopes.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::distributions::Alphanumeric;
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Capabilities, IssuedKey, Provider, RemoteKey, RotationStyle, Target, Verification};
use super::{Deletion, ErrorKind, ProviderError};
use crate::fsutil;
use crate::inventory::{ProviderKind, RemoteStatus};
use crate::secret::Secret;

const KIND: ProviderKind = ProviderKind::Sandbox;
/// Keys one owner may hold at once, active or not (as AWS IAM allows).
const MAX_KEYS_PER_OWNER: usize = 2;
/// 2: owners and key ids as tags, no names (1 held them in the clear).
const STATE_VERSION: u32 = 2;

/// The sandbox key service.
pub struct Sandbox {
    /// The inventory file whose directory relative state paths resolve against.
    inventory: Option<PathBuf>,
    /// One async lock per state file, so calls in this process queue without tying up
    /// threads on the file lock (which still guards against other processes).
    queues: Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>,
}

/// One key as the state file holds it: nothing in it names the key, its owner or client.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredKey {
    /// The key id's tag ([`State::tag`]): finds a key by the id a caller names.
    id_tag: String,
    /// The owner's tag: finds an owner's keys.
    owner_tag: String,
    /// Hex random bytes making this key's id keystream its own.
    nonce: String,
    /// The key id, hex, XORed with the keystream of its owner and nonce ([`keystream`]).
    id_sealed: String,
    /// Hex SHA-256 of the secret: the secret itself is never written.
    secret_sha256: String,
    created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_used_at: Option<DateTime<Utc>>,
    active: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    scopes: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct State {
    version: u32,
    /// Hex random bytes the tags are keyed with.
    salt: String,
    #[serde(default)]
    keys: Vec<StoredKey>,
}

impl Default for State {
    fn default() -> Self {
        State {
            version: STATE_VERSION,
            salt: hex::encode(rand::thread_rng().gen::<[u8; 32]>()),
            keys: Vec::new(),
        }
    }
}

/// HMAC-SHA256 of `parts` under `key`.
fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC takes a key of any length: this never fails.
    let Ok(mut m) = <Hmac<Sha256> as Mac>::new_from_slice(key) else {
        return [0; 32];
    };
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// `len` bytes of keystream for a key id: HMAC-SHA256 keyed by the owner over the salt,
/// the key's nonce and a block counter. Only a caller naming the owner can derive it.
fn keystream(owner: &str, salt: &str, nonce: &str, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut block: u32 = 0;
    while out.len() < len {
        out.extend_from_slice(&mac(
            owner.as_bytes(),
            &[salt.as_bytes(), nonce.as_bytes(), &block.to_be_bytes()],
        ));
        block += 1;
    }
    out.truncate(len);
    out
}

impl State {
    /// The tag of an owner or key id: HMAC-SHA256 under the salt, hex.
    fn tag(&self, kind: &str, text: &str) -> String {
        hex::encode(mac(
            self.salt.as_bytes(),
            &[kind.as_bytes(), b"\0", text.as_bytes()],
        ))
    }

    fn owner_tag(&self, owner: &str) -> String {
        self.tag("owner", owner)
    }

    /// The key whose id is `id`.
    fn find(&mut self, id: &str) -> Option<&mut StoredKey> {
        let tag = self.tag("id", id);
        self.keys.iter_mut().find(|k| k.id_tag == tag)
    }

    /// The keys `owner` holds, each with its id.
    fn owned(&self, owner: &str) -> Vec<(String, &StoredKey)> {
        let tag = self.owner_tag(owner);
        self.keys
            .iter()
            .filter(|k| k.owner_tag == tag)
            .filter_map(|k| Some((self.open_id(owner, k)?, k)))
            .collect()
    }

    fn open_id(&self, owner: &str, k: &StoredKey) -> Option<String> {
        let sealed = hex::decode(&k.id_sealed).ok()?;
        let stream = keystream(owner, &self.salt, &k.nonce, sealed.len());
        String::from_utf8(sealed.iter().zip(stream).map(|(a, b)| a ^ b).collect()).ok()
    }

    /// A new stored key for `id` held by `owner`, everything naming them tagged or sealed.
    fn new_key(&self, id: &str, owner: &str, secret: &Secret, now: DateTime<Utc>) -> StoredKey {
        let nonce = hex::encode(rand::thread_rng().gen::<[u8; 16]>());
        let stream = keystream(owner, &self.salt, &nonce, id.len());
        let sealed: Vec<u8> = id.bytes().zip(stream).map(|(a, b)| a ^ b).collect();
        StoredKey {
            id_tag: self.tag("id", id),
            owner_tag: self.owner_tag(owner),
            nonce,
            id_sealed: hex::encode(sealed),
            secret_sha256: hash(secret),
            created_at: now,
            expires_at: None,
            last_used_at: None,
            active: true,
            scopes: Vec::new(),
        }
    }
}

/// The name the sandbox gives a target's keys: the credential's, else its address. It is
/// not stored (it names the credential).
fn key_name(target: &Target) -> String {
    if target.credential.name.is_empty() {
        target.at.to_string()
    } else {
        target.credential.name.clone()
    }
}

/// The connection's settings for one call.
struct Settings {
    state_file: PathBuf,
    owner: String,
    roll: bool,
    ttl_days: Option<i64>,
    latency: Duration,
    propagation: Duration,
    failure_rate: f64,
    rate_limit_rate: f64,
    rate_limit_window: Duration,
}

fn opt_param<'a>(target: &'a Target, name: &str) -> Option<&'a str> {
    target
        .credential
        .params
        .get(name)
        .or_else(|| target.connection.as_ref().and_then(|c| c.params.get(name)))
        .map(String::as_str)
}

fn config(target: &Target, message: impl Into<String>) -> ProviderError {
    ProviderError::config(KIND, Some(&target.at), message)
}

fn rate(target: &Target, name: &str) -> Result<f64, ProviderError> {
    match opt_param(target, name) {
        None => Ok(0.0),
        Some(v) => v
            .parse::<f64>()
            .ok()
            .filter(|r| (0.0..=1.0).contains(r))
            .ok_or_else(|| {
                config(
                    target,
                    format!("`params.{name}` must be a number from 0 to 1"),
                )
            }),
    }
}

/// The time left in the current rate-limit window of length `window`, windows aligned on
/// the clock: what a fixed-window limiter answers a 429 with.
fn until_reset(window: Duration) -> Duration {
    let window_ms = window.as_millis().max(1);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    Duration::from_millis((window_ms - now_ms % window_ms) as u64)
}

fn hash(secret: &Secret) -> String {
    hex::encode(Sha256::digest(secret.expose_secret().as_bytes()))
}

fn random_chars(n: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

fn remote_key(id: String, name: &str, k: &StoredKey) -> RemoteKey {
    let risks = k
        .scopes
        .iter()
        .filter(|s| matches!(s.as_str(), "*" | "admin"))
        .map(|s| format!("scope `{s}` grants full access"))
        .collect();
    RemoteKey {
        remote_id: id,
        state: if k.active {
            RemoteStatus::Active
        } else {
            RemoteStatus::Inactive
        },
        name: Some(name.to_string()),
        created_at: Some(k.created_at),
        expires_at: k.expires_at,
        last_used_at: k.last_used_at,
        scopes: k.scopes.clone(),
        risks,
    }
}

/// Checks `secret` against the stored keys; `touch` records a use when it is accepted. A key
/// younger than `propagation` is refused as unknown, as a provider that has not spread it
/// to every endpoint yet would.
fn check(
    state: &mut State,
    remote_id: Option<&str>,
    secret: &Secret,
    now: DateTime<Utc>,
    touch: bool,
    propagation: Duration,
) -> Verification {
    let young = |k: &StoredKey| {
        chrono::Duration::from_std(propagation).is_ok_and(|p| now < k.created_at + p)
    };
    let digest = hash(secret);
    let found = match remote_id {
        Some(id) => state.find(id),
        None => state.keys.iter_mut().find(|k| k.secret_sha256 == digest),
    };
    let invalid = |reason: &str| Verification::Invalid {
        reason: reason.to_string(),
    };
    match found {
        None => invalid("no such key"),
        Some(k) if k.secret_sha256 != digest => invalid("the secret does not match the key"),
        Some(k) if young(k) => invalid("no such key (yet: simulated propagation)"),
        Some(k) if !k.active => invalid("the key is deactivated"),
        Some(k) if k.expires_at.is_some_and(|e| e <= now) => invalid("the key has expired"),
        Some(k) => {
            if touch {
                k.last_used_at = Some(now);
            }
            Verification::Valid
        }
    }
}

impl Sandbox {
    /// A sandbox that resolves state files against no inventory: only an absolute
    /// `params.state_file` works.
    pub fn new() -> Self {
        Sandbox {
            inventory: None,
            queues: Mutex::default(),
        }
    }

    /// A sandbox for the inventory at `inventory`: state defaults to
    /// `<inventory>.sandbox.json`, relative `params.state_file` paths resolve beside it.
    pub fn beside(inventory: &Path) -> Self {
        Sandbox {
            inventory: Some(inventory.to_path_buf()),
            queues: Mutex::default(),
        }
    }

    /// The state file a target's keys live in.
    pub fn state_file(&self, target: &Target) -> Result<PathBuf, ProviderError> {
        let dir = self
            .inventory
            .as_ref()
            .map(|p| p.parent().map(Path::to_path_buf).unwrap_or_default());
        match (opt_param(target, "state_file"), &self.inventory, dir) {
            (Some(p), _, _) if Path::new(p).is_absolute() => Ok(PathBuf::from(p)),
            (Some(p), _, Some(dir)) => Ok(dir.join(p)),
            (None, Some(inv), _) => {
                let mut name = inv.file_name().unwrap_or_default().to_os_string();
                name.push(".sandbox.json");
                Ok(inv.with_file_name(name))
            }
            _ => Err(config(
                target,
                "needs an absolute `params.state_file` when used without an inventory file",
            )),
        }
    }

    fn settings(&self, target: &Target) -> Result<Settings, ProviderError> {
        let roll = match opt_param(target, "style") {
            None | Some("create") => false,
            Some("roll") => true,
            Some(other) => {
                return Err(config(
                    target,
                    format!("`params.style` is `{other}`; expected `create` or `roll`"),
                ))
            }
        };
        let number = |name: &str| -> Result<Option<u64>, ProviderError> {
            opt_param(target, name)
                .map(|v| {
                    v.parse::<u64>().map_err(|_| {
                        config(target, format!("`params.{name}` must be a whole number"))
                    })
                })
                .transpose()
        };
        Ok(Settings {
            state_file: self.state_file(target)?,
            owner: opt_param(target, "owner")
                .map(str::to_string)
                .unwrap_or_else(|| target.at.to_string()),
            roll,
            ttl_days: number("ttl_days")?.map(|d| d.min(36_500) as i64),
            latency: Duration::from_millis(number("latency_ms")?.unwrap_or(0)),
            propagation: Duration::from_millis(number("propagation_ms")?.unwrap_or(0)),
            failure_rate: rate(target, "failure_rate")?,
            rate_limit_rate: rate(target, "rate_limit_rate")?,
            rate_limit_window: Duration::from_millis(
                number("rate_limit_window_ms")?
                    .unwrap_or(1000)
                    .clamp(1, 3_600_000),
            ),
        })
    }

    /// Waits the configured latency, draws the configured failures, then runs `op` on the
    /// state under both locks, writing it back when `op` says it changed.
    async fn call<T, F>(&self, target: &Target, request: &str, op: F) -> Result<T, ProviderError>
    where
        T: Send + 'static,
        F: FnOnce(&Settings, &mut State, DateTime<Utc>) -> Result<(T, bool), ProviderError>
            + Send
            + 'static,
    {
        let settings = self.settings(target)?;
        // The sandbox's stand-in for an HTTP request line.
        tracing::debug!(provider = %KIND, credential = %target.at, request, "sandbox request");
        if !settings.latency.is_zero() {
            tokio::time::sleep(settings.latency).await;
        }
        let draw: f64 = rand::thread_rng().gen();
        if draw < settings.rate_limit_rate {
            return Err(ProviderError::new(
                KIND,
                Some(&target.at),
                ErrorKind::RateLimited,
                "rate limited (simulated)",
            )
            .with_request(request.to_string())
            .with_status(429)
            .with_retry_after(Some(until_reset(settings.rate_limit_window))));
        }
        if draw < settings.rate_limit_rate + settings.failure_rate {
            return Err(ProviderError::new(
                KIND,
                Some(&target.at),
                ErrorKind::Http,
                "service unavailable (simulated)",
            )
            .with_request(request.to_string())
            .with_status(503));
        }
        let queue = self
            .queues
            .lock()
            .map_err(|_| config(target, "sandbox lock poisoned"))?
            .entry(settings.state_file.clone())
            .or_default()
            .clone();
        let _turn = queue.lock().await;
        let at = target.at.clone();
        let request = request.to_string();
        tokio::task::spawn_blocking(move || {
            let fail = |message: String| {
                ProviderError::new(KIND, Some(&at), ErrorKind::Config, message)
                    .with_request(request.clone())
            };
            let _lock = lock(&settings.state_file).map_err(&fail)?;
            let mut state = read(&settings.state_file).map_err(&fail)?;
            let (out, changed) = op(&settings, &mut state, Utc::now())
                .map_err(|e| e.with_request(request.clone()))?;
            if changed {
                write(&settings.state_file, &state).map_err(&fail)?;
            }
            Ok(out)
        })
        .await
        .map_err(|_| config(target, "the sandbox task stopped"))?
    }

    /// Uses `secret` as a consumer would: checks it like [`Provider::verify`] and, when it is
    /// accepted, records the use, so "last used" moves (the demo calls this).
    pub async fn use_key(&self, target: &Target, secret: &Secret) -> Verification {
        let secret = secret.clone();
        let remote_id = target.credential.remote_id.clone();
        self.call(target, "POST /use", move |settings, state, now| {
            let v = check(
                state,
                remote_id.as_deref(),
                &secret,
                now,
                true,
                settings.propagation,
            );
            let changed = v == Verification::Valid;
            Ok((v, changed))
        })
        .await
        .unwrap_or_else(|e| Verification::CouldNotCheck {
            reason: e.to_string(),
        })
    }

    /// Registers the target's recorded key (its `remote_id`, secret, dates and scopes) as
    /// an existing sandbox key, so an inventory written by hand (the demo's) has keys to
    /// rotate. A key the sandbox already knows is left as it is.
    pub async fn import_key(&self, target: &Target) -> Result<(), ProviderError> {
        let c = target.credential.clone();
        let id = target.remote_id("the sandbox key id")?.to_string();
        let secret = c
            .secret
            .clone()
            .ok_or_else(|| config(target, "has no secret to import"))?;
        self.call(target, "PUT /keys/{id}", move |settings, state, now| {
            if state.find(&id).is_some() {
                return Ok(((), false));
            }
            let mut key = state.new_key(&id, &settings.owner, &secret, c.created_at.unwrap_or(now));
            key.expires_at = c.expires_at;
            key.last_used_at = c.last_used_at;
            key.scopes = c.scopes.clone();
            state.keys.push(key);
            Ok(((), true))
        })
        .await
    }
}

/// What the state at `state_file` holds for the key `id`: whether it is active, and the
/// SHA-256 of its secret (hex). For tests and tools that look at the sandbox from outside,
/// since the file itself names no key.
pub fn key_record(state_file: &Path, id: &str) -> Result<Option<(bool, String)>, String> {
    let mut state = read(state_file)?;
    Ok(state.find(id).map(|k| (k.active, k.secret_sha256.clone())))
}

/// Which of `candidates` are key ids the state at `state_file` holds, and how many keys it
/// holds in all: whoever knows every id it should hold (a test reading the inventory) can
/// tell that it holds no other.
pub fn keys_among(state_file: &Path, candidates: &[&str]) -> Result<(Vec<String>, usize), String> {
    let mut state = read(state_file)?;
    let held = candidates
        .iter()
        .filter(|id| state.find(id).is_some())
        .map(|id| id.to_string())
        .collect();
    Ok((held, state.keys.len()))
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox::new()
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

fn lock(state_file: &Path) -> Result<File, String> {
    let path = with_suffix(state_file, ".lock");
    let (file, _) = fsutil::open_in_place(&path, fsutil::InPlace::ReadWrite)
        .map_err(|e| format!("cannot open the sandbox lock {}: {e}", path.display()))?;
    file.lock()
        .map_err(|e| format!("cannot lock {}: {e}", path.display()))?;
    Ok(file)
}

fn read(state_file: &Path) -> Result<State, String> {
    let text = match fsutil::read_no_follow(state_file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(State::default()),
        Err(e) => return Err(format!("cannot read {}: {e}", state_file.display())),
    };
    let damaged = |e: serde_json::Error| {
        format!("the sandbox state {} is damaged: {e}", state_file.display())
    };
    // The version first: an older state's fields are not this one's.
    let value: serde_json::Value = serde_json::from_slice(&text).map_err(damaged)?;
    let version = value.get("version").and_then(serde_json::Value::as_u64);
    if version != Some(u64::from(STATE_VERSION)) {
        return Err(format!(
            "the sandbox state {} is version {}, this build reads {STATE_VERSION}; it is a \
             stand-in for a provider: move it aside and run `keyward demo` again",
            state_file.display(),
            version.map_or_else(|| "unknown".to_string(), |v| v.to_string())
        ));
    }
    let state: State = serde_json::from_value(value).map_err(damaged)?;
    if state.version != STATE_VERSION {
        return Err(format!(
            "the sandbox state {} is version {}, this build reads {STATE_VERSION}; it is a \
             stand-in for a provider: move it aside and run `keyward demo` again",
            state_file.display(),
            state.version
        ));
    }
    Ok(state)
}

/// Writes the state to a new private file (exclusive create, unpredictable name) and renames
/// it over the old one, so a killed process leaves either the old state or the new one,
/// never half of one. There is no fsync: the sandbox must survive crashes of keyward, not
/// of the machine, and bulk runs make thousands of calls.
fn write(state_file: &Path, state: &State) -> Result<(), String> {
    let text = serde_json::to_vec_pretty(state).map_err(|e| e.to_string())?;
    let fail = |e: std::io::Error| format!("cannot write {}: {e}", state_file.display());
    let mut file = fsutil::NewFile::beside(state_file).map_err(fail)?;
    file.write_all(&text).map_err(fail)?;
    file.commit_unsynced(state_file)
        .map_err(|e| format!("cannot replace {}: {e}", state_file.display()))
}

/// A new key for `target` (its id, what the state keeps of it, and the secret).
fn issue(
    state: &State,
    settings: &Settings,
    target: &Target,
    now: DateTime<Utc>,
) -> (String, StoredKey, Secret) {
    let secret = Secret::new(format!("sbxsk_{}", random_chars(40)));
    let id = format!("sbx_{}", random_chars(20).to_uppercase());
    let mut key = state.new_key(&id, &settings.owner, &secret, now);
    key.expires_at = settings.ttl_days.map(|d| now + chrono::Duration::days(d));
    key.scopes = target.credential.scopes.clone();
    (id, key, secret)
}

fn issued(id: String, key: &StoredKey, secret: Secret) -> IssuedKey {
    IssuedKey {
        remote_id: id,
        secret,
        created_at: Some(key.created_at),
        expires_at: key.expires_at,
        scopes: key.scopes.clone(),
        params: Default::default(),
    }
}

#[async_trait]
impl Provider for Sandbox {
    fn kind(&self) -> ProviderKind {
        KIND
    }

    /// Local: no rate limit but its own (`rate_limit_rate`), and its state file serializes
    /// the calls anyway.
    fn lane_size(&self) -> usize {
        64
    }

    /// The connection's `propagation_ms`: how long its new keys are refused.
    fn propagation(&self, target: &Target) -> std::time::Duration {
        self.settings(target)
            .map(|s| s.propagation)
            .unwrap_or_default()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            rotation: RotationStyle::CreateThenRevoke,
            can_deactivate: true,
            reports_expiry: true,
            reports_last_used: true,
            max_live_keys: Some(MAX_KEYS_PER_OWNER as u32),
            can_verify: true,
        }
    }

    fn capabilities_for(&self, target: &Target) -> Capabilities {
        let roll = opt_param(target, "style") == Some("roll");
        Capabilities {
            rotation: if roll {
                RotationStyle::RollInPlace
            } else {
                RotationStyle::CreateThenRevoke
            },
            ..self.capabilities()
        }
    }

    async fn inspect(&self, target: &Target) -> Result<Option<RemoteKey>, ProviderError> {
        let id = target.remote_id("the sandbox key id")?.to_string();
        let name = key_name(target);
        self.call(target, "GET /keys/{id}", move |_, state, _| {
            let found = state.find(&id).map(|k| remote_key(id.clone(), &name, k));
            Ok((found, false))
        })
        .await
    }

    async fn list(&self, target: &Target) -> Result<Vec<RemoteKey>, ProviderError> {
        let name = key_name(target);
        self.call(target, "GET /keys", move |settings, state, _| {
            let keys = state
                .owned(&settings.owner)
                .into_iter()
                .map(|(id, k)| remote_key(id, &name, k))
                .collect();
            Ok((keys, false))
        })
        .await
    }

    async fn create(&self, target: &Target) -> Result<IssuedKey, ProviderError> {
        let t = target.clone();
        self.call(target, "POST /keys", move |settings, state, now| {
            if settings.roll {
                return Err(ProviderError::unsupported(
                    KIND,
                    Some(&t.at),
                    "create a second key (`params.style` is `roll`)",
                ));
            }
            let owner = state.owner_tag(&settings.owner);
            let held = state.keys.iter().filter(|k| k.owner_tag == owner).count();
            if held >= MAX_KEYS_PER_OWNER {
                return Err(ProviderError::new(
                    KIND,
                    Some(&t.at),
                    ErrorKind::Limit,
                    format!(
                        "owner `{}` already has {held} keys; the limit is {MAX_KEYS_PER_OWNER}",
                        settings.owner
                    ),
                )
                .with_status(409));
            }
            let (id, key, secret) = issue(state, settings, &t, now);
            let out = issued(id, &key, secret);
            state.keys.push(key);
            Ok((out, true))
        })
        .await
    }

    async fn roll(&self, target: &Target) -> Result<IssuedKey, ProviderError> {
        let id = target.remote_id("the sandbox key id")?.to_string();
        let t = target.clone();
        self.call(
            target,
            "POST /keys/{id}/roll",
            move |settings, state, now| {
                if !settings.roll {
                    return Err(ProviderError::unsupported(
                        KIND,
                        Some(&t.at),
                        "roll a key in place (`params.style` is not `roll`)",
                    ));
                }
                let (_, fresh, secret) = issue(state, settings, &t, now);
                let Some(key) = state.find(&id) else {
                    return Err(ProviderError::new(
                        KIND,
                        Some(&t.at),
                        ErrorKind::NotFound,
                        format!("no key `{id}`"),
                    )
                    .with_status(404));
                };
                key.secret_sha256 = fresh.secret_sha256;
                key.expires_at = fresh.expires_at;
                key.active = true;
                Ok((issued(id.clone(), key, secret), true))
            },
        )
        .await
    }

    async fn verify(
        &self,
        target: &Target,
        remote_id: Option<&str>,
        secret: &Secret,
    ) -> Verification {
        let secret = secret.clone();
        let remote_id = remote_id.map(str::to_string);
        self.call(target, "GET /whoami", move |settings, state, now| {
            let propagation = settings.propagation;
            Ok((
                check(
                    state,
                    remote_id.as_deref(),
                    &secret,
                    now,
                    false,
                    propagation,
                ),
                false,
            ))
        })
        .await
        .unwrap_or_else(|e| Verification::CouldNotCheck {
            reason: e.to_string(),
        })
    }

    async fn deactivate(&self, target: &Target, remote_id: &str) -> Result<(), ProviderError> {
        let id = remote_id.to_string();
        let at = target.at.clone();
        self.call(target, "PATCH /keys/{id}", move |_, state, _| {
            match state.find(&id) {
                Some(k) => {
                    let changed = k.active;
                    k.active = false;
                    Ok(((), changed))
                }
                None => Err(ProviderError::new(
                    KIND,
                    Some(&at),
                    ErrorKind::NotFound,
                    format!("no key `{id}`"),
                )
                .with_status(404)),
            }
        })
        .await
    }

    async fn delete(&self, target: &Target, remote_id: &str) -> Result<Deletion, ProviderError> {
        let id = remote_id.to_string();
        let misrouted = opt_param(target, "delete_answers_404") == Some("true");
        self.call(target, "DELETE /keys/{id}", move |_, state, _| {
            if misrouted {
                return Ok((
                    Deletion::NotFound {
                        said: "HTTP 404: not found (simulated: a proxy misrouted the request)"
                            .into(),
                    },
                    false,
                ));
            }
            let before = state.keys.len();
            let tag = state.tag("id", &id);
            state.keys.retain(|k| k.id_tag != tag);
            let changed = state.keys.len() != before;
            let answer = if changed {
                Deletion::Deleted
            } else {
                Deletion::NotFound {
                    said: format!("HTTP 404: no key `{id}`"),
                }
            };
            Ok((answer, changed))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Connection, Credential};
    use std::fs;

    fn target(params: &[(&str, &str)]) -> Target {
        let mut conn = Connection {
            id: "sbx".into(),
            provider: KIND,
            endpoint: None,
            auth: Default::default(),
            params: Default::default(),
        };
        for (k, v) in params {
            conn.params.insert(k.to_string(), v.to_string());
        }
        let mut credential = Credential::new("crm", KIND);
        credential.connection = Some("sbx".into());
        credential.scopes = vec!["read".into()];
        Target {
            at: "acme/crm".parse().unwrap(),
            credential,
            connection: Some(conn),
        }
    }

    fn with_key(t: &Target, id: &str) -> Target {
        let mut t = t.clone();
        t.credential.remote_id = Some(id.to_string());
        t
    }

    #[tokio::test]
    async fn create_verify_deactivate_delete_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let sbx = Sandbox::beside(&dir.path().join("inv.yaml.age"));
        let t = target(&[("ttl_days", "30")]);

        let key = sbx.create(&t).await.unwrap();
        assert!(key.remote_id.starts_with("sbx_"));
        assert!(key.secret.expose_secret().starts_with("sbxsk_"));
        let expires = key.expires_at.unwrap();
        assert_eq!((expires - key.created_at.unwrap()).num_days(), 30);

        assert_eq!(
            sbx.verify(&t, Some(&key.remote_id), &key.secret).await,
            Verification::Valid
        );
        let wrong = Secret::new("sbxsk_not-the-secret-at-all");
        assert!(matches!(
            sbx.verify(&t, Some(&key.remote_id), &wrong).await,
            Verification::Invalid { .. }
        ));

        let listed = sbx.list(&t).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].scopes, vec!["read".to_string()]);

        sbx.deactivate(&t, &key.remote_id).await.unwrap();
        let seen = sbx
            .inspect(&with_key(&t, &key.remote_id))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(seen.state, RemoteStatus::Inactive);
        assert!(matches!(
            sbx.verify(&t, Some(&key.remote_id), &key.secret).await,
            Verification::Invalid { .. }
        ));

        sbx.delete(&t, &key.remote_id).await.unwrap();
        sbx.delete(&t, &key.remote_id).await.unwrap(); // deleting twice succeeds
        assert!(sbx
            .inspect(&with_key(&t, &key.remote_id))
            .await
            .unwrap()
            .is_none());
        assert!(matches!(
            sbx.verify(&t, Some(&key.remote_id), &key.secret).await,
            Verification::Invalid { .. }
        ));
    }

    #[tokio::test]
    async fn state_survives_a_new_instance_and_stores_only_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let inv = dir.path().join("inv.yaml.age");
        let t = target(&[]);
        let key = Sandbox::beside(&inv).create(&t).await.unwrap();

        let state_path = dir.path().join("inv.yaml.age.sandbox.json");
        let text = fs::read_to_string(&state_path).unwrap();
        assert!(!text.contains(key.secret.expose_secret()));
        assert!(text.contains(&hash(&key.secret)));
        // Regression: the state beside the inventory named every client, credential and
        // key id in the clear. It names none, and the sandbox still finds and lists them.
        for named in [key.remote_id.as_str(), "acme", "crm", "acme/crm"] {
            assert!(!text.contains(named), "`{named}` in {text}");
        }
        let listed = Sandbox::beside(&inv).list(&t).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].remote_id, key.remote_id);
        assert_eq!(
            key_record(&state_path, &key.remote_id).unwrap(),
            Some((true, hash(&key.secret)))
        );
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");

        let again = Sandbox::beside(&inv);
        assert_eq!(
            again.verify(&t, Some(&key.remote_id), &key.secret).await,
            Verification::Valid
        );
    }

    #[tokio::test]
    async fn an_owner_may_hold_two_keys() {
        let dir = tempfile::tempdir().unwrap();
        let sbx = Sandbox::beside(&dir.path().join("inv"));
        let t = target(&[("owner", "svc-bot")]);
        sbx.create(&t).await.unwrap();
        sbx.create(&t).await.unwrap();
        let e = sbx.create(&t).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Limit);
        assert!(!e.is_transient());
        assert!(e.to_string().contains("svc-bot"), "{e}");
        // Another owner is not affected.
        let other = target(&[("owner", "svc-other")]);
        sbx.create(&other).await.unwrap();
        assert_eq!(sbx.list(&t).await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn roll_style_replaces_the_value_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let create = target(&[("owner", "o")]);
        let sbx = Sandbox::beside(&dir.path().join("inv"));
        let first = sbx.create(&create).await.unwrap();

        let mut roll = with_key(&create, &first.remote_id);
        roll.connection
            .as_mut()
            .unwrap()
            .params
            .insert("style".into(), "roll".into());
        assert_eq!(
            sbx.capabilities_for(&roll).rotation,
            RotationStyle::RollInPlace
        );
        assert_eq!(
            sbx.capabilities_for(&create).rotation,
            RotationStyle::CreateThenRevoke
        );
        assert_eq!(
            sbx.create(&roll).await.unwrap_err().kind,
            ErrorKind::Unsupported
        );

        let rolled = sbx.roll(&roll).await.unwrap();
        assert_eq!(rolled.remote_id, first.remote_id);
        assert_ne!(rolled.secret, first.secret);
        assert!(matches!(
            sbx.verify(&roll, Some(&first.remote_id), &first.secret)
                .await,
            Verification::Invalid { .. }
        ));
        assert_eq!(
            sbx.verify(&roll, Some(&first.remote_id), &rolled.secret)
                .await,
            Verification::Valid
        );
    }

    #[tokio::test]
    async fn a_new_key_is_refused_until_its_propagation_is_over() {
        let dir = tempfile::tempdir().unwrap();
        let sbx = Sandbox::beside(&dir.path().join("inv"));
        // An hour: the key is certainly still young when checked.
        let slow = target(&[("propagation_ms", "3600000")]);
        assert_eq!(sbx.propagation(&slow), Duration::from_secs(3600));
        let key = sbx.create(&slow).await.unwrap();
        assert!(matches!(
            sbx.verify(&slow, Some(&key.remote_id), &key.secret).await,
            Verification::Invalid { reason } if reason.contains("simulated propagation")
        ));
        // The same key, once the service has caught up (the setting gone).
        let caught_up = target(&[]);
        assert_eq!(sbx.propagation(&caught_up), Duration::ZERO);
        assert_eq!(
            sbx.verify(&caught_up, Some(&key.remote_id), &key.secret)
                .await,
            Verification::Valid
        );
    }

    #[tokio::test]
    async fn use_key_moves_last_used_and_verify_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let sbx = Sandbox::beside(&dir.path().join("inv"));
        let t = target(&[]);
        let key = sbx.create(&t).await.unwrap();
        let t = with_key(&t, &key.remote_id);
        sbx.verify(&t, Some(&key.remote_id), &key.secret).await;
        assert_eq!(sbx.inspect(&t).await.unwrap().unwrap().last_used_at, None);
        assert_eq!(sbx.use_key(&t, &key.secret).await, Verification::Valid);
        assert!(sbx
            .inspect(&t)
            .await
            .unwrap()
            .unwrap()
            .last_used_at
            .is_some());
    }

    #[tokio::test]
    async fn injected_failures_are_transient_and_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let sbx = Sandbox::beside(&dir.path().join("inv"));
        let busy = target(&[("failure_rate", "1")]);
        let e = sbx.create(&busy).await.unwrap_err();
        assert_eq!(e.status, Some(503));
        assert!(e.is_transient());
        let limited = target(&[("rate_limit_rate", "1"), ("rate_limit_window_ms", "200")]);
        let e = sbx.list(&limited).await.unwrap_err();
        assert_eq!((e.kind, e.status), (ErrorKind::RateLimited, Some(429)));
        assert!(e.is_transient());
        // It says when its window resets, as a real limiter's Retry-After does.
        let wait = e.retry_after.expect("a 429 says when to come back");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(200),
            "{wait:?}"
        );
        assert!(matches!(
            sbx.verify(&limited, Some("sbx_X"), &Secret::new("whatever-secret"))
                .await,
            Verification::CouldNotCheck { .. }
        ));
        assert!(sbx.list(&target(&[])).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn bad_params_and_missing_state_location_are_config_errors() {
        let dir = tempfile::tempdir().unwrap();
        let sbx = Sandbox::beside(&dir.path().join("inv"));
        for (k, v) in [
            ("failure_rate", "2"),
            ("latency_ms", "soon"),
            ("style", "swap"),
        ] {
            let e = sbx.list(&target(&[(k, v)])).await.unwrap_err();
            assert_eq!(e.kind, ErrorKind::Config, "{k}");
            assert!(e.to_string().contains(k), "{e}");
        }
        let e = Sandbox::new().list(&target(&[])).await.unwrap_err();
        assert!(e.to_string().contains("state_file"), "{e}");
        let abs = dir.path().join("elsewhere.json");
        let t = target(&[("state_file", abs.to_str().unwrap())]);
        Sandbox::new().create(&t).await.unwrap();
        assert!(abs.exists());
    }

    #[tokio::test]
    async fn a_damaged_state_file_is_an_error_not_a_reset() {
        let dir = tempfile::tempdir().unwrap();
        let inv = dir.path().join("inv");
        fs::write(dir.path().join("inv.sandbox.json"), "{not json").unwrap();
        let e = Sandbox::beside(&inv).list(&target(&[])).await.unwrap_err();
        assert!(e.to_string().contains("damaged"), "{e}");
        assert_eq!(
            fs::read_to_string(dir.path().join("inv.sandbox.json")).unwrap(),
            "{not json"
        );
    }

    #[tokio::test]
    async fn imported_keys_verify_and_are_imported_once() {
        let dir = tempfile::tempdir().unwrap();
        let sbx = Sandbox::beside(&dir.path().join("inv"));
        let mut t = with_key(&target(&[]), "sbx_demo_0001");
        t.credential.secret = Some(Secret::new("sbxsk_demo-secret-0001"));
        sbx.import_key(&t).await.unwrap();
        sbx.import_key(&t).await.unwrap();
        assert_eq!(sbx.list(&t).await.unwrap().len(), 1);
        let s = t.credential.secret.clone().unwrap();
        assert_eq!(
            sbx.verify(&t, Some("sbx_demo_0001"), &s).await,
            Verification::Valid
        );
        t.credential.secret = None;
        assert_eq!(
            sbx.import_key(&t).await.unwrap_err().kind,
            ErrorKind::Config
        );
    }

    #[tokio::test]
    async fn concurrent_creates_for_many_owners_all_land() {
        let dir = tempfile::tempdir().unwrap();
        let sbx = Arc::new(Sandbox::beside(&dir.path().join("inv")));
        let mut tasks = Vec::new();
        for i in 0..40 {
            let sbx = sbx.clone();
            let t = target(&[("owner", &format!("o{i}"))]);
            tasks.push(tokio::spawn(async move { sbx.create(&t).await.unwrap() }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let text = fs::read_to_string(dir.path().join("inv.sandbox.json")).unwrap();
        let state: State = serde_json::from_str(&text).unwrap();
        assert_eq!(state.keys.len(), 40);
    }
}
