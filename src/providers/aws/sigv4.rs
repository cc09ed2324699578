//! AWS Signature Version 4: the canonical request, the string to sign, the derived signing
//! key and the `Authorization` header, for one request at a given time.
//!
//! The secret access key arrives as a [`Secret`]; every key derived from it lives in a
//! zeroizing buffer that never prints, and only the final signature (which does not reveal
//! the key) leaves this module.

use std::fmt;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use url::Url;
use zeroize::Zeroizing;

use crate::secret::Secret;

/// An access key pair that signs requests.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The access key id (`AKIA…`), sent in the clear in every request.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: Secret,
}

/// Where a signature is valid: an AWS region and service (`us-east-1`, `iam`).
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// The region name.
    pub region: &'a str,
    /// The service's signing name.
    pub service: &'a str,
}

/// What a request needs beyond its body to be accepted: send every header here as is.
#[derive(Debug, Clone)]
pub struct Signed {
    /// `X-Amz-Date`.
    pub amz_date: String,
    /// `Authorization`.
    pub authorization: String,
}

/// The key derived from the secret for one day, region and service. Never printed.
struct SigningKey(Zeroizing<[u8; 32]>);

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(crate::secret::MASK)
    }
}

/// Signs `method url` with `headers` (beyond `host` and `x-amz-date`, which are added and
/// signed here) and `body`, as of `now`.
pub fn sign(
    credentials: &Credentials,
    scope: Scope<'_>,
    method: &str,
    url: &Url,
    headers: &[(&str, &str)],
    body: &[u8],
    now: DateTime<Utc>,
) -> Signed {
    let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
    let (creq, signed_headers) = canonical_request(method, url, headers, body, &amz_date);
    let sts = string_to_sign(&amz_date, scope, &creq);
    let signature = signature(&credentials.secret_access_key, &amz_date, scope, &sts);
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={}/{}, SignedHeaders={signed_headers}, Signature={signature}",
        credentials.access_key_id,
        credential_scope(&amz_date, scope),
    );
    Signed {
        amz_date,
        authorization,
    }
}

/// The canonical request and the list of signed header names.
fn canonical_request(
    method: &str,
    url: &Url,
    headers: &[(&str, &str)],
    body: &[u8],
    amz_date: &str,
) -> (String, String) {
    let mut all: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), canonical_value(v)))
        .collect();
    all.push(("host".to_string(), host_header(url)));
    all.push(("x-amz-date".to_string(), amz_date.to_string()));
    all.sort();
    // Repeated names sign as one header whose values are joined by commas, in order.
    let mut merged: Vec<(String, String)> = Vec::with_capacity(all.len());
    for (name, value) in all {
        match merged.last_mut() {
            Some((last, values)) if *last == name => {
                values.push(',');
                values.push_str(&value);
            }
            _ => merged.push((name, value)),
        }
    }
    let canonical_headers: String = merged.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    let signed_headers = merged
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let creq = format!(
        "{method}\n{}\n{}\n{canonical_headers}\n{signed_headers}\n{}",
        canonical_path(url),
        canonical_query(url),
        hex::encode(Sha256::digest(body))
    );
    (creq, signed_headers)
}

fn string_to_sign(amz_date: &str, scope: Scope<'_>, canonical_request: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{}\n{}",
        credential_scope(amz_date, scope),
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

fn signature(secret: &Secret, amz_date: &str, scope: Scope<'_>, string_to_sign: &str) -> String {
    let key = signing_key(secret, &amz_date[..8], scope);
    hex::encode(hmac(&key.0[..], string_to_sign.as_bytes()).as_slice())
}

fn credential_scope(amz_date: &str, scope: Scope<'_>) -> String {
    format!(
        "{}/{}/{}/aws4_request",
        &amz_date[..8],
        scope.region,
        scope.service
    )
}

/// The `Host` header the HTTP client sends for `url`: the port only when not the default.
fn host_header(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

/// Trims the value and collapses runs of spaces, as the canonical form requires.
fn canonical_value(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The path as sent, each byte outside the unreserved set encoded (so an already-escaped
/// path is escaped again, as AWS expects of every service but S3).
fn canonical_path(url: &Url) -> String {
    let path = url.path();
    if path.is_empty() {
        "/".to_string()
    } else {
        uri_encode(path, false)
    }
}

/// Query parameters decoded, re-encoded AWS's way, sorted by name then value.
fn canonical_query(url: &Url) -> String {
    let mut pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (uri_encode(&k, true), uri_encode(&v, true)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// RFC 3986 encoding of everything but `A-Z a-z 0-9 - _ . ~` (and `/` unless `slash`).
fn uri_encode(text: &str, slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'/' if !slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn signing_key(secret: &Secret, date: &str, scope: Scope<'_>) -> SigningKey {
    let seed = Zeroizing::new(format!("AWS4{}", secret.expose_secret()));
    let k_date = hmac(seed.as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date[..], scope.region.as_bytes());
    let k_service = hmac(&k_region[..], scope.service.as_bytes());
    SigningKey(hmac(&k_service[..], b"aws4_request"))
}

fn hmac(key: &[u8], data: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    Zeroizing::new(mac.finalize().into_bytes().into())
}

#[cfg(test)]
mod tests {
    //! Vectors from AWS's Signature Version 4 test suite (aws-sig-v4-test-suite, published
    //! with the AWS General Reference at
    //! https://docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html and kept
    //! in awslabs/aws-c-auth under tests/aws-signing-test-suite/v4/). All use the suite's
    //! key pair AKIDEXAMPLE / wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, region us-east-1,
    //! service `service`, at 2015-08-30T12:36:00Z.
    use super::*;
    use chrono::TimeZone;

    fn suite_credentials() -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".to_string(),
            secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        }
    }

    const SCOPE: Scope<'static> = Scope {
        region: "us-east-1",
        service: "service",
    };

    struct Parts {
        canonical_request: String,
        string_to_sign: String,
        signature: String,
    }

    fn suite_parts(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Parts {
        let url = Url::parse(url).unwrap();
        let date = "20150830T123600Z";
        let (canonical_request, _) = canonical_request(method, &url, headers, body, date);
        let string_to_sign = string_to_sign(date, SCOPE, &canonical_request);
        let signature = signature(
            &suite_credentials().secret_access_key,
            date,
            SCOPE,
            &string_to_sign,
        );
        Parts {
            canonical_request,
            string_to_sign,
            signature,
        }
    }

    #[test]
    fn get_vanilla() {
        let p = suite_parts("GET", "https://example.amazonaws.com/", &[], b"");
        assert_eq!(
            p.canonical_request,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n\
             host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            p.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
             bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
        );
        assert_eq!(
            p.signature,
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn get_vanilla_query_order_key_case() {
        let p = suite_parts(
            "GET",
            "https://example.amazonaws.com/?Param2=value2&Param1=value1",
            &[],
            b"",
        );
        assert!(p
            .canonical_request
            .starts_with("GET\n/\nParam1=value1&Param2=value2\n"));
        assert_eq!(
            p.signature,
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
        );
    }

    #[test]
    fn post_vanilla() {
        let p = suite_parts("POST", "https://example.amazonaws.com/", &[], b"");
        assert_eq!(
            p.signature,
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
        );
    }

    /// The suite's `.creq` file for this case also lists `content-length`, but its own
    /// `.sts` and `.authz` were computed without it; these are the `.sts`/`.authz` values,
    /// which is how IAM's form-encoded POSTs are signed here.
    #[test]
    fn post_x_www_form_urlencoded() {
        let p = suite_parts(
            "POST",
            "https://example.amazonaws.com/",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            b"Param1=value1",
        );
        assert_eq!(
            p.canonical_request,
            "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\n\
             host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n\
             content-type;host;x-amz-date\n\
             9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"
        );
        assert_eq!(
            p.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
             42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281"
        );
        assert_eq!(
            p.signature,
            "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"
        );
    }

    #[test]
    fn authorization_header_names_key_scope_and_signed_headers_but_not_the_secret() {
        let now = Utc.with_ymd_and_hms(2015, 8, 30, 12, 36, 0).unwrap();
        let url = Url::parse("https://example.amazonaws.com/").unwrap();
        let signed = sign(&suite_credentials(), SCOPE, "GET", &url, &[], b"", now);
        assert_eq!(signed.amz_date, "20150830T123600Z");
        assert_eq!(
            signed.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
        assert!(!signed.authorization.contains("wJalrXUtnFEMI"));
    }

    #[test]
    fn host_keeps_a_non_default_port_and_values_are_trimmed() {
        let url = Url::parse("http://127.0.0.1:5000/").unwrap();
        assert_eq!(host_header(&url), "127.0.0.1:5000");
        let url = Url::parse("https://iam.amazonaws.com:443/").unwrap();
        assert_eq!(host_header(&url), "iam.amazonaws.com");
        assert_eq!(canonical_value("  a   b  c "), "a b c");
    }

    #[test]
    fn signing_key_debug_is_masked() {
        let key = signing_key(&Secret::new("abc"), "20150830", SCOPE);
        assert_eq!(format!("{key:?}"), crate::secret::MASK);
    }
}
