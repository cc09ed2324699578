//! Identities that open an inventory, and recipients that saves encrypt to.
//!
//! An identity file may hold age X25519 keys, age plugin identities (hardware keys), or an
//! OpenSSH private key (ed25519 or rsa), encrypted or not. Passphrases, for SSH keys and for
//! passphrase-encrypted inventories, are asked for on the terminal, never read from argv or
//! the environment.

use std::io::BufReader;
use std::path::{Path, PathBuf};

use age::secrecy::{ExposeSecret, SecretString};

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
        let answer = rpassword::prompt_password(format!("{message} [{yes}/{no}]: ")).ok()?;
        Some(answer.trim().eq_ignore_ascii_case(yes) || answer.trim().eq_ignore_ascii_case("y"))
    }

    fn request_public_string(&self, description: &str) -> Option<String> {
        rpassword::prompt_password(format!("{description}: ")).ok()
    }

    fn request_passphrase(&self, description: &str) -> Option<SecretString> {
        rpassword::prompt_password(format!("{description}: "))
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
            if let age::ssh::Identity::Unsupported(k) = &identity {
                return Err(bad(format!("unsupported SSH key type: {k:?}")));
            }
            self.identities
                .push(Box::new(identity.with_callbacks(TerminalPrompt)));
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
        rpassword::prompt_password(format!("Passphrase for {}: ", path.display()))
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
