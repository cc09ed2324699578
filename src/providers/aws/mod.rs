//! AWS IAM access keys: list, create, deactivate, delete and last-used through the IAM
//! Query API (version 2010-05-08), and verification through STS `GetCallerIdentity`
//! signed with the key being checked. Requests are signed with Signature Version 4
//! ([`sigv4`]); answers are XML ([`xml`]).
//!
//! Inventory mapping: the connection's `auth.access_key_id` / `auth.secret_access_key` are
//! the management key; a credential's `params.user` is its IAM user, `remote_id` its access
//! key id and `secret` its secret access key.
//!
//! Endpoints and signing ([`Partition`]): IAM is a global service with one endpoint per
//! partition, and a request to it must be signed for that partition's IAM region (us-east-1
//! for `aws`, cn-north-1 for `aws-cn`, us-gov-west-1 for `aws-us-gov`); signed for any other
//! region AWS answers `SignatureDoesNotMatch` ("Credential should be scoped to a valid
//! region", docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv.html and
//! docs.aws.amazon.com/general/latest/gr/iam-service.html). `params.region` is therefore used
//! for STS only: verify calls the regional STS endpoint of that region
//! (`sts.{region}.amazonaws.com`, `.amazonaws.com.cn` in China), signed for it
//! (docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_region-endpoints.html).
//! `params.partition` names the partition; without it the region's prefix decides (`cn-`,
//! `us-gov-`), else `aws`. `endpoint` overrides the IAM base URL and `params.sts_endpoint`
//! the STS one; a stand-in such as moto serves both at `endpoint`, which STS then uses too.

pub mod sigv4;
mod xml;

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::Utc;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use url::Url;
use zeroize::Zeroize;

use self::sigv4::{Credentials, Scope};
use super::connection_check::{connection_target, ConnectionReport};
use super::http::{check_endpoint, Api, Call, Http, Repeat, Reply};
use super::Deletion;
use super::{
    Capabilities, ErrorKind, FoundKey, IssuedKey, Provider, ProviderError, RemoteKey,
    RotationStyle, Target, Verification,
};
use crate::inventory::{Connection, ProviderKind, RemoteStatus};
use crate::secret::Secret;

/// An AWS partition: a set of regions with its own IAM endpoint and signing region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partition {
    /// The commercial regions.
    Aws,
    /// The China regions.
    AwsCn,
    /// AWS GovCloud (US).
    AwsUsGov,
}

impl Partition {
    const ALL: [Partition; 3] = [Partition::Aws, Partition::AwsCn, Partition::AwsUsGov];

    /// The partition's name, as ARNs and `params.partition` spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Partition::Aws => "aws",
            Partition::AwsCn => "aws-cn",
            Partition::AwsUsGov => "aws-us-gov",
        }
    }

    /// The partition's IAM endpoint.
    pub fn iam_endpoint(self) -> &'static str {
        match self {
            Partition::Aws => "https://iam.amazonaws.com",
            Partition::AwsCn => "https://iam.cn-north-1.amazonaws.com.cn",
            Partition::AwsUsGov => "https://iam.us-gov.amazonaws.com",
        }
    }

    /// The only region IAM requests in this partition may be signed for; also the STS
    /// region when `params.region` is not set.
    pub fn iam_region(self) -> &'static str {
        match self {
            Partition::Aws => "us-east-1",
            Partition::AwsCn => "cn-north-1",
            Partition::AwsUsGov => "us-gov-west-1",
        }
    }

    /// The regional STS endpoint of `region` in this partition.
    pub fn sts_endpoint(self, region: &str) -> String {
        match self {
            Partition::AwsCn => format!("https://sts.{region}.amazonaws.com.cn"),
            Partition::Aws | Partition::AwsUsGov => format!("https://sts.{region}.amazonaws.com"),
        }
    }

    /// The partition a region belongs to, by its name's prefix.
    pub fn of_region(region: &str) -> Partition {
        if region.starts_with("cn-") {
            Partition::AwsCn
        } else if region.starts_with("us-gov-") {
            Partition::AwsUsGov
        } else {
            Partition::Aws
        }
    }

    /// The partition `target` is in: `params.partition`, else its `params.region`'s, else
    /// `aws`. A partition that contradicts the region is a configuration error.
    pub fn of(target: &Target) -> Result<Partition, ProviderError> {
        let region = AwsIam::region(target)?;
        let Ok(named) = target.param("partition") else {
            return Ok(region
                .as_deref()
                .map_or(Partition::Aws, Partition::of_region));
        };
        let partition = Partition::ALL
            .into_iter()
            .find(|p| p.as_str() == named)
            .ok_or_else(|| {
                AwsIam::config_error(
                    target,
                    format!(
                        "`params.partition` is `{named}`; expected `aws`, `aws-cn` or `aws-us-gov`"
                    ),
                )
            })?;
        match region.as_deref() {
            Some(r) if Partition::of_region(r) != partition => Err(AwsIam::config_error(
                target,
                format!(
                    "`params.region` `{r}` is not in partition `{}`",
                    partition.as_str()
                ),
            )),
            _ => Ok(partition),
        }
    }
}
const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";
/// AWS allows two access keys per IAM user, active or not.
const MAX_KEYS: usize = 2;
/// A user has at most two keys; a listing that keeps paging is answering garbage.
const MAX_PAGES: usize = 20;

/// Which AWS API a call goes to.
#[derive(Debug, Clone, Copy)]
enum Service {
    Iam,
    Sts,
}

impl Service {
    fn signing_name(self) -> &'static str {
        match self {
            Service::Iam => "iam",
            Service::Sts => "sts",
        }
    }

    fn version(self) -> &'static str {
        match self {
            Service::Iam => "2010-05-08",
            Service::Sts => "2011-06-15",
        }
    }
}

/// The AWS IAM provider.
pub struct AwsIam {
    api: Api,
}

impl AwsIam {
    /// A provider sharing `http`'s pool and limits.
    pub fn new(http: &Http) -> Self {
        AwsIam {
            api: http.api(ProviderKind::AwsIam),
        }
    }

    fn config_error(target: &Target, message: impl Into<String>) -> ProviderError {
        ProviderError::config(ProviderKind::AwsIam, Some(&target.at), message)
    }

    /// The management key from the connection.
    fn management(target: &Target) -> Result<Credentials, ProviderError> {
        let access_key_id = target
            .auth("access_key_id")?
            .expose_secret()
            .trim()
            .to_string();
        if !is_access_key_id(&access_key_id) {
            return Err(Self::config_error(
                target,
                "the connection's `auth.access_key_id` is not an AWS access key id",
            ));
        }
        Ok(Credentials {
            access_key_id,
            secret_access_key: target.auth("secret_access_key")?.clone(),
        })
    }

    /// `params.region`, checked to be a region name; `None` when not set.
    fn region(target: &Target) -> Result<Option<String>, ProviderError> {
        let Ok(region) = target.param("region") else {
            return Ok(None);
        };
        if region.is_empty()
            || !region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(Self::config_error(
                target,
                format!("`params.region` `{region}` is not an AWS region name"),
            ));
        }
        Ok(Some(region.to_string()))
    }

    /// Where `service`'s requests go and the region they are signed for: IAM at the
    /// partition's endpoint, signed for the partition's IAM region whatever `params.region`
    /// says; STS at the regional endpoint of `params.region` (else the partition's IAM
    /// region), signed for that region.
    fn endpoint(target: &Target, service: Service) -> Result<(Url, String), ProviderError> {
        let partition = Partition::of(target)?;
        let (url, region) = match service {
            Service::Iam => (
                target.endpoint_or(partition.iam_endpoint()),
                partition.iam_region().to_string(),
            ),
            Service::Sts => {
                let region =
                    Self::region(target)?.unwrap_or_else(|| partition.iam_region().to_string());
                let url = match target.param("sts_endpoint") {
                    Ok(sts) => sts.to_string(),
                    // A custom endpoint (a stand-in such as moto) serves IAM and STS at one base.
                    Err(_) => target.endpoint_or(&partition.sts_endpoint(&region)),
                };
                (url, region)
            }
        };
        let url = check_endpoint(ProviderKind::AwsIam, Some(&target.at), &url)?;
        Ok((url, region))
    }

    /// Sends `action` with `params`, signed with `credentials`; error answers become
    /// errors whose kind follows AWS's error code.
    async fn call(
        &self,
        target: &Target,
        service: Service,
        credentials: &Credentials,
        action: &str,
        params: &[(&str, &str)],
    ) -> Result<Reply, ProviderError> {
        let (url, region) = Self::endpoint(target, service)?;
        let body = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("Action", action);
            for (name, value) in params {
                form.append_pair(name, value);
            }
            form.append_pair("Version", service.version());
            form.finish()
        };
        let call = Call {
            at: Some(target.at.clone()),
            request: format!("POST {} {action}", url.path()),
            // Every other action sent here can be repeated harmlessly; a repeated
            // CreateAccessKey would leave a second, unrecorded key.
            repeat: if action == "CreateAccessKey" {
                Repeat::Never
            } else {
                Repeat::Safe
            },
        };
        let scope = Scope {
            region: &region,
            service: service.signing_name(),
        };
        let reply = self
            .api
            .send(&call, |client| {
                // Signed per attempt, so a retry carries a fresh date.
                let signed = sigv4::sign(
                    credentials,
                    scope,
                    "POST",
                    &url,
                    &[("content-type", FORM)],
                    body.as_bytes(),
                    Utc::now(),
                );
                let mut request = client
                    .post(url.clone())
                    .header(CONTENT_TYPE, FORM)
                    .header("x-amz-date", signed.amz_date)
                    .body(body.clone());
                if let Ok(mut value) = HeaderValue::from_str(&signed.authorization) {
                    value.set_sensitive(true);
                    request = request.header(AUTHORIZATION, value);
                }
                request
            })
            .await?;
        if (200..300).contains(&reply.status) {
            Ok(reply)
        } else {
            Err(aws_error(reply))
        }
    }

    /// Every key of IAM user `user`, following pagination.
    async fn list_user(
        &self,
        target: &Target,
        credentials: &Credentials,
        user: &str,
    ) -> Result<Vec<RemoteKey>, ProviderError> {
        let mut keys = Vec::new();
        let mut marker: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut params = vec![("UserName", user)];
            if let Some(m) = marker.as_deref() {
                params.push(("Marker", m));
            }
            let reply = self
                .call(target, Service::Iam, credentials, "ListAccessKeys", &params)
                .await?;
            let page: xml::ListAccessKeysResponse = xml::decode(&reply)?;
            let result = page.list_access_keys_result;
            for meta in result.access_key_metadata.member {
                let created_at = xml::date("CreateDate", meta.create_date.as_deref())
                    .map_err(|what| reply.bad_response(what))?;
                let mut key = RemoteKey::new(meta.access_key_id, status(meta.status));
                key.created_at = created_at;
                if meta.status == xml::KeyStatus::Expired {
                    key.risks
                        .push("AWS reports this key as expired".to_string());
                }
                keys.push(key);
            }
            match (result.is_truncated, result.marker) {
                (true, Some(m)) if !m.is_empty() => marker = Some(m),
                (true, _) => {
                    return Err(reply.bad_response("the listing is truncated but has no `Marker`"))
                }
                (false, _) => return Ok(keys),
            }
        }
        Err(ProviderError::new(
            ProviderKind::AwsIam,
            Some(&target.at),
            ErrorKind::BadResponse,
            format!("IAM kept paging the keys of user `{user}` past {MAX_PAGES} pages"),
        ))
    }
}

impl AwsIam {
    /// Every IAM user of the account, following `Marker` for at most
    /// [`MAX_OWNER_PAGES`](super::found::MAX_OWNER_PAGES) pages.
    async fn list_users(
        &self,
        target: &Target,
        credentials: &Credentials,
    ) -> Result<Vec<String>, ProviderError> {
        let mut users = Vec::new();
        let mut marker: Option<String> = None;
        for _ in 0..super::found::MAX_OWNER_PAGES {
            let mut params = vec![("MaxItems", "100")];
            if let Some(m) = marker.as_deref() {
                params.push(("Marker", m));
            }
            let reply = self
                .call(target, Service::Iam, credentials, "ListUsers", &params)
                .await?;
            let page: xml::ListUsersResponse = xml::decode(&reply)?;
            let result = page.list_users_result;
            users.extend(result.users.member.into_iter().map(|u| u.user_name));
            match (result.is_truncated, result.marker) {
                (true, Some(m)) if !m.is_empty() => marker = Some(m),
                (true, _) => {
                    return Err(
                        reply.bad_response("the user listing is truncated but has no `Marker`")
                    )
                }
                (false, _) => return Ok(users),
            }
        }
        Err(ProviderError::new(
            ProviderKind::AwsIam,
            Some(&target.at),
            ErrorKind::BadResponse,
            format!(
                "IAM kept paging the account's users past {} pages",
                super::found::MAX_OWNER_PAGES
            ),
        ))
    }

    /// When key `id` was last used; `None` when never.
    async fn last_used(
        &self,
        target: &Target,
        credentials: &Credentials,
        id: &str,
    ) -> Result<Option<chrono::DateTime<Utc>>, ProviderError> {
        let reply = self
            .call(
                target,
                Service::Iam,
                credentials,
                "GetAccessKeyLastUsed",
                &[("AccessKeyId", id)],
            )
            .await?;
        let used: xml::GetAccessKeyLastUsedResponse = xml::decode(&reply)?;
        xml::date(
            "LastUsedDate",
            used.get_access_key_last_used_result
                .access_key_last_used
                .last_used_date
                .as_deref(),
        )
        .map_err(|what| reply.bad_response(what))
    }
}

/// Whether `id` looks like an access key id: it goes into a header unescaped.
fn is_access_key_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.chars().all(|c| c.is_ascii_alphanumeric())
}

fn status(s: xml::KeyStatus) -> RemoteStatus {
    match s {
        xml::KeyStatus::Active => RemoteStatus::Active,
        xml::KeyStatus::Inactive | xml::KeyStatus::Expired => RemoteStatus::Inactive,
    }
}

/// An error answer as an error, its kind refined by AWS's error code.
fn aws_error(reply: Reply) -> ProviderError {
    let code = xml::error_code(&reply.body);
    let mut err = reply.into_error();
    if let Some(kind) = code.as_deref().and_then(kind_for_code) {
        err.kind = kind;
    }
    err
}

fn kind_for_code(code: &str) -> Option<ErrorKind> {
    Some(match code {
        "NoSuchEntity" => ErrorKind::NotFound,
        "LimitExceeded" => ErrorKind::Limit,
        "SignatureDoesNotMatch"
        | "InvalidClientTokenId"
        | "IncompleteSignature"
        | "MissingAuthenticationToken"
        | "AccessDenied"
        | "ExpiredToken"
        | "AuthFailure" => ErrorKind::Unauthorized,
        // IAM throttles with a 400, which the shared client does not retry.
        "Throttling" | "RequestLimitExceeded" => ErrorKind::RateLimited,
        _ => return None,
    })
}

/// `e`, saying that a key may exist that keyward holds no record of.
fn may_have_created(e: ProviderError, user: &str) -> ProviderError {
    ProviderError {
        message: format!(
            "{}; AWS may have created a key for IAM user `{user}` that keyward could not \
             record: compare the user's keys with the inventory",
            e.message
        ),
        ..e
    }
}

/// Overwrites the body of an answer that carried a secret, where no other handle shares it.
fn scrub(reply: &mut Reply) {
    if let Ok(mut body) = std::mem::take(&mut reply.body).try_into_mut() {
        body[..].zeroize();
    }
}

#[async_trait]
impl Provider for AwsIam {
    fn kind(&self) -> ProviderKind {
        ProviderKind::AwsIam
    }

    /// AWS IAM is eventually consistent: a change such as a new access key "takes time to
    /// become visible from all possible endpoints", and AWS advises not to depend on it at
    /// once (docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html, "Changes
    /// that I make are not always immediately visible"). STS commonly refuses a fresh key
    /// with `InvalidClientTokenId` for several seconds; a minute covers the tens of seconds
    /// seen, and costs nothing when the key works sooner.
    fn propagation(&self, _: &Target) -> std::time::Duration {
        std::time::Duration::from_secs(60)
    }

    /// AWS publishes no IAM request rate: every IAM and STS call of an account counts
    /// against one limit that cannot be raised (repost.aws/knowledge-center/
    /// iam-sts-throttling-error), so a lane stays at the undocumented default's double.
    fn lane_size(&self) -> usize {
        2 * super::pacing::UNDOCUMENTED_LANE
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            rotation: RotationStyle::CreateThenRevoke,
            can_deactivate: true,
            reports_expiry: false,
            reports_last_used: true,
            max_live_keys: Some(MAX_KEYS as u32),
            can_verify: true,
        }
    }

    async fn inspect(&self, target: &Target) -> Result<Option<RemoteKey>, ProviderError> {
        let id = target.remote_id("the key's access key id")?;
        let credentials = Self::management(target)?;
        let reply = match self
            .call(
                target,
                Service::Iam,
                &credentials,
                "GetAccessKeyLastUsed",
                &[("AccessKeyId", id)],
            )
            .await
        {
            Ok(reply) => reply,
            Err(e) if e.kind == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let used: xml::GetAccessKeyLastUsedResponse = xml::decode(&reply)?;
        let used = used.get_access_key_last_used_result;
        let last_used_at = xml::date(
            "LastUsedDate",
            used.access_key_last_used.last_used_date.as_deref(),
        )
        .map_err(|what| reply.bad_response(what))?;
        let recorded = target.param("user").ok();
        // AWS names the owner; it is the one to list even when the inventory says otherwise.
        let Some(owner) = used.user_name.as_deref().or(recorded) else {
            return Err(Self::config_error(
                target,
                "needs `params.user`: the key's IAM user",
            ));
        };
        let keys = match self.list_user(target, &credentials, owner).await {
            Ok(keys) => keys,
            Err(e) if e.kind == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(mut key) = keys.into_iter().find(|k| k.remote_id == id) else {
            return Ok(None);
        };
        key.last_used_at = last_used_at;
        if let Some(recorded) = recorded.filter(|r| *r != owner) {
            key.risks.push(format!(
                "the key belongs to IAM user `{owner}`, not `{recorded}` as recorded"
            ));
        }
        Ok(Some(key))
    }

    async fn list(&self, target: &Target) -> Result<Vec<RemoteKey>, ProviderError> {
        let user = target.param("user")?;
        let credentials = Self::management(target)?;
        self.list_user(target, &credentials, user).await
    }

    async fn create(&self, target: &Target) -> Result<IssuedKey, ProviderError> {
        let user = target.param("user")?;
        let credentials = Self::management(target)?;
        let existing = self.list_user(target, &credentials, user).await?;
        if existing.len() >= MAX_KEYS {
            let held: Vec<String> = existing
                .iter()
                .map(|k| {
                    let state = match k.state {
                        RemoteStatus::Active => "active",
                        _ => "inactive",
                    };
                    format!("{} ({state})", k.remote_id)
                })
                .collect();
            return Err(ProviderError::new(
                ProviderKind::AwsIam,
                Some(&target.at),
                ErrorKind::Limit,
                format!(
                    "IAM user `{user}` already has {} access keys ({}) and AWS allows {MAX_KEYS}: \
                     delete one before creating another",
                    existing.len(),
                    held.join(", ")
                ),
            ));
        }
        let mut reply = self
            .call(
                target,
                Service::Iam,
                &credentials,
                "CreateAccessKey",
                &[("UserName", user)],
            )
            .await
            .map_err(|e| {
                // A server error or a lost answer may come after AWS made the key.
                let unsent = e.message.starts_with("could not connect");
                if e.kind == ErrorKind::Transport && !unsent || e.status.is_some_and(|s| s >= 500) {
                    may_have_created(e, user)
                } else {
                    e
                }
            })?;
        let decoded = xml::decode::<xml::CreateAccessKeyResponse>(&reply).and_then(|r| {
            let key = r.create_access_key_result.access_key;
            let created_at = xml::date("CreateDate", key.create_date.as_deref())
                .map_err(|what| reply.bad_response(what))?;
            Ok((key, created_at))
        });
        // An answer that names the new key but is otherwise unusable: AWS made that key.
        let made = decoded.is_err().then(|| {
            xml::decode::<xml::CreatedKeyId>(&reply)
                .ok()
                .map(|r| r.create_access_key_result.access_key.access_key_id)
        });
        let result = match decoded {
            Ok((key, created_at)) => Ok(IssuedKey {
                remote_id: key.access_key_id,
                secret: key.secret_access_key,
                created_at,
                expires_at: None,
                scopes: Vec::new(),
                params: BTreeMap::from([("user".to_string(), key.user_name)]),
            }),
            Err(e) => Err(may_have_created(e, user)),
        };
        scrub(&mut reply);
        match (result, made.flatten()) {
            (Err(e), Some(id)) => {
                // Taken back, as the SaaS providers do, so no key is left that nobody holds.
                let tail = match self.delete(target, &id).await {
                    Ok(_) => format!("the answer named the new key {id}, now deleted again"),
                    Err(d) => format!(
                        "the answer named the new key {id}, which could not be deleted again \
                         ({}): delete it by hand",
                        d.message
                    ),
                };
                Err(ProviderError {
                    message: format!("{}; {tail}", e.message),
                    ..e
                })
            }
            (result, _) => result,
        }
    }

    async fn verify(
        &self,
        target: &Target,
        remote_id: Option<&str>,
        secret: &Secret,
    ) -> Verification {
        let Some(id) = remote_id.or(target.credential.remote_id.as_deref()) else {
            return Verification::CannotCheck {
                reason: "an AWS key is checked by signing with it, which needs its access key \
                         id (`remote_id`)"
                    .to_string(),
            };
        };
        if !is_access_key_id(id) {
            return Verification::Invalid {
                reason: format!("`{id}` is not an AWS access key id"),
            };
        }
        let credentials = Credentials {
            access_key_id: id.to_string(),
            secret_access_key: secret.clone(),
        };
        match self
            .call(target, Service::Sts, &credentials, "GetCallerIdentity", &[])
            .await
        {
            Ok(reply) => match xml::decode::<xml::GetCallerIdentityResponse>(&reply) {
                Ok(r) if !r.get_caller_identity_result.arn.trim().is_empty() => Verification::Valid,
                Ok(_) => Verification::CouldNotCheck {
                    reason: "AWS answered without naming the caller".to_string(),
                },
                Err(e) => Verification::CouldNotCheck {
                    reason: e.to_string(),
                },
            },
            Err(e) if e.kind == ErrorKind::Unauthorized => Verification::Invalid {
                reason: format!("AWS refused the key: {}", e.message),
            },
            Err(e) => Verification::CouldNotCheck {
                reason: e.to_string(),
            },
        }
    }

    async fn deactivate(&self, target: &Target, remote_id: &str) -> Result<(), ProviderError> {
        let user = target.param("user")?;
        let credentials = Self::management(target)?;
        let params = [
            ("UserName", user),
            ("AccessKeyId", remote_id),
            ("Status", "Inactive"),
        ];
        self.call(
            target,
            Service::Iam,
            &credentials,
            "UpdateAccessKey",
            &params,
        )
        .await
        .map(drop)
    }

    /// Every user's access keys (`ListUsers`, then `ListAccessKeys` and
    /// `GetAccessKeyLastUsed` for each), one user after another: IAM counts every call of
    /// the account against one limit.
    async fn discover(&self, connection: &Connection) -> Result<Vec<FoundKey>, ProviderError> {
        let target = connection_target(connection);
        let credentials = Self::management(&target)?;
        let mut found = Vec::new();
        for user in self.list_users(&target, &credentials).await? {
            let keys = match self.list_user(&target, &credentials, &user).await {
                Ok(keys) => keys,
                // Deleted between the two listings: nothing of it left to find.
                Err(e) if e.kind == ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            for mut key in keys {
                key.last_used_at = match self.last_used(&target, &credentials, &key.remote_id).await
                {
                    Ok(at) => at,
                    Err(e) if e.kind == ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                };
                found.push(
                    FoundKey::new(key)
                        .owned_by(format!("IAM user {user}"))
                        .with_param("user", user.clone()),
                );
            }
        }
        Ok(found)
    }

    /// Asks STS who the management key is (its ARN names the partition and account) and
    /// lists the caller's own access keys at IAM. Whether it may create or delete keys IAM
    /// tells only by trying, which a check must not do, so those stay unknown.
    async fn check_connection(&self, connection: &Connection) -> ConnectionReport {
        let mut report = ConnectionReport::new(connection);
        let target = connection_target(connection);
        let credentials = match Self::management(&target) {
            Ok(c) => c,
            Err(e) => {
                report.note = Some(e.to_string());
                return report;
            }
        };
        let configured = match Partition::of(&target) {
            Ok(p) => p,
            Err(e) => {
                report.note = Some(e.to_string());
                return report;
            }
        };
        report.fact("partition", configured.as_str());
        let call = "POST STS GetCallerIdentity";
        match self
            .call(
                &target,
                Service::Sts,
                &credentials,
                "GetCallerIdentity",
                &[],
            )
            .await
            .and_then(|reply| xml::decode::<xml::GetCallerIdentityResponse>(&reply))
        {
            Ok(r) => {
                report.allowed(call);
                let arn = r.get_caller_identity_result.arn;
                // arn:PARTITION:SERVICE::ACCOUNT:RESOURCE
                let parts: Vec<&str> = arn.splitn(6, ':').collect();
                if let [_, partition, _, _, account, _] = parts.as_slice() {
                    if *partition != configured.as_str() {
                        report.note = Some(format!(
                            "the key belongs to partition `{partition}`, not `{}` as configured: \
                             set `params.partition`",
                            configured.as_str()
                        ));
                    }
                    report.fact("caller partition", *partition);
                    report.fact("account", *account);
                }
                report.fact("caller", arn);
            }
            Err(e) => report.failed(call, &e),
        }
        let call = "POST IAM ListAccessKeys";
        let listed = self
            .call(&target, Service::Iam, &credentials, "ListAccessKeys", &[])
            .await;
        report.answered(call, &listed);
        report
    }

    async fn delete(&self, target: &Target, remote_id: &str) -> Result<Deletion, ProviderError> {
        let user = target.param("user")?;
        let credentials = Self::management(target)?;
        let params = [("UserName", user), ("AccessKeyId", remote_id)];
        match self
            .call(
                target,
                Service::Iam,
                &credentials,
                "DeleteAccessKey",
                &params,
            )
            .await
        {
            Ok(_) => Ok(Deletion::Deleted),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(Deletion::NotFound { said: e.message }),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_refine_the_kind() {
        assert_eq!(kind_for_code("NoSuchEntity"), Some(ErrorKind::NotFound));
        assert_eq!(kind_for_code("LimitExceeded"), Some(ErrorKind::Limit));
        assert_eq!(
            kind_for_code("SignatureDoesNotMatch"),
            Some(ErrorKind::Unauthorized)
        );
        assert_eq!(
            kind_for_code("InvalidClientTokenId"),
            Some(ErrorKind::Unauthorized)
        );
        assert_eq!(kind_for_code("Throttling"), Some(ErrorKind::RateLimited));
        assert_eq!(kind_for_code("ServiceFailure"), None);
    }

    #[test]
    fn access_key_ids_are_plain_alphanumerics() {
        assert!(is_access_key_id("AKIAIOSFODNN7EXAMPLE"));
        assert!(!is_access_key_id(""));
        assert!(!is_access_key_id("AKIA\r\nX-Injected: 1"));
    }
}
