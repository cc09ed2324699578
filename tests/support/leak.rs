//! The leak scan: whether any of a set of secrets appears in some bytes, raw or encoded.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;

/// Every form a secret is looked for in: raw, base64 (standard and URL-safe, padded and
/// not) and hex (lower and upper case), each with the name of the form.
pub fn secret_forms(secret: &str) -> Vec<(&'static str, String)> {
    let raw = secret.as_bytes();
    vec![
        ("raw", secret.to_string()),
        ("base64", STANDARD.encode(raw)),
        ("base64 unpadded", STANDARD_NO_PAD.encode(raw)),
        ("base64url", URL_SAFE.encode(raw)),
        ("base64url unpadded", URL_SAFE_NO_PAD.encode(raw)),
        ("hex", hex::encode(raw)),
        ("HEX", hex::encode_upper(raw)),
    ]
}

/// Fails naming `what`, the form and the secret's last four characters if any of `secrets`
/// appears in `haystack` in any of its [`secret_forms`].
pub fn assert_no_secret(haystack: &[u8], what: &str, secrets: &[String]) {
    for secret in secrets {
        assert!(
            secret.len() >= 8,
            "a secret of {} characters is too short to scan for",
            secret.len()
        );
        for (form, needle) in secret_forms(secret) {
            let found = haystack
                .windows(needle.len())
                .any(|w| w == needle.as_bytes());
            let tail: String = secret
                .chars()
                .rev()
                .take(4)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            assert!(!found, "{what}: holds a secret (…{tail}) in {form} form");
        }
    }
}
