//! The `aws-ssm` and `aws-secrets-manager` targets, signed with keyward's own SigV4 code
//! ([`crate::providers::aws::sigv4`]) and the keys of an `aws-iam` connection; both speak
//! AWS's JSON 1.1 protocol (`POST /` with `X-Amz-Target`).
//!
//! - `aws-ssm`: `AmazonSSM.PutParameter` with `Type: SecureString, Overwrite: true`
//!   (docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html).
//! - `aws-secrets-manager`: `secretsmanager.PutSecretValue`, a new version that becomes
//!   `AWSCURRENT`, with a `ClientRequestToken` derived from the delivery so a retry makes no
//!   second version; a secret that does not exist yet is made with `CreateSecret`
//!   (docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html).
//!
//! The endpoint is the connection's `endpoint` (a stand-in such as moto serves every service
//! there), else the service's regional one; the region is the target's, else the
//! connection's `params.region`, else `us-east-1`.

use chrono::Utc;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use sha2::{Digest, Sha256};

use super::rest;
use super::{Delivery, Deploy, DeployError, TargetKind};
use crate::providers::aws::sigv4::{self, Credentials, Scope};
use crate::providers::error::ErrorKind;
use crate::providers::http::{Call, Repeat};

const JSON11: &str = "application/x-amz-json-1.1";

/// Puts `d.secret` where the AWS target says.
pub async fn put(target: &Deploy, d: &Delivery<'_>) -> Result<String, DeployError> {
    let kind = target.kind();
    let conn = d
        .access
        .connection
        .as_ref()
        .ok_or_else(|| DeployError::config(kind, "needs an aws-iam `connection`"))?;
    let credentials = Credentials {
        access_key_id: conn
            .auth
            .get("access_key_id")
            .map(|s| s.expose_secret().trim().to_string())
            .ok_or_else(|| {
                DeployError::config(
                    kind,
                    format!("connection `{}` needs `auth.access_key_id`", conn.id),
                )
            })?,
        secret_access_key: conn.auth.get("secret_access_key").cloned().ok_or_else(|| {
            DeployError::config(
                kind,
                format!("connection `{}` needs `auth.secret_access_key`", conn.id),
            )
        })?,
    };
    let (service, region) = match target {
        Deploy::AwsSsm { region, .. } => ("ssm", region),
        Deploy::AwsSecretsManager { region, .. } => ("secretsmanager", region),
        _ => return Err(DeployError::config(kind, "not an AWS target")),
    };
    let region = region
        .clone()
        .or_else(|| conn.params.get("region").cloned())
        .unwrap_or_else(|| "us-east-1".to_string());
    if region.is_empty()
        || !region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(DeployError::config(
            kind,
            format!(
                "`{}` is not an AWS region name",
                crate::text::terminal_safe(&region)
            ),
        ));
    }
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    let default = format!("https://{service}.{region}.{suffix}/");
    let url = rest::base(kind, conn.endpoint.as_deref(), &default)?;
    let signer = Signer {
        credentials: &credentials,
        scope: Scope {
            region: &region,
            service,
        },
        url: &url,
        d,
        kind,
    };
    match target {
        Deploy::AwsSsm {
            parameter,
            kms_key_id,
            ..
        } => {
            let mut body = serde_json::json!({
                "Name": parameter,
                "Value": d.secret.expose_secret(),
                "Type": "SecureString",
                "Overwrite": true,
            });
            if let Some(k) = kms_key_id {
                body["KeyId"] = k.as_str().into();
            }
            signer.call("AmazonSSM.PutParameter", &body).await?;
        }
        Deploy::AwsSecretsManager { secret_id, .. } => {
            // 32 to 64 characters, the same for every retry of this delivery.
            let token = hex::encode(Sha256::digest(
                format!("keyward-deploy {} {secret_id}", d.request_id).as_bytes(),
            ));
            let body = serde_json::json!({
                "SecretId": secret_id,
                "SecretString": d.secret.expose_secret(),
                "ClientRequestToken": token,
            });
            match signer.call("secretsmanager.PutSecretValue", &body).await {
                Err((Some(code), _)) if code.ends_with("ResourceNotFoundException") => {
                    let create = serde_json::json!({
                        "Name": secret_id,
                        "SecretString": d.secret.expose_secret(),
                        "ClientRequestToken": token,
                    });
                    signer.call("secretsmanager.CreateSecret", &create).await?;
                    return Ok(format!("{} created", target.describe()));
                }
                other => {
                    other?;
                }
            }
        }
        _ => {}
    }
    Ok(format!("{} set", target.describe()))
}

/// Signs and sends JSON 1.1 calls to one service.
struct Signer<'a> {
    credentials: &'a Credentials,
    scope: Scope<'a>,
    url: &'a url::Url,
    d: &'a Delivery<'a>,
    kind: TargetKind,
}

impl Signer<'_> {
    /// Sends `action` with `body`; an error answer comes back with AWS's error code.
    async fn call(
        &self,
        action: &str,
        body: &serde_json::Value,
    ) -> Result<(), (Option<String>, DeployError)> {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        let bytes = zeroize::Zeroizing::new(bytes);
        let call = Call::new(
            None,
            "POST",
            &format!("{} {action}", self.url.path()),
            Repeat::Safe,
        );
        let reply = rest::api(self.d.http, self.kind)
            .send(&call, |c| {
                // Signed per attempt, so a retry carries a fresh date.
                let signed = sigv4::sign(
                    self.credentials,
                    self.scope,
                    "POST",
                    self.url,
                    &[("content-type", JSON11), ("x-amz-target", action)],
                    &bytes,
                    Utc::now(),
                );
                let mut request = c
                    .post(self.url.clone())
                    .header(CONTENT_TYPE, JSON11)
                    .header("x-amz-target", action)
                    .header("x-amz-date", signed.amz_date)
                    .body(bytes.to_vec());
                if let Ok(mut value) = HeaderValue::from_str(&signed.authorization) {
                    value.set_sensitive(true);
                    request = request.header(AUTHORIZATION, value);
                }
                request
            })
            .await
            .map_err(|e| (None, DeployError::from_provider(self.kind, e)))?;
        if (200..300).contains(&reply.status) {
            return Ok(());
        }
        let code = serde_json::from_slice::<serde_json::Value>(&reply.body)
            .ok()
            .and_then(|v| v.get("__type").and_then(|t| t.as_str()).map(str::to_string));
        let mut e = reply.into_error();
        if code
            .as_deref()
            .is_some_and(|c| c.ends_with("ThrottlingException") || c.ends_with("TooManyUpdates"))
        {
            e.kind = ErrorKind::RateLimited;
        }
        if let Some(c) = &code {
            e.message = format!("{}: {}", c.rsplit('#').next().unwrap_or(c), e.message);
        }
        Err((code, DeployError::from_provider(self.kind, e)))
    }
}

impl From<(Option<String>, DeployError)> for DeployError {
    fn from((_, e): (Option<String>, DeployError)) -> Self {
        e
    }
}
