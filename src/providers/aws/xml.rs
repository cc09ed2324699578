//! The XML answers of the IAM and STS Query APIs, decoded into typed shapes.
//!
//! Every decoding failure (not UTF-8, not XML, cut off, a required field missing, a date
//! that is not one) becomes an [`ErrorKind::BadResponse`](crate::providers::ErrorKind)
//! that says what was wrong without quoting the answer, which may hold a secret.
//! Field names follow AWS's service model (`service-2.json` for IAM 2010-05-08).

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::providers::http::{redact_tokens, Reply};
use crate::providers::ProviderError;
use crate::secret::Secret;

/// Decodes `reply`'s body as the XML shape `T`.
pub fn decode<T: DeserializeOwned>(reply: &Reply) -> Result<T, ProviderError> {
    decode_bytes(&reply.body).map_err(|what| reply.bad_response(what))
}

fn decode_bytes<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the answer is not UTF-8 text".to_string())?;
    if !text.trim_start().starts_with('<') {
        return Err("the answer is not XML".to_string());
    }
    use quick_xml::errors::{IllFormedError, SyntaxError};
    use quick_xml::{DeError, Error};
    quick_xml::de::from_str(text).map_err(|e| match e {
        DeError::UnexpectedEof
        | DeError::InvalidXml(Error::IllFormed(IllFormedError::MissingEndTag(_)))
        | DeError::InvalidXml(Error::Syntax(
            SyntaxError::UnclosedTag
            | SyntaxError::UnclosedCData
            | SyntaxError::UnclosedComment
            | SyntaxError::UnclosedDoubleQuotedAttributeValue
            | SyntaxError::UnclosedSingleQuotedAttributeValue,
        )) => "the answer was cut off".to_string(),
        DeError::InvalidXml(_) => "the answer is not well-formed XML".to_string(),
        // serde's own messages name the field (`missing field `AccessKeyId``); a value it
        // quotes could be a secret, so long tokens are masked.
        other => format!(
            "the answer does not match the API: {}",
            redact_tokens(&other.to_string())
        ),
    })
}

/// A timestamp field: absent or empty is `None`, anything else must be RFC 3339.
pub fn date(field: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, String> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => DateTime::parse_from_rfc3339(v)
            .map(|d| Some(d.with_timezone(&Utc)))
            .map_err(|_| format!("the answer's `{field}` is not a date")),
    }
}

/// A list member wrapper: `<AccessKeyMetadata><member>…</member></AccessKeyMetadata>`.
#[derive(Debug, Deserialize)]
pub struct Members<T> {
    /// The items, in order.
    #[serde(default = "Vec::new")]
    pub member: Vec<T>,
}

/// `ListAccessKeys`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAccessKeysResponse {
    /// The result wrapper.
    pub list_access_keys_result: ListAccessKeysResult,
}

/// `ListAccessKeysResult`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAccessKeysResult {
    /// The user's keys. Required by the model; an empty list is `<AccessKeyMetadata/>`.
    pub access_key_metadata: Members<AccessKeyMetadata>,
    /// Whether another page follows.
    #[serde(default)]
    pub is_truncated: bool,
    /// Where the next page starts.
    pub marker: Option<String>,
}

/// One key in a listing.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessKeyMetadata {
    /// The key's id.
    pub access_key_id: String,
    /// `Active`, `Inactive` or `Expired`.
    pub status: KeyStatus,
    /// When it was issued.
    pub create_date: Option<String>,
}

/// An access key's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum KeyStatus {
    /// Accepted for API calls.
    Active,
    /// Refused, but not deleted.
    Inactive,
    /// Past an expiry AWS set.
    Expired,
}

/// `CreateAccessKey`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateAccessKeyResponse {
    /// The result wrapper.
    pub create_access_key_result: CreateAccessKeyResult,
}

/// `CreateAccessKeyResult`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateAccessKeyResult {
    /// The new key, with its secret.
    pub access_key: NewAccessKey,
}

/// The `AccessKey` shape: the only answer that carries a secret access key.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NewAccessKey {
    /// The owning user.
    pub user_name: String,
    /// The key's id.
    pub access_key_id: String,
    /// The secret, decoded straight into a zeroizing [`Secret`].
    pub secret_access_key: Secret,
    /// When it was issued.
    pub create_date: Option<String>,
}

/// Only the key id of a `CreateAccessKey` answer: enough to take the key back when the
/// rest of the answer is unusable.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreatedKeyId {
    /// The result wrapper.
    pub create_access_key_result: CreatedKeyIdResult,
}

/// `CreateAccessKeyResult`, the id only.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreatedKeyIdResult {
    /// The new key, its id only.
    pub access_key: KeyIdOnly,
}

/// An `AccessKey` read for its id alone.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyIdOnly {
    /// The key's id.
    pub access_key_id: String,
}

/// `GetAccessKeyLastUsed`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetAccessKeyLastUsedResponse {
    /// The result wrapper.
    pub get_access_key_last_used_result: GetAccessKeyLastUsedResult,
}

/// `GetAccessKeyLastUsedResult`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetAccessKeyLastUsedResult {
    /// The user that owns the key.
    pub user_name: Option<String>,
    /// When, where and with what the key was last used.
    pub access_key_last_used: AccessKeyLastUsed,
}

/// `AccessKeyLastUsed`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessKeyLastUsed {
    /// Absent when the key was never used (`ServiceName` and `Region` then say `N/A`).
    pub last_used_date: Option<String>,
}

/// `ListUsers`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListUsersResponse {
    /// The result wrapper.
    pub list_users_result: ListUsersResult,
}

/// `ListUsersResult`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListUsersResult {
    /// The account's users. Required by the model; an empty list is `<Users/>`.
    pub users: Members<UserName>,
    /// Whether another page follows.
    #[serde(default)]
    pub is_truncated: bool,
    /// Where the next page starts.
    pub marker: Option<String>,
}

/// A `User` read for its name alone: discovery needs no more.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserName {
    /// The user's name.
    pub user_name: String,
}

/// STS `GetCallerIdentity`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetCallerIdentityResponse {
    /// The result wrapper.
    pub get_caller_identity_result: GetCallerIdentityResult,
}

/// `GetCallerIdentityResult`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetCallerIdentityResult {
    /// The caller's ARN.
    pub arn: String,
}

/// The error shape both IAM and STS answer with: `<ErrorResponse><Error><Code>…`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorResponse {
    error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorDetail {
    code: String,
}

/// The error code of an error answer (`NoSuchEntity`, `LimitExceeded`…), if it has one.
pub fn error_code(body: &[u8]) -> Option<String> {
    decode_bytes::<ErrorResponse>(body)
        .ok()
        .map(|e| e.error.code.trim().to_string())
        .filter(|c| !c.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = r#"<ListAccessKeysResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ListAccessKeysResult><AccessKeyMetadata><member><UserName>bob</UserName><AccessKeyId>AKIAONE</AccessKeyId><Status>Active</Status><CreateDate>2026-11-26T06:29:45.713529Z</CreateDate></member><member><UserName>bob</UserName><AccessKeyId>AKIATWO</AccessKeyId><Status>Inactive</Status><CreateDate>2012-05-08T23:34:01Z</CreateDate></member></AccessKeyMetadata><IsTruncated>false</IsTruncated></ListAccessKeysResult><ResponseMetadata><RequestId>x</RequestId></ResponseMetadata></ListAccessKeysResponse>"#;

    const CREATE: &str = r#"<CreateAccessKeyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><CreateAccessKeyResult><AccessKey><UserName>bob</UserName><AccessKeyId>AKIANEW</AccessKeyId><Status>Active</Status><SecretAccessKey>sHW3x6qmqVFQS9Z4Viej+nPg0Dh8mkURV/sMSYUP</SecretAccessKey><CreateDate>2026-11-26T06:29:45.713529Z</CreateDate></AccessKey></CreateAccessKeyResult></CreateAccessKeyResponse>"#;

    #[test]
    fn list_decodes_every_member_and_its_dates() {
        let r: ListAccessKeysResponse = decode_bytes(LIST.as_bytes()).unwrap();
        let keys = r.list_access_keys_result.access_key_metadata.member;
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0].access_key_id, "AKIAONE");
        assert_eq!(keys[1].status, KeyStatus::Inactive);
        let d = date("CreateDate", keys[1].create_date.as_deref())
            .unwrap()
            .unwrap();
        assert_eq!(d.to_rfc3339(), "2012-05-08T23:34:01+00:00");
        assert!(!r.list_access_keys_result.is_truncated);
    }

    #[test]
    fn users_decode_with_their_marker() {
        let body = "<ListUsersResponse><ListUsersResult><Users><member><UserName>ci</UserName><UserId>AIDA1</UserId><Arn>arn:aws:iam::1:user/ci</Arn><Path>/</Path></member></Users><IsTruncated>true</IsTruncated><Marker>m2</Marker></ListUsersResult></ListUsersResponse>";
        let r: ListUsersResponse = decode_bytes(body.as_bytes()).unwrap();
        assert_eq!(r.list_users_result.users.member[0].user_name, "ci");
        assert!(r.list_users_result.is_truncated);
        assert_eq!(r.list_users_result.marker.as_deref(), Some("m2"));
        let empty = "<ListUsersResponse><ListUsersResult><Users/><IsTruncated>false</IsTruncated></ListUsersResult></ListUsersResponse>";
        let r: ListUsersResponse = decode_bytes(empty.as_bytes()).unwrap();
        assert!(r.list_users_result.users.member.is_empty());
    }

    #[test]
    fn an_empty_list_is_no_keys() {
        let body = "<ListAccessKeysResponse><ListAccessKeysResult><AccessKeyMetadata/><IsTruncated>false</IsTruncated></ListAccessKeysResult></ListAccessKeysResponse>";
        let r: ListAccessKeysResponse = decode_bytes(body.as_bytes()).unwrap();
        assert!(r
            .list_access_keys_result
            .access_key_metadata
            .member
            .is_empty());
    }

    #[test]
    fn create_decodes_the_secret_into_a_secret() {
        let r: CreateAccessKeyResponse = decode_bytes(CREATE.as_bytes()).unwrap();
        let k = r.create_access_key_result.access_key;
        assert_eq!(k.access_key_id, "AKIANEW");
        assert_eq!(
            k.secret_access_key.expose_secret(),
            "sHW3x6qmqVFQS9Z4Viej+nPg0Dh8mkURV/sMSYUP"
        );
        assert!(!format!("{k:?}").contains("sHW3x6"));
    }

    #[test]
    fn every_cut_of_the_create_answer_fails_without_quoting_the_secret() {
        for cut in 0..CREATE.len() - "</CreateAccessKeyResponse>".len() {
            let err = decode_bytes::<CreateAccessKeyResponse>(&CREATE.as_bytes()[..cut])
                .expect_err("a cut answer must not decode");
            assert!(!err.contains("sHW3x6qmqV"), "cut {cut}: {err}");
            assert!(!err.contains("sMSYUP"), "cut {cut}: {err}");
        }
    }

    #[test]
    fn garbage_and_missing_fields_are_named() {
        assert_eq!(
            decode_bytes::<ListAccessKeysResponse>(b"<html>oops").unwrap_err(),
            "the answer was cut off"
        );
        assert_eq!(
            decode_bytes::<ListAccessKeysResponse>(b"Service Unavailable").unwrap_err(),
            "the answer is not XML"
        );
        assert_eq!(
            decode_bytes::<ListAccessKeysResponse>(&[0xff, 0xfe, 0x3c]).unwrap_err(),
            "the answer is not UTF-8 text"
        );
        let no_secret = CREATE.replace(
            "<SecretAccessKey>sHW3x6qmqVFQS9Z4Viej+nPg0Dh8mkURV/sMSYUP</SecretAccessKey>",
            "",
        );
        let err = decode_bytes::<CreateAccessKeyResponse>(no_secret.as_bytes()).unwrap_err();
        assert!(err.contains("SecretAccessKey"), "{err}");
        // serde quotes an unknown enum value; a long token in it is masked.
        let bad_status = LIST.replace(
            "<Status>Active</Status>",
            "<Status>sHW3x6qmqVFQS9Z4Viej+nPg0Dh8mkURV/sMSYUP</Status>",
        );
        let err = decode_bytes::<ListAccessKeysResponse>(bad_status.as_bytes()).unwrap_err();
        assert!(
            err.starts_with("the answer does not match the API"),
            "{err}"
        );
        assert!(!err.contains("sHW3x6"), "{err}");
        assert_eq!(
            date("CreateDate", Some("yesterday")).unwrap_err(),
            "the answer's `CreateDate` is not a date"
        );
        assert_eq!(date("CreateDate", Some("")).unwrap(), None);
    }

    #[test]
    fn error_code_reads_iam_and_sts_errors() {
        let body = r#"<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>The user with name nobody cannot be found.</Message><message>The user with name nobody cannot be found.</message></Error><RequestId>p</RequestId></ErrorResponse>"#;
        assert_eq!(error_code(body.as_bytes()).as_deref(), Some("NoSuchEntity"));
        assert_eq!(error_code(b"<html>bad gateway</html>"), None);
        assert_eq!(error_code(b"bad gateway"), None);
    }
}
