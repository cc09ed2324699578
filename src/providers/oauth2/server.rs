//! Where an OAuth 2.0 server's endpoints are, and how keyward authenticates to them.
//!
//! Endpoints come from discovery under the connection's `endpoint` (the issuer): RFC 8414
//! `/.well-known/oauth-authorization-server` first, then OpenID Connect
//! `/.well-known/openid-configuration`, cached per connection. A server without discovery
//! is described by `params.token_endpoint` on the connection (discovery is then skipped);
//! `params.revocation_endpoint`, `params.introspection_endpoint` and
//! `params.device_authorization_endpoint` override or complete either way.
//!
//! Client authentication (RFC 6749 §2.3.1) follows `params.token_endpoint_auth_method`:
//! `client_secret_basic` (the default), `client_secret_post`, or `none` for a public client.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use reqwest::header::{HeaderValue, AUTHORIZATION};
use serde::Deserialize;
use url::Url;

use crate::inventory::{Connection, CredentialRef, ProviderKind};
use crate::providers::error::{ErrorKind, ProviderError};
use crate::providers::http::{check_endpoint, Api, Call, Repeat};
use crate::secret::Secret;

const KIND: ProviderKind = ProviderKind::Oauth2;

/// The endpoints keyward uses on one authorization server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoints {
    /// RFC 6749 token endpoint.
    pub token: Url,
    /// RFC 7009 revocation endpoint.
    pub revocation: Option<Url>,
    /// RFC 7662 introspection endpoint.
    pub introspection: Option<Url>,
    /// RFC 8628 device authorization endpoint.
    pub device_authorization: Option<Url>,
    /// The discovery document they came from; `None` when configured
    /// (`params.token_endpoint`).
    pub discovered_from: Option<Url>,
}

/// How the client proves who it is at the token, revocation and introspection endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthMethod {
    /// HTTP Basic with the form-encoded id and secret.
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Post,
    /// A public client: `client_id` in the body, no secret.
    None,
}

impl AuthMethod {
    pub(crate) fn parse(
        value: Option<&str>,
        at: Option<&CredentialRef>,
    ) -> Result<AuthMethod, ProviderError> {
        match value {
            None | Some("client_secret_basic") => Ok(AuthMethod::Basic),
            Some("client_secret_post") => Ok(AuthMethod::Post),
            Some("none") => Ok(AuthMethod::None),
            Some(other) => Err(ProviderError::config(
                KIND,
                at,
                format!(
                    "`params.token_endpoint_auth_method` is `{other}`; keyward supports \
                     client_secret_basic, client_secret_post and none"
                ),
            )),
        }
    }
}

/// A client's identity and how it authenticates.
#[derive(Debug, Clone)]
pub(crate) struct ClientAuth {
    pub id: String,
    pub secret: Option<Secret>,
    pub method: AuthMethod,
}

impl ClientAuth {
    /// The connection's own client: `auth.client_id` and `auth.client_secret`.
    pub(crate) fn of_connection(
        conn: &Connection,
        method: AuthMethod,
        at: Option<&CredentialRef>,
    ) -> Result<ClientAuth, ProviderError> {
        let need = |name: &str| {
            conn.auth.get(name).ok_or_else(|| {
                ProviderError::config(
                    KIND,
                    at,
                    format!("connection `{}` needs `auth.{name}`", conn.id),
                )
            })
        };
        let id = need("client_id")?.expose_secret().to_string();
        let secret = match method {
            AuthMethod::None => None,
            _ => Some(need("client_secret")?.clone()),
        };
        Ok(ClientAuth { id, secret, method })
    }

    /// A form POST to `url` carrying `params` and this client's authentication.
    pub(crate) fn post(
        &self,
        client: &reqwest::Client,
        url: &Url,
        params: &[(&str, &str)],
    ) -> reqwest::RequestBuilder {
        let mut form: Vec<(&str, &str)> = params.to_vec();
        let mut request = client
            .post(url.clone())
            .header(reqwest::header::ACCEPT, "application/json");
        let secret = self
            .secret
            .as_ref()
            .map(Secret::expose_secret)
            .unwrap_or("");
        match self.method {
            AuthMethod::Basic => {
                // RFC 6749 §2.3.1: id and secret are form-encoded before Basic encoding.
                let enc = |s: &str| {
                    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
                };
                let pair = zeroize::Zeroizing::new(format!("{}:{}", enc(&self.id), enc(secret)));
                let value =
                    zeroize::Zeroizing::new(format!("Basic {}", BASE64.encode(pair.as_bytes())));
                if let Ok(mut header) = HeaderValue::from_str(&value) {
                    header.set_sensitive(true);
                    request = request.header(AUTHORIZATION, header);
                }
            }
            AuthMethod::Post => {
                form.push(("client_id", &self.id));
                form.push(("client_secret", secret));
            }
            AuthMethod::None => form.push(("client_id", &self.id)),
        }
        request.form(&form)
    }
}

/// Discovered endpoints, kept per connection (id and issuer) for the provider's lifetime.
#[derive(Debug, Default)]
pub(crate) struct DiscoveryCache {
    entries: Mutex<HashMap<(String, String), Arc<Endpoints>>>,
}

impl DiscoveryCache {
    fn get(&self, key: &(String, String)) -> Option<Arc<Endpoints>> {
        self.entries.lock().ok()?.get(key).cloned()
    }

    fn put(&self, key: (String, String), value: Arc<Endpoints>) {
        if let Ok(mut map) = self.entries.lock() {
            map.insert(key, value);
        }
    }
}

/// The endpoints of `conn`'s server: from `params.token_endpoint` if set, else discovered
/// (once per connection and issuer), with explicit `params.*_endpoint` taking precedence.
pub(crate) async fn endpoints(
    api: &Api,
    cache: &DiscoveryCache,
    conn: &Connection,
    at: Option<&CredentialRef>,
) -> Result<Arc<Endpoints>, ProviderError> {
    let explicit = |name: &str| -> Result<Option<Url>, ProviderError> {
        conn.params
            .get(name)
            .map(|u| check_endpoint(KIND, at, u))
            .transpose()
    };
    let overlay = |mut e: Endpoints| -> Result<Endpoints, ProviderError> {
        if let Some(u) = explicit("revocation_endpoint")? {
            e.revocation = Some(u);
        }
        if let Some(u) = explicit("introspection_endpoint")? {
            e.introspection = Some(u);
        }
        if let Some(u) = explicit("device_authorization_endpoint")? {
            e.device_authorization = Some(u);
        }
        Ok(e)
    };
    if let Some(token) = explicit("token_endpoint")? {
        return Ok(Arc::new(overlay(Endpoints {
            token,
            revocation: None,
            introspection: None,
            device_authorization: None,
            discovered_from: None,
        })?));
    }
    let issuer = conn.endpoint.as_deref().ok_or_else(|| {
        ProviderError::config(
            KIND,
            at,
            format!(
                "connection `{}` needs `endpoint` (the issuer URL) or `params.token_endpoint`",
                conn.id
            ),
        )
    })?;
    let key = (conn.id.clone(), issuer.to_string());
    if let Some(hit) = cache.get(&key) {
        return Ok(hit);
    }
    let found = Arc::new(overlay(discover(api, issuer, at).await?)?);
    cache.put(key, found.clone());
    Ok(found)
}

/// The discovery URLs for `issuer`, in the order tried: RFC 8414 inserts the well-known
/// segment before the issuer's path; OpenID Connect Discovery appends it.
fn discovery_urls(issuer: &Url) -> Vec<Url> {
    let path = issuer.path().trim_end_matches('/');
    let mut rfc8414 = issuer.clone();
    rfc8414.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
    let mut oidc = issuer.clone();
    oidc.set_path(&format!("{path}/.well-known/openid-configuration"));
    for u in [&mut rfc8414, &mut oidc] {
        u.set_query(None);
        u.set_fragment(None);
    }
    vec![rfc8414, oidc]
}

#[derive(Deserialize)]
struct Metadata {
    issuer: Option<String>,
    token_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
    introspection_endpoint: Option<String>,
    device_authorization_endpoint: Option<String>,
}

async fn discover(
    api: &Api,
    issuer: &str,
    at: Option<&CredentialRef>,
) -> Result<Endpoints, ProviderError> {
    let issuer_url = check_endpoint(KIND, at, issuer)?;
    let mut last_bad: Option<ProviderError> = None;
    for url in discovery_urls(&issuer_url) {
        let call = Call::new(at, "GET", url.path(), Repeat::Safe);
        let reply = api.send(&call, |c| c.get(url.clone())).await?;
        // Not served here: try the other well-known location.
        if matches!(reply.status, 400 | 404 | 405 | 410) {
            continue;
        }
        let reply = reply.ok()?;
        let meta: Metadata = match serde_json::from_slice(&reply.body) {
            Ok(m) => m,
            Err(_) => {
                last_bad = Some(reply.bad_response("the discovery document is not JSON metadata"));
                continue;
            }
        };
        // RFC 8414 §3.3: the document must name the issuer it was fetched for, or a
        // mix-up could send tokens to another server.
        let named = meta.issuer.as_deref().unwrap_or("");
        if named.trim_end_matches('/') != issuer.trim_end_matches('/') {
            return Err(reply.bad_response(format!(
                "the discovery document names issuer `{named}`, not the connection's endpoint \
                 `{issuer}`; set `endpoint` to the issuer exactly"
            )));
        }
        let token = meta.token_endpoint.as_deref().ok_or_else(|| {
            reply.bad_response(
                "the discovery document has no `token_endpoint`; set `params.token_endpoint`",
            )
        })?;
        let optional = |u: &Option<String>| {
            u.as_deref()
                .map(|u| check_endpoint(KIND, at, u))
                .transpose()
        };
        return Ok(Endpoints {
            token: check_endpoint(KIND, at, token)?,
            revocation: optional(&meta.revocation_endpoint)?,
            introspection: optional(&meta.introspection_endpoint)?,
            device_authorization: optional(&meta.device_authorization_endpoint)?,
            discovered_from: Some(url.clone()),
        });
    }
    Err(last_bad.unwrap_or_else(|| {
        ProviderError::new(
            KIND,
            at,
            ErrorKind::Config,
            format!(
                "`{issuer}` serves no discovery document (RFC 8414 or OpenID); set \
                 `params.token_endpoint` on the connection"
            ),
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_urls_insert_for_rfc8414_and_append_for_openid() {
        let u = |s: &str| Url::parse(s).unwrap();
        let got = discovery_urls(&u("https://id.example.com"));
        assert_eq!(
            got[0].as_str(),
            "https://id.example.com/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            got[1].as_str(),
            "https://id.example.com/.well-known/openid-configuration"
        );
        let got = discovery_urls(&u("https://id.example.com/realms/acme/"));
        assert_eq!(
            got[0].as_str(),
            "https://id.example.com/.well-known/oauth-authorization-server/realms/acme"
        );
        assert_eq!(
            got[1].as_str(),
            "https://id.example.com/realms/acme/.well-known/openid-configuration"
        );
    }

    #[test]
    fn auth_method_defaults_to_basic_and_refuses_unknown_methods() {
        assert_eq!(AuthMethod::parse(None, None).unwrap(), AuthMethod::Basic);
        assert_eq!(
            AuthMethod::parse(Some("client_secret_post"), None).unwrap(),
            AuthMethod::Post
        );
        assert_eq!(
            AuthMethod::parse(Some("none"), None).unwrap(),
            AuthMethod::None
        );
        let e = AuthMethod::parse(Some("private_key_jwt"), None).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config);
        assert!(e.message.contains("private_key_jwt"), "{e}");
    }
}
