//! `keyward connections test` for an OAuth 2.0 server: where its endpoints are (discovery,
//! fetched afresh), whether keyward's client is accepted at the token and introspection
//! endpoints, whether tokens can be revoked, and what the issuer table says a refresh does to
//! the old refresh token.
//!
//! The client is checked with a made-up refresh token ([`PROBE_TOKEN`]): RFC 6749 §5.2 has
//! the server authenticate the client first (`invalid_client` when it refuses it) and only
//! then refuse the grant (`invalid_grant`), and RFC 7662 §2.2 answers `active: false` for a
//! token it does not know. Neither issues, changes nor revokes anything, and a token of no
//! grant cannot trip reuse detection.

use super::server::{self, AuthMethod, ClientAuth, DiscoveryCache};
use super::token::{introspect, refusal, OAuthError};
use super::{scrubbed, OAuth2, Server};
use crate::inventory::Connection;
use crate::providers::connection_check::{
    connection_target, Ability, ConnectionReport, ProbeOutcome,
};
use crate::providers::http::{Call, Repeat};
use crate::providers::ProviderError;
use crate::secret::Secret;

/// A refresh token no server issued, presented only to see the client accepted.
const PROBE_TOKEN: &str = "keyward-connection-check-not-a-token";

impl OAuth2 {
    /// [`crate::providers::Provider::check_connection`] for OAuth 2.0 connections.
    pub(super) async fn check(&self, connection: &Connection) -> ConnectionReport {
        let mut report = ConnectionReport::new(connection);
        let target = connection_target(connection);
        let at = Some(&target.at);
        let method = match AuthMethod::parse(
            connection
                .params
                .get("token_endpoint_auth_method")
                .map(String::as_str),
            at,
        ) {
            Ok(m) => m,
            Err(e) => {
                report.note = Some(e.to_string());
                return report;
            }
        };
        // A fresh cache: the check reads the discovery document as the server serves it now.
        let endpoints =
            match server::endpoints(&self.api, &DiscoveryCache::default(), connection, at).await {
                Ok(e) => e,
                Err(e) => {
                    report.failed("GET discovery document", &scrubbed(e, &target));
                    return report;
                }
            };
        match &endpoints.discovered_from {
            Some(url) => report.allowed(format!("GET {}", url.path())),
            None => report.fact("endpoints", "configured (`params.token_endpoint`)"),
        }
        let named =
            |u: &Option<url::Url>| u.as_ref().map_or("none".to_string(), url::Url::to_string);
        report.fact("token endpoint", endpoints.token.to_string());
        report.fact("revocation endpoint", named(&endpoints.revocation));
        report.fact("introspection endpoint", named(&endpoints.introspection));
        let server = Server {
            endpoints: endpoints.clone(),
            method,
            client_of: format!("connection `{}`", connection.id),
        };
        let aftermath = self.aftermath(&target, Some(&server));
        let mut after = aftermath.old.describe();
        if let Some(source) = &aftermath.source {
            after.push_str(&format!(" (per {source})"));
        }
        report.fact("old refresh token after a refresh", after);

        let client = match ClientAuth::of_connection(connection, method, at) {
            Ok(c) => c,
            Err(e) => {
                report.note = Some(e.to_string());
                return report;
            }
        };
        let probe = Secret::new(PROBE_TOKEN);
        let token_call = format!("POST {}", endpoints.token.path());
        let accepted = match self.probe_token_endpoint(&server, &client, &target).await {
            Ok(()) => {
                report.allowed(token_call);
                true
            }
            Err(e) => {
                let refused = ProbeOutcome::of_error(&e) == ProbeOutcome::Refused;
                report.failed(token_call, &scrubbed(e, &target));
                if refused {
                    report.can_create = Ability::No;
                    report.can_revoke = Ability::No;
                    report.note = Some(
                        "the server refuses the connection's client: check `auth.client_id`, \
                         `auth.client_secret` and `params.token_endpoint_auth_method`"
                            .into(),
                    );
                    return report;
                }
                false
            }
        };
        if accepted {
            // A refresh is how a refresh token is replaced.
            report.can_create = Ability::Yes;
        }
        if let Some(url) = &endpoints.introspection {
            let call = format!("POST {}", url.path());
            let answer = introspect(&self.api, url, &client, &probe, at, &server.client_of)
                .await
                .map_err(|e| scrubbed(e, &target));
            report.answered(call, &answer);
        }
        report.can_revoke = match (&endpoints.revocation, accepted) {
            (None, _) => Ability::No,
            (Some(_), true) => Ability::Yes,
            (Some(_), false) => Ability::Unknown,
        };
        if endpoints.revocation.is_none() {
            report.note = Some(
                "the server names no revocation endpoint: a refresh token ends only when it \
                 expires or is revoked in the server's console"
                    .into(),
            );
        }
        report
    }

    /// The refresh grant with [`PROBE_TOKEN`]: `Ok` when the server accepted the client and
    /// refused only the token (`invalid_grant`).
    async fn probe_token_endpoint(
        &self,
        server: &Server,
        client: &ClientAuth,
        target: &crate::providers::Target,
    ) -> Result<(), ProviderError> {
        let url = &server.endpoints.token;
        let call = Call::new(Some(&target.at), "POST", url.path(), Repeat::Safe);
        let reply = self
            .api
            .send(&call, |c| {
                client.post(
                    c,
                    url,
                    &[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", PROBE_TOKEN),
                    ],
                )
            })
            .await?;
        match OAuthError::of(&reply) {
            Some(e) if e.code == "invalid_grant" => Ok(()),
            Some(_) => Err(refusal(reply, &server.client_of)),
            None if (200..300).contains(&reply.status) => {
                Err(reply.bad_response("the server accepted a refresh token it never issued"))
            }
            None => Err(reply.into_error()),
        }
    }
}
