//! What the OpenAI, Twilio and SendGrid clients share: the endpoint and its path segments,
//! the name a replacement key gets, the bound on pagination, how a verify call's answer
//! becomes a [`Verification`], and scrubbing the secrets a call handled out of its errors.

use std::future::Future;

use chrono::{DateTime, Utc};

use super::error::{ErrorKind, ProviderError};
use super::http::{check_endpoint, Reply};
use super::revocation::Deletion;
use super::{Target, Verification};
use crate::secret::Secret;

/// Pages a listing follows at most: a provider whose cursor never ends cannot hang a sync.
pub(crate) const MAX_PAGES: usize = 100;

/// What keyward appends to the name of a key it creates, before the time stamp.
const ROTATED_MARK: &str = " (rotated ";

/// The connection's endpoint (or `default`), checked (HTTPS, or HTTP to loopback) and
/// without a trailing slash, so paths can be appended.
pub(crate) fn base_url(target: &Target, default: &str) -> Result<String, ProviderError> {
    let endpoint = target.endpoint_or(default);
    check_endpoint(target.credential.provider, Some(&target.at), &endpoint)?;
    Ok(endpoint.trim_end_matches('/').to_string())
}

/// `value` as one URL path segment: ids come from the inventory and from providers, and a
/// `/` or `..` in one must not reach another resource.
pub(crate) fn seg(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out == "." || out == ".." {
        out = out.replace('.', "%2E");
    }
    out
}

/// The name for the key that replaces one named `base`: the base without an earlier
/// rotation mark, then `(rotated YYYY-MM-DD HH:MM)`, cut to `max_chars` (Twilio allows 64),
/// so a key's lineage stays readable in the provider's console.
pub(crate) fn replacement_name(base: &str, now: DateTime<Utc>, max_chars: usize) -> String {
    let base = match base.find(ROTATED_MARK) {
        Some(i) if base.ends_with(')') => &base[..i],
        _ => base,
    };
    let mark = format!("{ROTATED_MARK}{})", now.format("%Y-%m-%d %H:%M"));
    let room = max_chars.saturating_sub(mark.chars().count());
    let base: String = base.trim().chars().take(room).collect();
    format!("{}{mark}", base.trim_end())
}

/// The name a new key starts from when the old key's name is unknown: the credential's
/// name, else its address.
pub(crate) fn display_name(target: &Target) -> String {
    if target.credential.name.is_empty() {
        target.at.to_string()
    } else {
        target.credential.name.clone()
    }
}

/// Masks every value in `secrets` wherever it appears in `text`: an answer may echo a key
/// back, shorter than the generic token redaction catches.
fn scrub_text(text: &str, target: &Target, extra: Option<&Secret>) -> String {
    let held = target.connection.iter().flat_map(|c| c.auth.values());
    let own = target.credential.secret.iter();
    held.chain(own)
        .chain(extra)
        .fold(text.to_string(), |t, s| s.redact(&t))
}

/// Runs one provider operation on `target`; any error it returns has the connection's
/// management secrets and the credential's own secret masked, wherever in the provider's
/// answer they came from.
pub(crate) async fn guarded<T>(
    target: &Target,
    work: impl Future<Output = Result<T, ProviderError>>,
) -> Result<T, ProviderError> {
    work.await.map_err(|mut e| {
        e.message = scrub_text(&e.message, target, None);
        e
    })
}

/// The verdict on a read-only call made with the key being checked.
///
/// 2xx: valid. 401: the provider refused the key. 403: the key was recognised but may not
/// make this call, which proves nothing either way, so a person must confirm. Anything else,
/// including failures after retries: could not check now.
pub(crate) fn verification(
    target: &Target,
    outcome: Result<Reply, ProviderError>,
    secret: &Secret,
    call_desc: &str,
) -> Verification {
    match outcome {
        Ok(reply) if (200..300).contains(&reply.status) => Verification::Valid,
        Ok(reply) => {
            let status = reply.status;
            let said = scrub_text(&reply.excerpt(), target, Some(secret));
            match status {
                401 => Verification::Invalid {
                    reason: format!("{call_desc}: HTTP 401: {said}"),
                },
                403 => Verification::CannotCheck {
                    reason: format!(
                        "{call_desc}: HTTP 403: {said}; the key was recognised but may not make \
                         this call, so check it by hand"
                    ),
                },
                _ => Verification::CouldNotCheck {
                    reason: format!("{call_desc}: HTTP {status}: {said}"),
                },
            }
        }
        Err(e) => Verification::CouldNotCheck {
            reason: scrub_text(&e.to_string(), target, Some(secret)),
        },
    }
}

/// The string `field` of a create answer that could not be read in full: the id of what was
/// created, so it can be deleted again rather than left behind unrecorded.
pub(crate) fn id_in(reply: &Reply, field: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(&reply.body).ok()?;
    v.get(field)?.as_str().map(str::to_string)
}

/// `error` from a create call, saying what became of `what` the provider may have made:
/// deleted again (`cleanup` succeeded), left behind (it failed), not found when deleted again
/// (unconfirmed), or unknown (a 5xx, a lost or unreadable answer). Errors that prove nothing
/// was made (4xx, 429) pass unchanged.
pub(crate) fn after_create(
    error: ProviderError,
    what: &str,
    cleanup: Option<Result<Deletion, ProviderError>>,
) -> ProviderError {
    let uncertain = matches!(error.kind, ErrorKind::Transport | ErrorKind::BadResponse)
        || error.status.is_some_and(|s| s >= 500);
    let tail = match cleanup {
        Some(Ok(Deletion::NotFound { said })) => format!(
            "{what} was created, and deleting it again answered \"not found\" ({said}): look \
             for it with `list`"
        ),
        Some(Ok(_)) => format!("{what} was created and deleted again"),
        Some(Err(e)) => format!(
            "{what} was created and could not be deleted again ({}): delete it by hand",
            e.message
        ),
        None if uncertain => format!("{what} may have been created: look for it with `list`"),
        None => return error,
    };
    ProviderError {
        message: format!("{}; {tail}", error.message),
        ..error
    }
}

/// Seconds since the epoch as a time, if in range.
pub(crate) fn unix_time(secs: Option<i64>) -> Option<DateTime<Utc>> {
    secs.and_then(|s| DateTime::from_timestamp(s, 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn path_segments_cannot_climb_or_split() {
        assert_eq!(seg("SKabc_1-2.3~"), "SKabc_1-2.3~");
        assert_eq!(seg("../x"), "..%2Fx");
        assert_eq!(seg(".."), "%2E%2E");
        assert_eq!(seg("a b?c#d"), "a%20b%3Fc%23d");
    }

    #[test]
    fn replacement_names_replace_an_earlier_mark_and_fit() {
        let now = Utc.with_ymd_and_hms(2026, 11, 26, 6, 30, 0).unwrap();
        assert_eq!(
            replacement_name("CRM bot", now, 64),
            "CRM bot (rotated 2026-11-26 06:30)"
        );
        assert_eq!(
            replacement_name("CRM bot (rotated 2025-01-01 00:00)", now, 64),
            "CRM bot (rotated 2026-11-26 06:30)"
        );
        let long = "x".repeat(100);
        let name = replacement_name(&long, now, 64);
        assert_eq!(name.chars().count(), 64);
        assert!(name.ends_with("(rotated 2026-11-26 06:30)"));
    }
}
