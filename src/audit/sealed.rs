//! Sealing one audit entry: its words (time, actor, action, credential, detail) are
//! encrypted with age to the inventory's recipients and written as one base64 payload, so
//! the log names no client, credential or key to whoever can read the directory. Only the
//! chain's bookkeeping (sequence number, generation, hashes) stays in the clear, so the
//! chain can be checked, and appended to, without decrypting anything.

use std::io::{Read, Write};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::keys::parse_recipient;

/// What a sealed entry hides: everything that says who did what to which credential. Its
/// `seq` repeats the line's, so a payload moved to another line is noticed on decryption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Words {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub credential: Option<String>,
    pub detail: String,
}

/// Why a payload could not be opened.
#[derive(Debug)]
pub(super) enum Unsealed {
    /// None of the identities given is a recipient of it: sealed to others (e.g. before
    /// this person was added as a recipient).
    NotForUs,
    /// It does not decrypt or is not an entry: damaged or forged.
    Damaged(String),
}

/// Encrypts `words` to `recipients` (age, binary) and returns them base64-encoded.
pub(super) fn seal(words: &Words, recipients: &[String]) -> Result<String, String> {
    let parsed = recipients
        .iter()
        .map(|r| parse_recipient(r).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let encryptor =
        age::Encryptor::with_recipients(parsed.iter().map(|r| r.as_ref() as &dyn age::Recipient))
            .map_err(|e| format!("cannot encrypt to the inventory's recipients: {e}"))?;
    let plaintext = serde_json::to_vec(words).map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(plaintext.len() + 256);
    let fail = |e: std::io::Error| format!("encryption failed: {e}");
    let mut writer = encryptor.wrap_output(&mut out).map_err(fail)?;
    writer.write_all(&plaintext).map_err(fail)?;
    writer.finish().map_err(fail)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(out))
}

/// Decrypts a payload written by [`seal`] with the first of `identities` that opens it.
pub(super) fn open(payload: &str, identities: &[&dyn age::Identity]) -> Result<Words, Unsealed> {
    let damaged = |why: String| Unsealed::Damaged(why);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(payload)
        .map_err(|e| damaged(format!("its sealed payload is not base64 ({e})")))?;
    let decryptor = age::Decryptor::new(&bytes[..])
        .map_err(|e| damaged(format!("its sealed payload is not an age file ({e})")))?;
    if decryptor.is_scrypt() {
        return Err(damaged(
            "its sealed payload is passphrase-encrypted, which keyward never writes".into(),
        ));
    }
    let mut reader = decryptor
        .decrypt(identities.iter().copied())
        .map_err(|e| match e {
            age::DecryptError::NoMatchingKeys => Unsealed::NotForUs,
            other => damaged(format!("its sealed payload does not decrypt ({other})")),
        })?;
    let mut plaintext = zeroize::Zeroizing::new(Vec::new());
    reader
        .read_to_end(&mut plaintext)
        .map_err(|e| damaged(format!("its sealed payload does not decrypt ({e})")))?;
    serde_json::from_slice(&plaintext)
        .map_err(|e| damaged(format!("its sealed payload is not an entry ({e})")))
}
