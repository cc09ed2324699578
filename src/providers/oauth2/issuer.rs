//! What an OAuth 2.0 issuer does with the refresh token a refresh replaces. Discovery (RFC
//! 8414) says whether revocation (RFC 7009) and introspection (RFC 7662) exist, but not
//! this: a small table of known issuers says it, from each one's documentation, and any
//! other issuer is [`OldAfterRoll::Unknown`], checked after the roll.

use url::Url;

use crate::providers::OldAfterRoll;

/// A known issuer's documented behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownIssuer {
    /// Its key for `params.issuer_kind`, for an issuer behind a custom domain.
    pub key: &'static str,
    /// Its name, as plans show it.
    pub name: &'static str,
    /// What a refresh does to the old refresh token.
    pub old_after_refresh: OldAfterRoll,
    /// Where the issuer documents it.
    pub source: &'static str,
}

/// Hosts of known issuers: a host equal to `host`, or ending in `.host` when `suffix`.
struct Entry {
    host: &'static str,
    suffix: bool,
    issuer: KnownIssuer,
}

const ENTRA: KnownIssuer = KnownIssuer {
    key: "entra",
    name: "Microsoft Entra ID",
    // "The Microsoft identity platform doesn't revoke old refresh tokens when used to fetch
    // new access tokens" (90 days by default); its discovery document names neither a
    // revocation nor an introspection endpoint.
    old_after_refresh: OldAfterRoll::Untouched,
    source: "https://learn.microsoft.com/en-us/entra/identity-platform/refresh-tokens",
};

const GOOGLE: KnownIssuer = KnownIssuer {
    key: "google",
    name: "Google",
    // Google issues one refresh token per grant and returns none on refresh; revocation at
    // https://oauth2.googleapis.com/revoke (in discovery), no RFC 7662 introspection.
    old_after_refresh: OldAfterRoll::NotRotated,
    source: "https://developers.google.com/identity/protocols/oauth2/web-server#offline",
};

const OKTA: KnownIssuer = KnownIssuer {
    key: "okta",
    name: "Okta",
    // Refresh token rotation keeps the previous token valid for a grace period (0 to 60
    // seconds, 30 by default); revocation and introspection are in discovery.
    old_after_refresh: OldAfterRoll::GracePeriod { seconds: 60 },
    source: "https://developer.okta.com/docs/guides/refresh-tokens/main/#refresh-token-rotation",
};

const AUTH0: KnownIssuer = KnownIssuer {
    key: "auth0",
    name: "Auth0",
    // With rotation on, a used refresh token is invalidated (after the configured reuse
    // interval, 0 by default) and reusing it revokes the family; /oauth/revoke exists, no
    // introspection.
    old_after_refresh: OldAfterRoll::Invalidated,
    source: "https://auth0.com/docs/secure/tokens/refresh-tokens/refresh-token-rotation",
};

const SLACK: KnownIssuer = KnownIssuer {
    key: "slack",
    name: "Slack",
    // "The refresh token is then revoked, and a new refresh token is used"; Slack answers
    // errors as HTTP 200 with `ok: false` (https://docs.slack.dev/apis/web-api/#responses)
    // and has no RFC 7009 or RFC 7662 endpoint (auth.revoke is a Web API method).
    old_after_refresh: OldAfterRoll::Invalidated,
    source: "https://docs.slack.dev/authentication/using-token-rotation",
};

const HUBSPOT: KnownIssuer = KnownIssuer {
    key: "hubspot",
    name: "HubSpot",
    // HubSpot refresh tokens do not change on refresh and live until the app is
    // uninstalled; revocation and lookup are HubSpot's own endpoints, not RFC 7009/7662.
    old_after_refresh: OldAfterRoll::NotRotated,
    source: "https://developers.hubspot.com/docs/api/oauth/tokens",
};

const SALESFORCE: KnownIssuer = KnownIssuer {
    key: "salesforce",
    name: "Salesforce",
    // The refresh token flow returns no new refresh token unless the connected app turns
    // rotation on; /services/oauth2/revoke and /services/oauth2/introspect exist.
    old_after_refresh: OldAfterRoll::NotRotated,
    source:
        "https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_refresh_token_flow.htm",
};

const KNOWN: &[Entry] = &[
    Entry {
        host: "login.microsoftonline.com",
        suffix: false,
        issuer: ENTRA,
    },
    Entry {
        host: "login.microsoft.com",
        suffix: false,
        issuer: ENTRA,
    },
    Entry {
        host: "accounts.google.com",
        suffix: false,
        issuer: GOOGLE,
    },
    Entry {
        host: "oauth2.googleapis.com",
        suffix: false,
        issuer: GOOGLE,
    },
    Entry {
        host: "okta.com",
        suffix: true,
        issuer: OKTA,
    },
    Entry {
        host: "oktapreview.com",
        suffix: true,
        issuer: OKTA,
    },
    Entry {
        host: "auth0.com",
        suffix: true,
        issuer: AUTH0,
    },
    Entry {
        host: "slack.com",
        suffix: false,
        issuer: SLACK,
    },
    Entry {
        host: "api.hubapi.com",
        suffix: false,
        issuer: HUBSPOT,
    },
    Entry {
        host: "login.salesforce.com",
        suffix: false,
        issuer: SALESFORCE,
    },
    Entry {
        host: "my.salesforce.com",
        suffix: true,
        issuer: SALESFORCE,
    },
];

/// The known issuer at `issuer`'s host, if any.
pub fn known_issuer(issuer: &Url) -> Option<KnownIssuer> {
    let host = issuer.host_str()?.to_ascii_lowercase();
    KNOWN
        .iter()
        .find(|e| host == e.host || (e.suffix && host.ends_with(&format!(".{}", e.host))))
        .map(|e| e.issuer)
}

/// The known issuer named `key` (`params.issuer_kind`: `entra`, `google`, `okta`, `auth0`,
/// `slack`, `hubspot`, `salesforce`), for one behind a custom domain.
pub fn issuer_named(key: &str) -> Option<KnownIssuer> {
    KNOWN.iter().map(|e| e.issuer).find(|i| i.key == key)
}

/// What a connection says of its issuer: `params.refresh_rotation` (`invalidated`,
/// `grace-period`, `untouched`, `not-rotated`) overrides the table, for an issuer keyward
/// does not know or one configured differently (Auth0 or Salesforce with rotation off or on).
pub fn configured(value: &str) -> Option<OldAfterRoll> {
    match value {
        "invalidated" => Some(OldAfterRoll::Invalidated),
        "grace-period" => Some(OldAfterRoll::GracePeriod { seconds: 60 }),
        "untouched" => Some(OldAfterRoll::Untouched),
        "not-rotated" => Some(OldAfterRoll::NotRotated),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_issuers_are_found_by_host_and_only_by_host() {
        let at = |u: &str| known_issuer(&Url::parse(u).unwrap()).map(|k| k.name);
        assert_eq!(
            at("https://login.microsoftonline.com/tenant/v2.0"),
            Some("Microsoft Entra ID")
        );
        assert_eq!(at("https://acme.okta.com/oauth2/default"), Some("Okta"));
        assert_eq!(at("https://acme.eu.auth0.com/"), Some("Auth0"));
        assert_eq!(at("https://accounts.google.com"), Some("Google"));
        assert_eq!(at("https://evilokta.com/"), None);
        assert_eq!(at("https://okta.com.evil.example/"), None);
        assert_eq!(at("http://127.0.0.1:3000/"), None);
        assert_eq!(
            known_issuer(&Url::parse("https://login.microsoftonline.com/t").unwrap())
                .map(|k| k.old_after_refresh),
            Some(OldAfterRoll::Untouched)
        );
    }
}
