//! The `vercel-env` target: a project's environment variable through the REST API
//! (vercel.com/docs/rest-api/reference/endpoints/projects/create-one-or-more-environment-variables):
//! `POST /v10/projects/{idOrName}/env?upsert=true` with `{key, value, type: "encrypted",
//! target}` creates it or replaces its value; `teamId` names the team owning the project.

use reqwest::header::AUTHORIZATION;

use super::rest;
use super::{Delivery, Deploy, DeployError, TargetKind};
use crate::providers::http::{Call, Repeat};

const KIND: TargetKind = TargetKind::VercelEnv;
const API: &str = "https://api.vercel.com";

/// Puts `d.secret` as the variable `target` names.
pub async fn put(target: &Deploy, d: &Delivery<'_>) -> Result<String, DeployError> {
    let Deploy::VercelEnv {
        project,
        key,
        targets,
        team_id,
        api,
        ..
    } = target
    else {
        return Err(DeployError::config(KIND, "not a vercel-env target"));
    };
    let base = rest::base(KIND, api.as_deref(), API)?;
    let token = rest::token(KIND, d)?;
    let envs: Vec<&str> = if targets.is_empty() {
        vec!["production", "preview"]
    } else {
        targets.iter().map(String::as_str).collect()
    };
    let body = serde_json::json!({
        "key": key,
        "value": d.secret.expose_secret(),
        "type": "encrypted",
        "target": envs,
    });
    let mut url = rest::url(&base, &["v10", "projects", project, "env"]);
    url.query_pairs_mut().append_pair("upsert", "true");
    if let Some(team) = team_id {
        url.query_pairs_mut().append_pair("teamId", team);
    }
    let call = Call::new(None, "POST", url.path(), Repeat::Safe);
    rest::api(d.http, KIND)
        .send(&call, |c| {
            c.post(url.clone())
                .header(AUTHORIZATION, rest::bearer(token))
                .json(&body)
        })
        .await
        .and_then(|r| r.ok())
        .map_err(rest::error(KIND))?;
    Ok(format!("{} set", target.describe()))
}
