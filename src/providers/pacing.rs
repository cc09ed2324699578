//! How fast keyward may go at a provider: how many rotations run at once against one
//! connection (a lane, sized from the provider's documented rate limit), and how long a new
//! key may take to start working (its propagation window). Each provider declares both
//! ([`super::Provider::lane_size`], [`super::Provider::propagation`]); a connection
//! overrides them with `params.concurrency` and `params.propagation_seconds`.

use std::time::Duration;

use super::{Provider, Target};
use crate::inventory::Connection;

/// The connection parameter overriding a provider's lane size.
pub const CONCURRENCY_PARAM: &str = "concurrency";

/// The connection (or credential) parameter overriding a provider's propagation window.
pub const PROPAGATION_PARAM: &str = "propagation_seconds";

/// The lane of a provider that documents no rate limit: modest, since 429s slow it anyway.
pub const UNDOCUMENTED_LANE: usize = 4;

/// How long a provider call typically takes over the internet, to turn a documented rate
/// into rotations at once.
const TYPICAL_CALL: Duration = Duration::from_millis(250);

/// The lane that keeps calls, each taking about [`TYPICAL_CALL`], within
/// `requests_per_second`: at least one.
pub fn lane_for_rate(requests_per_second: f64) -> usize {
    let lane = (requests_per_second * TYPICAL_CALL.as_secs_f64()).floor();
    if lane.is_finite() && lane >= 1.0 {
        (lane as usize).min(MAX_LANE)
    } else {
        1
    }
}

/// The largest lane keyward opens, whatever a connection asks.
pub const MAX_LANE: usize = 512;

/// The longest propagation window a connection may set: a day.
const MAX_PROPAGATION_SECONDS: u64 = 86_400;

/// Rotations at once on `connection` of `provider`: `per_lane` (the person's flag) when
/// given, else the connection's `params.concurrency`, else the provider's documented lane.
pub fn lane_size(
    provider: &dyn Provider,
    connection: Option<&Connection>,
    per_lane: Option<usize>,
) -> Result<usize, String> {
    if let Some(n) = per_lane {
        return Ok(n.clamp(1, MAX_LANE));
    }
    let Some((id, value)) =
        connection.and_then(|c| Some((&c.id, c.params.get(CONCURRENCY_PARAM)?)))
    else {
        return Ok(provider.lane_size().clamp(1, MAX_LANE));
    };
    value
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_LANE).contains(n))
        .ok_or_else(|| {
            format!(
                "connection `{id}`: `params.{CONCURRENCY_PARAM}` must be a whole number from 1 \
                 to {MAX_LANE}; fix it with `keyward edit`"
            )
        })
}

/// How long `target`'s new key may take to start working: `params.propagation_seconds`
/// (credential, then connection) when set, else what the provider declares.
pub fn propagation_window(provider: &dyn Provider, target: &Target) -> Result<Duration, String> {
    let value = target.credential.params.get(PROPAGATION_PARAM).or_else(|| {
        target
            .connection
            .as_ref()
            .and_then(|c| c.params.get(PROPAGATION_PARAM))
    });
    match value {
        None => Ok(provider.propagation(target)),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|s| *s <= MAX_PROPAGATION_SECONDS)
            .map(Duration::from_secs)
            .ok_or_else(|| {
                format!(
                    "`params.{PROPAGATION_PARAM}` must be a whole number of seconds up to \
                     {MAX_PROPAGATION_SECONDS}; fix it on the credential or its connection"
                )
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Credential, CredentialRef, ProviderKind};
    use crate::providers::manual::Manual;

    fn connection(params: &[(&str, &str)]) -> Connection {
        Connection {
            id: "c".into(),
            provider: ProviderKind::Manual,
            endpoint: None,
            auth: Default::default(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn documented_rates_become_lanes() {
        assert_eq!(lane_for_rate(4.0), 1);
        assert_eq!(lane_for_rate(2000.0 / 60.0), 8);
        assert_eq!(lane_for_rate(0.1), 1);
        assert_eq!(lane_for_rate(f64::NAN), 1);
    }

    #[test]
    fn the_flag_beats_the_connection_which_beats_the_provider() {
        let p = Manual;
        let c = connection(&[("concurrency", "3")]);
        assert_eq!(lane_size(&p, None, None), Ok(p.lane_size()));
        assert_eq!(lane_size(&p, Some(&c), None), Ok(3));
        assert_eq!(lane_size(&p, Some(&c), Some(9)), Ok(9));
        let bad = connection(&[("concurrency", "0")]);
        let e = lane_size(&p, Some(&bad), None).unwrap_err();
        assert!(e.contains("`params.concurrency`"), "{e}");
    }

    #[test]
    fn a_connection_sets_the_propagation_window() {
        let at: CredentialRef = "a/b".parse().unwrap();
        let mut t = Target {
            at,
            credential: Credential::new("b", ProviderKind::Manual),
            connection: Some(connection(&[("propagation_seconds", "45")])),
        };
        assert_eq!(propagation_window(&Manual, &t), Ok(Duration::from_secs(45)));
        t.connection = None;
        assert_eq!(propagation_window(&Manual, &t), Ok(Duration::ZERO));
        t.credential
            .params
            .insert("propagation_seconds".into(), "soon".into());
        assert!(propagation_window(&Manual, &t).is_err());
    }
}
