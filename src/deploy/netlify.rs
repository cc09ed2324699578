//! The `netlify-env` target: a site's environment variable through the REST API
//! (open-api.netlify.com, `setEnvVarValue` and `createEnvVars`): `PATCH
//! /accounts/{account_id}/env/{key}?site_id=` with `{context, value}` sets the value for one
//! deploy context; a 404 means the variable does not exist yet, and `POST
//! /accounts/{account_id}/env?site_id=` with `[{key, values: [{value, context}]}]` creates it.

use reqwest::header::AUTHORIZATION;

use super::rest;
use super::{Delivery, Deploy, DeployError, TargetKind};
use crate::providers::http::{Call, Repeat};

const KIND: TargetKind = TargetKind::NetlifyEnv;
const API: &str = "https://api.netlify.com/api/v1";

/// Puts `d.secret` as the variable `target` names.
pub async fn put(target: &Deploy, d: &Delivery<'_>) -> Result<String, DeployError> {
    let Deploy::NetlifyEnv {
        account,
        site,
        key,
        context,
        api,
        ..
    } = target
    else {
        return Err(DeployError::config(KIND, "not a netlify-env target"));
    };
    let base = rest::base(KIND, api.as_deref(), API)?;
    let token = rest::token(KIND, d)?;
    let auth = || rest::bearer(token);
    let context = context.as_deref().unwrap_or("all");
    let value = d.secret.expose_secret();
    let http = rest::api(d.http, KIND);
    let mut one = rest::url(&base, &["accounts", account, "env", key]);
    one.query_pairs_mut().append_pair("site_id", site);
    let patch = serde_json::json!({ "context": context, "value": value });
    let call = Call::new(None, "PATCH", one.path(), Repeat::Safe);
    let reply = http
        .send(&call, |c| {
            c.patch(one.clone())
                .header(AUTHORIZATION, auth())
                .json(&patch)
        })
        .await
        .map_err(rest::error(KIND))?;
    if reply.status == 404 {
        let mut all = rest::url(&base, &["accounts", account, "env"]);
        all.query_pairs_mut().append_pair("site_id", site);
        let create = serde_json::json!([{
            "key": key,
            "values": [{ "value": value, "context": context }],
        }]);
        let call = Call::new(None, "POST", all.path(), Repeat::Safe);
        http.send(&call, |c| {
            c.post(all.clone())
                .header(AUTHORIZATION, auth())
                .json(&create)
        })
        .await
        .and_then(|r| r.ok())
        .map_err(rest::error(KIND))?;
        return Ok(format!("{} created", target.describe()));
    }
    reply.ok().map_err(rest::error(KIND))?;
    Ok(format!("{} updated", target.describe()))
}
