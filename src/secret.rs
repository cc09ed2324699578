//! The one type a secret value lives in, from a provider's answer to the encrypted file.
//!
//! A [`Secret`] zeroizes its memory on drop, prints as a mask under `Debug` and `Display`,
//! and serializes its value only inside [`with_secrets_exposed`], which the store calls
//! while it builds the plaintext it encrypts. Anywhere else (a JSON export, a log, a
//! snapshot) serialization yields the mask, so a forgotten field cannot leak.

use std::cell::Cell;
use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a secret shows instead of its value.
pub const MASK: &str = "••••••••";

thread_local! {
    static EXPOSE_FOR_STORAGE: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with secret serialization switched on for this thread.
///
/// Only the store's encryption path calls this: what `f` serializes goes straight into
/// the age stream.
pub fn with_secrets_exposed<T>(f: impl FnOnce() -> T) -> T {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            EXPOSE_FOR_STORAGE.with(|c| c.set(self.0));
        }
    }
    let previous = EXPOSE_FOR_STORAGE.with(|c| c.replace(true));
    let _reset = Reset(previous);
    f()
}

/// A credential's secret value: an API key, a token, a client secret.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    /// Wraps a value; the caller's copy should be a `Zeroizing` or dropped promptly.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(SecretString::from(value.into()))
    }

    /// The value itself. Every call site is a place a secret leaves keyward's custody:
    /// an HTTP header, a deploy command's stdin, the encrypted file, a reveal on request.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }

    /// The last four characters, for telling two keys apart without revealing either.
    /// Short secrets show nothing.
    pub fn hint(&self) -> String {
        let v = self.expose_secret();
        let n = v.chars().count();
        if n < 16 {
            return MASK.to_string();
        }
        let tail: String = v.chars().skip(n - 4).collect();
        format!("{MASK}{tail}")
    }

    /// Replaces every occurrence of this secret in `text` with the mask.
    pub fn redact(&self, text: &str) -> String {
        let v = self.expose_secret();
        if v.len() < 4 {
            return text.to_string();
        }
        text.replace(v, MASK)
    }
}

/// Masks runs of 32 or more token characters: whatever a provider echoes back, a key or a
/// token never reaches an error message.
pub fn redact_tokens(text: &str) -> String {
    let is_token = |c: char| c.is_ascii_alphanumeric() || "-_.+/=".contains(c);
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 32 {
            out.push_str(MASK);
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if is_token(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// For a parser's "invalid type: string \"…\", expected a map" and the like, which quote
/// the offending value (it may be a secret typed in the wrong place): just what was expected.
/// `None` when the message quotes no value.
pub fn expected_part(message: &str) -> Option<&str> {
    let quotes_value = [
        "invalid type: ",
        "invalid value: ",
        "invalid length ",
        "unknown variant ",
    ]
    .iter()
    .any(|p| message.starts_with(p));
    match message.rsplit_once(", expected ") {
        Some((_, expected)) if quotes_value => Some(expected),
        _ => None,
    }
}

impl PartialEq for Secret {
    /// Constant-time enough for our use: both values are ours, and comparison only
    /// decides whether a key changed.
    fn eq(&self, other: &Self) -> bool {
        self.expose_secret() == other.expose_secret()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if EXPOSE_FOR_STORAGE.with(|c| c.get()) {
            s.serialize_str(self.expose_secret())
        } else {
            s.serialize_str(MASK)
        }
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = zeroize::Zeroizing::new(String::deserialize(d)?);
        Ok(Secret::new(value.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_display_and_plain_serialization_mask_the_value() {
        let s = Secret::new("sk-live-1234567890abcdef");
        assert_eq!(format!("{s:?}"), MASK);
        assert_eq!(format!("{s}"), MASK);
        assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{MASK}\""));
    }

    #[test]
    fn storage_serialization_writes_the_value_and_resets_after() {
        let s = Secret::new("sk-live-1234567890abcdef");
        let inside = with_secrets_exposed(|| serde_json::to_string(&s).unwrap());
        assert_eq!(inside, "\"sk-live-1234567890abcdef\"");
        assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{MASK}\""));
    }

    #[test]
    fn hint_shows_only_the_tail_of_long_secrets() {
        assert_eq!(
            Secret::new("sk-live-1234567890abcdef").hint(),
            format!("{MASK}cdef")
        );
        assert_eq!(Secret::new("short").hint(), MASK);
    }

    #[test]
    fn redact_masks_every_occurrence() {
        let s = Secret::new("tok-abcdef");
        assert_eq!(
            s.redact("a tok-abcdef b tok-abcdef"),
            format!("a {MASK} b {MASK}")
        );
    }
}
