//! The `gitlab-ci` target: a project or group CI/CD variable through the REST API
//! (docs.gitlab.com/ee/api/project_level_variables.html, group_level_variables.html):
//! `PUT …/variables/{key}` updates it (with `filter[environment_scope]` when scoped); a 404
//! means it does not exist yet, and `POST …/variables` creates it. `raw` keeps a `$` in the
//! value from being expanded; `masked` and `protected` are as configured.

use super::rest;
use super::{Delivery, Deploy, DeployError, TargetKind};
use crate::providers::http::{Call, Repeat};

const KIND: TargetKind = TargetKind::GitlabCi;
const API: &str = "https://gitlab.com/api/v4";

/// Puts `d.secret` as the variable `target` names.
pub async fn put(target: &Deploy, d: &Delivery<'_>) -> Result<String, DeployError> {
    let Deploy::GitlabCi {
        project,
        group,
        key,
        masked,
        protected,
        environment_scope,
        api,
        ..
    } = target
    else {
        return Err(DeployError::config(KIND, "not a gitlab-ci target"));
    };
    let base = rest::base(KIND, api.as_deref(), API)?;
    let owner: [&str; 2] = match (project, group) {
        (Some(p), None) => ["projects", p],
        (None, Some(g)) => ["groups", g],
        _ => return Err(DeployError::config(KIND, "set one of `project` or `group`")),
    };
    let token = rest::token(KIND, d)?;
    let auth = || rest::secret_header(token.expose_secret());
    let http = rest::api(d.http, KIND);
    let scope = environment_scope.as_deref().unwrap_or("*");
    let mut body = serde_json::json!({
        "value": d.secret.expose_secret(),
        "masked": masked,
        "protected": protected,
        "raw": true,
        "environment_scope": scope,
    });
    let mut one = rest::url(&base, &[owner[0], owner[1], "variables", key]);
    if environment_scope.is_some() {
        one.query_pairs_mut()
            .append_pair("filter[environment_scope]", scope);
    }
    let call = Call::new(None, "PUT", one.path(), Repeat::Safe);
    let reply = http
        .send(&call, |c| {
            c.put(one.clone())
                .header("private-token", auth())
                .json(&body)
        })
        .await
        .map_err(rest::error(KIND))?;
    if reply.status == 404 {
        body["key"] = key.as_str().into();
        let all = rest::url(&base, &[owner[0], owner[1], "variables"]);
        // A create sent twice is refused (the key exists), never duplicated.
        let call = Call::new(None, "POST", all.path(), Repeat::Safe);
        http.send(&call, |c| {
            c.post(all.clone())
                .header("private-token", auth())
                .json(&body)
        })
        .await
        .and_then(|r| r.ok())
        .map_err(rest::error(KIND))?;
        return Ok(format!("{} created", target.describe()));
    }
    reply.ok().map_err(rest::error(KIND))?;
    Ok(format!("{} updated", target.describe()))
}
