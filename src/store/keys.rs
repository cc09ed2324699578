//! Identities that open an inventory, and recipients that saves encrypt to.
//!
//! An identity file may hold age X25519 keys, age plugin identities (hardware keys), or an
//! OpenSSH private key (ed25519 or rsa), encrypted or not. Passphrases, for SSH keys and for
//! passphrase-encrypted inventories, are asked for on the terminal, never read from argv or
//! the environment; a passphrase-encrypted inventory's may also come from a private file
//! ([`read_passphrase_file`]) for cron.
//!
//! An encrypted SSH key is asked for once per run, whatever the number of recipients: age's
//! own wrapper asks again for every recipient stanza of the file ([`EncryptedSshKey`]).

use std::collections::BTreeMap;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use age::secrecy::{ExposeSecret, SecretString};
use age_core::format::{FileKey, Stanza};
use sha2::{Digest, Sha256};

use super::StoreError;

/// Asks the person at the terminal; `/dev/tty` is used, so it works even when stdin and
/// stdout are redirected (cron jobs get "no terminal" instead of a hang).
#[derive(Clone, Copy, Debug, Default)]
pub struct TerminalPrompt;

impl age::Callbacks for TerminalPrompt {
    fn display_message(&self, message: &str) {
        eprintln!("{message}");
    }

    fn confirm(&self, message: &str, yes: &str, no: Option<&str>) -> Option<bool> {
        let no = no.unwrap_or("no");
        let answer = ask_on_terminal(format!("{message} [{yes}/{no}]: ")).ok()?;
        Some(answer.trim().eq_ignore_ascii_case(yes) || answer.trim().eq_ignore_ascii_case("y"))
    }

    fn request_public_string(&self, description: &str) -> Option<String> {
        ask_on_terminal(format!("{description}: ")).ok()
    }

    fn request_passphrase(&self, description: &str) -> Option<SecretString> {
        ask_on_terminal(format!("{description}: "))
            .ok()
            .map(SecretString::from)
    }
}

/// The identities this run may decrypt with, and where they came from.
#[derive(Default)]
pub struct Keyring {
    identities: Vec<Box<dyn age::Identity + Send + Sync>>,
    sources: Vec<PathBuf>,
    passphrase: Option<SecretString>,
    /// The run-wide cache keys ([`EncryptedSshKey::digest`]) of its encrypted SSH keys.
    encrypted_ssh_keys: Vec<[u8; 32]>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("sources", &self.sources)
            .field("identities", &self.identities.len())
            .finish()
    }
}

const SSH_MARKERS: [&str; 2] = [
    "-----BEGIN OPENSSH PRIVATE KEY-----",
    "-----BEGIN RSA PRIVATE KEY-----",
];

impl Keyring {
    /// An empty keyring (a passphrase may still be added or asked for).
    pub fn new() -> Self {
        Keyring::default()
    }

    /// Loads identities from each file in turn.
    pub fn load(paths: &[PathBuf]) -> Result<Self, StoreError> {
        let mut ring = Keyring::new();
        for path in paths {
            ring.add_file(path)?;
        }
        Ok(ring)
    }

    /// Adds the identities in `path`: an age identity file or an OpenSSH private key.
    pub fn add_file(&mut self, path: &Path) -> Result<(), StoreError> {
        let bad = |detail: String| StoreError::Identity {
            path: path.to_path_buf(),
            detail,
        };
        super::refuse_exposed(path, super::Guarded::Identity)?;
        let text = std::fs::read_to_string(path).map_err(|e| bad(io_words(&e)))?;
        let text = zeroize::Zeroizing::new(text);
        if SSH_MARKERS.iter().any(|m| text.contains(m)) {
            let identity = age::ssh::Identity::from_buffer(
                BufReader::new(text.as_bytes()),
                Some(path.display().to_string()),
            )
            .map_err(|e| bad(format!("not a usable SSH private key: {e}")))?;
            match identity {
                age::ssh::Identity::Unsupported(k) => {
                    return Err(bad(format!("unsupported SSH key type: {k:?}")));
                }
                age::ssh::Identity::Encrypted(_) => {
                    let key = EncryptedSshKey {
                        path: path.to_path_buf(),
                        digest: Sha256::digest(text.as_bytes()).into(),
                        key: identity,
                    };
                    self.encrypted_ssh_keys.push(key.digest);
                    self.identities.push(Box::new(key));
                }
                age::ssh::Identity::Unencrypted(_) => self.identities.push(Box::new(identity)),
            }
        } else {
            let file = age::IdentityFile::from_buffer(BufReader::new(text.as_bytes()))
                .map_err(|e| bad(format!("not an age identity file: {e}")))?
                .with_callbacks(TerminalPrompt);
            let identities = file
                .into_identities()
                .map_err(|e| bad(format!("cannot use it: {e}")))?;
            if identities.is_empty() {
                return Err(bad("holds no identities".into()));
            }
            self.identities.extend(identities);
        }
        self.sources.push(path.to_path_buf());
        Ok(())
    }

    /// Adds an identity held in memory.
    pub fn add_identity(&mut self, identity: Box<dyn age::Identity + Send + Sync>) {
        self.identities.push(identity);
    }

    /// Uses `passphrase` for passphrase-encrypted inventories instead of asking.
    pub fn set_passphrase(&mut self, passphrase: SecretString) {
        self.passphrase = Some(passphrase);
    }

    /// The passphrase given or, failing that, asked for on the terminal.
    pub(crate) fn passphrase(&self, path: &Path) -> Result<SecretString, StoreError> {
        if let Some(p) = &self.passphrase {
            return Ok(SecretString::from(p.expose_secret().to_string()));
        }
        ask_on_terminal(format!("Passphrase for {}: ", path.display()))
            .map(SecretString::from)
            .map_err(|_| StoreError::NoTerminal {
                path: path.to_path_buf(),
            })
    }

    /// The passphrase given with [`Keyring::set_passphrase`], if any; never asks.
    pub(crate) fn given_passphrase(&self) -> Option<SecretString> {
        self.passphrase
            .as_ref()
            .map(|p| SecretString::from(p.expose_secret().to_string()))
    }

    /// The first encrypted SSH key of this keyring that could not be unlocked this run, and
    /// why: what a failed decryption reports instead of "no identity matches".
    pub(crate) fn ssh_key_left_locked(&self) -> Option<(PathBuf, SshUnlockFailure)> {
        let cache = unlocked_ssh_keys();
        self.encrypted_ssh_keys
            .iter()
            .find_map(|digest| match cache.get(digest) {
                Some((path, SshUnlock::Failed(why))) => Some((path.clone(), *why)),
                _ => None,
            })
    }

    /// The identities, for a decryptor.
    pub(crate) fn identities(&self) -> impl Iterator<Item = &dyn age::Identity> {
        self.identities
            .iter()
            .map(|i| i.as_ref() as &dyn age::Identity)
    }

    /// Where the identities came from, for error messages.
    pub fn sources(&self) -> &[PathBuf] {
        &self.sources
    }

    /// Whether no identity was loaded.
    pub fn is_empty(&self) -> bool {
        self.identities.is_empty()
    }
}

/// Why an encrypted SSH key stayed locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SshUnlockFailure {
    /// There is no terminal to ask on (cron, a pipeline, `setsid`).
    NoTerminal,
    /// The passphrase typed does not decrypt the key.
    WrongPassphrase,
}

/// What this run knows of one encrypted SSH key.
enum SshUnlock {
    /// Decrypted: an unencrypted [`age::ssh::Identity`], whose key material age keeps in
    /// zeroizing types; it lives until the process ends, never on disk.
    Open(Arc<age::ssh::Identity>),
    /// Asked once and failed: not asked again this run.
    Failed(SshUnlockFailure),
}

/// Encrypted SSH keys by the SHA-256 of their file, for the whole run: a command opens the
/// inventory more than once (a read, then a locked re-read), and the dashboard re-reads it
/// every time it changes; one prompt serves them all. Keyed by content, so a key file
/// replaced meanwhile is asked for again.
static UNLOCKED_SSH_KEYS: Mutex<BTreeMap<[u8; 32], (PathBuf, SshUnlock)>> =
    Mutex::new(BTreeMap::new());

fn unlocked_ssh_keys() -> std::sync::MutexGuard<'static, BTreeMap<[u8; 32], (PathBuf, SshUnlock)>> {
    // A panic while holding it leaves only whole entries behind: the map stays usable.
    UNLOCKED_SSH_KEYS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Set for runs that must never prompt (shell completion): passphrases are then treated as
/// if there were no terminal.
static NEVER_ASK: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// From now on, this run never asks for a passphrase: whatever needs one fails as without a
/// terminal. For helpers that run inside a shell's completion, where a prompt would hang.
pub fn never_ask() {
    NEVER_ASK.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Asks for a passphrase on the terminal (`/dev/tty`); `Err` without one, or when this run
/// must [`never_ask`].
fn ask_on_terminal(prompt: String) -> std::io::Result<String> {
    if NEVER_ASK.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(std::io::ErrorKind::Unsupported.into());
    }
    rpassword::prompt_password(prompt)
}

/// The stanza tags an SSH key can unwrap: no prompt for a file's age or plugin stanzas.
const SSH_STANZA_TAGS: [&str; 2] = ["ssh-ed25519", "ssh-rsa"];

/// A passphrase-protected OpenSSH key that asks for its passphrase the first time a stanza
/// it could unwrap is tried, and only then, once per run ([`UNLOCKED_SSH_KEYS`]).
struct EncryptedSshKey {
    path: PathBuf,
    digest: [u8; 32],
    /// The [`age::ssh::Identity::Encrypted`] key as read.
    key: age::ssh::Identity,
}

impl EncryptedSshKey {
    /// The decrypted key, asking for the passphrase on the terminal if this run has not.
    fn unlocked(&self) -> Option<Arc<age::ssh::Identity>> {
        let mut cache = unlocked_ssh_keys();
        match cache.get(&self.digest) {
            Some((_, SshUnlock::Open(key))) => return Some(key.clone()),
            Some((_, SshUnlock::Failed(_))) => return None,
            None => {}
        }
        let age::ssh::Identity::Encrypted(encrypted) = &self.key else {
            return None;
        };
        let outcome =
            match ask_on_terminal(format!("Passphrase for SSH key {}: ", self.path.display())) {
                Err(_) => SshUnlock::Failed(SshUnlockFailure::NoTerminal),
                Ok(typed) => match encrypted.decrypt(SecretString::from(typed)) {
                    Ok(key) => SshUnlock::Open(Arc::new(age::ssh::Identity::Unencrypted(key))),
                    Err(_) => SshUnlock::Failed(SshUnlockFailure::WrongPassphrase),
                },
            };
        let key = match &outcome {
            SshUnlock::Open(key) => Some(key.clone()),
            SshUnlock::Failed(_) => None,
        };
        cache.insert(self.digest, (self.path.clone(), outcome));
        key
    }
}

impl age::Identity for EncryptedSshKey {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, age::DecryptError>> {
        if !SSH_STANZA_TAGS.contains(&stanza.tag.as_str()) {
            return None;
        }
        let key = self.unlocked()?;
        age::Identity::unwrap_stanza(key.as_ref(), stanza)
    }
}

/// Reads a passphrase-encrypted inventory's passphrase from `path` (`--passphrase-file`,
/// `KEYWARD_PASSPHRASE_FILE`), for cron: the file must be a regular file owned by this
/// user that nobody else may read or write (mode 0600 or 0400), else it is refused, never
/// followed through a link. The passphrase is its first line.
pub fn read_passphrase_file(path: &Path) -> Result<SecretString, StoreError> {
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;
    let bad = |detail: String| StoreError::PassphraseFile {
        path: path.to_path_buf(),
        detail,
    };
    let mut file = crate::fsutil::open_read(path).map_err(|e| bad(io_words(&e)))?;
    let meta = file.metadata().map_err(|e| bad(io_words(&e)))?;
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return Err(bad(format!(
            "owned by uid {}, not by you (uid {me}); keep it in a file of your own, mode 0600",
            meta.uid()
        )));
    }
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(bad(format!(
            "mode {mode:04o} lets others read or change it; `chmod 600` it"
        )));
    }
    let mut text = zeroize::Zeroizing::new(String::new());
    file.read_to_string(&mut text)
        .map_err(|_| bad("not UTF-8 text".into()))?;
    let first = text.lines().next().unwrap_or("");
    if first.is_empty() {
        return Err(bad(
            "its first line is empty: it should hold the passphrase".into(),
        ));
    }
    Ok(SecretString::from(first.to_string()))
}

/// Parses one recipient string from the inventory: `age1…`, `age1plugin…`, `ssh-ed25519 …`
/// or `ssh-rsa …`.
pub fn parse_recipient(text: &str) -> Result<Box<dyn age::Recipient + Send>, StoreError> {
    let text = text.trim();
    // A private key pasted where a public one belongs is never echoed back.
    if ["AGE-SECRET-KEY-", "AGE-PLUGIN-", "-----BEGIN"]
        .iter()
        .any(|p| text.starts_with(p))
    {
        return Err(StoreError::Recipient {
            recipient: "(a private key)".into(),
            detail: "this is a private key: pass its public key (`age1…`, `ssh-ed25519 …`), and keep this one secret".into(),
        });
    }
    let bad = |detail: String| StoreError::Recipient {
        recipient: text.chars().take(60).collect(),
        detail,
    };
    if text.starts_with("ssh-") {
        text.parse::<age::ssh::Recipient>()
            .map(|r| Box::new(r) as _)
            .map_err(|e| bad(format!("not a usable SSH public key: {e:?}")))
    } else if text.starts_with("age1plugin") {
        let r = text
            .parse::<age::plugin::Recipient>()
            .map_err(|e| bad(format!("not a plugin recipient: {e}")))?;
        let plugin = age::plugin::RecipientPluginV1::new(
            r.plugin(),
            std::slice::from_ref(&r),
            &[],
            TerminalPrompt,
        )
        .map_err(|e| bad(format!("plugin unavailable: {e}")))?;
        Ok(Box::new(plugin))
    } else if text.starts_with("age1") {
        text.parse::<age::x25519::Recipient>()
            .map(|r| Box::new(r) as _)
            .map_err(|e| bad(format!("not an age public key: {e}")))
    } else {
        Err(bad(
            "expected an age1… key or an ssh-ed25519/ssh-rsa public key".into(),
        ))
    }
}

/// The public recipient for the identity file `path`: the age key's public half, or the
/// SSH key's `.pub` file beside it.
pub fn recipient_for_identity_file(path: &Path) -> Result<String, StoreError> {
    let bad = |detail: String| StoreError::Identity {
        path: path.to_path_buf(),
        detail,
    };
    super::refuse_exposed(path, super::Guarded::Identity)?;
    let text =
        zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|e| bad(io_words(&e)))?);
    if SSH_MARKERS.iter().any(|m| text.contains(m)) {
        let mut pub_path = path.as_os_str().to_owned();
        pub_path.push(".pub");
        let public = std::fs::read_to_string(&pub_path).map_err(|e| {
            bad(format!(
                "its public key {} is needed as the recipient: {}",
                PathBuf::from(&pub_path).display(),
                io_words(&e)
            ))
        })?;
        let line = public.lines().next().unwrap_or("").trim().to_string();
        parse_recipient(&line)?;
        return Ok(line);
    }
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("AGE-SECRET-KEY-") {
            let id: age::x25519::Identity =
                line.parse().map_err(|e| bad(format!("bad age key: {e}")))?;
            return Ok(id.to_public().to_string());
        }
        if let Some(r) = line
            .strip_prefix("# public key: ")
            .or_else(|| line.strip_prefix("# Recipient: "))
        {
            return Ok(r.trim().to_string());
        }
    }
    Err(bad(
        "holds no key whose recipient keyward can derive; add it with `keyward recipients add`"
            .into(),
    ))
}

/// Generates a new X25519 identity and writes it to `path` (mode 0600, missing parents
/// created 0700, whatever the umask); returns its public recipient. Refuses to overwrite
/// anything, a symbolic link included.
pub fn generate_identity_file(path: &Path) -> Result<String, StoreError> {
    use std::io::Write;
    let bad = |detail: String| StoreError::Identity {
        path: path.to_path_buf(),
        detail,
    };
    crate::fsutil::create_private_dir_all(&crate::fsutil::parent_dir(path))
        .map_err(|e| bad(io_words(&e)))?;
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let mut file = crate::fsutil::create_new_private(path).map_err(|e| bad(io_words(&e)))?;
    let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let body = zeroize::Zeroizing::new(format!(
        "# created: {created}\n# public key: {recipient}\n{}\n",
        identity.to_string().expose_secret()
    ));
    file.write_all(body.as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| bad(io_words(&e)))?;
    Ok(recipient)
}

/// An I/O error in words, without the OS's "(os error N)" noise.
pub(crate) fn io_words(e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::NotFound => "no such file".into(),
        K::PermissionDenied => "permission denied".into(),
        K::AlreadyExists => "already exists".into(),
        K::IsADirectory => "is a directory".into(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_string(),
                None => s,
            }
        }
    }
}
