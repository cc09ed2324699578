//! The `github-actions` target: a repository, environment or organisation secret, through
//! the REST API (docs.github.com/en/rest/actions/secrets): GET the public key of the place
//! (`…/secrets/public-key`: `key_id` and a base64 Curve25519 `key`), seal the value to it as
//! a libsodium sealed box (`crypto_box_seal`, the `crypto_box` crate), PUT
//! `{encrypted_value, key_id}` (and an organisation secret's `visibility`) to
//! `…/secrets/{name}`. GitHub answers 201 (created) or 204 (updated).

use base64::Engine as _;
use crypto_box::aead::OsRng;
use reqwest::header::{ACCEPT, AUTHORIZATION};
use serde::Deserialize;

use super::rest;
use super::{Delivery, Deploy, DeployError, TargetKind};
use crate::providers::http::{Call, Repeat};
use crate::secret::Secret;

const KIND: TargetKind = TargetKind::GithubActions;
const API: &str = "https://api.github.com";

#[derive(Deserialize)]
struct PublicKey {
    key_id: String,
    key: String,
}

/// Seals `value` to the base64 Curve25519 public key `key`, base64-encoded as GitHub takes it.
pub fn seal(key: &str, value: &Secret) -> Result<String, String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let raw: [u8; 32] = b64
        .decode(key.trim())
        .ok()
        .and_then(|k| k.try_into().ok())
        .ok_or("the public key GitHub gave is not a base64 32-byte key")?;
    let sealed = crypto_box::PublicKey::from(raw)
        .seal(&mut OsRng, value.expose_secret().as_bytes())
        .map_err(|_| "could not seal the secret")?;
    Ok(b64.encode(sealed))
}

/// Puts `d.secret` as the secret `target` names.
pub async fn put(target: &Deploy, d: &Delivery<'_>) -> Result<String, DeployError> {
    let Deploy::GithubActions {
        repository,
        environment,
        organization,
        name,
        visibility,
        api,
        ..
    } = target
    else {
        return Err(DeployError::config(KIND, "not a github-actions target"));
    };
    let base = rest::base(KIND, api.as_deref(), API)?;
    let place: Vec<&str> = match (organization, repository, environment) {
        (Some(org), None, None) => vec!["orgs", org, "actions"],
        (None, Some(repo), env) => {
            let Some((owner, name)) = repo.split_once('/') else {
                return Err(DeployError::config(KIND, "`repository` must be OWNER/REPO"));
            };
            match env {
                Some(env) => vec!["repos", owner, name, "environments", env],
                None => vec!["repos", owner, name, "actions"],
            }
        }
        _ => {
            return Err(DeployError::config(
                KIND,
                "set `repository` (with an optional `environment`) or `organization`",
            ))
        }
    };
    let token = rest::token(KIND, d)?;
    let http = rest::api(d.http, KIND);
    let auth = || rest::bearer(token);
    let key_url = rest::url(
        &base,
        &[place.as_slice(), &["secrets", "public-key"]].concat(),
    );
    let call = Call::new(None, "GET", key_url.path(), Repeat::Safe);
    let key: PublicKey = http
        .json(&call, |c| {
            c.get(key_url.clone())
                .header(ACCEPT, "application/vnd.github+json")
                .header("x-github-api-version", "2022-11-28")
                .header(AUTHORIZATION, auth())
        })
        .await
        .map_err(rest::error(KIND))?;
    let sealed = seal(&key.key, d.secret).map_err(|m| DeployError {
        request: Some(rest::request("GET", &key_url)),
        ..DeployError::config(KIND, m)
    })?;
    let mut body = serde_json::json!({ "encrypted_value": sealed, "key_id": key.key_id });
    if organization.is_some() {
        body["visibility"] = visibility.as_deref().unwrap_or("private").into();
    }
    let put_url = rest::url(
        &base,
        &[place.as_slice(), &["secrets", name.as_str()]].concat(),
    );
    let call = Call::new(None, "PUT", put_url.path(), Repeat::Safe);
    http.send(&call, |c| {
        c.put(put_url.clone())
            .header(ACCEPT, "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28")
            .header(AUTHORIZATION, auth())
            .json(&body)
    })
    .await
    .and_then(|r| r.ok())
    .map_err(rest::error(KIND))?;
    Ok(format!("{} set", target.describe()))
}
