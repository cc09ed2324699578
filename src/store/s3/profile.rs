//! The AWS shared configuration files, for what `object_store` reads only from the
//! environment: the profile `AWS_PROFILE` (or `default`) in `~/.aws/credentials`
//! (`AWS_SHARED_CREDENTIALS_FILE`) gives the access key, and in `~/.aws/config`
//! (`AWS_CONFIG_FILE`, section `[profile NAME]`) the region and `endpoint_url`. Values in
//! the environment win, as with the AWS CLI.

use std::collections::HashMap;
use std::path::PathBuf;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use secrecy::{ExposeSecret, SecretString};

/// `builder` with what the profile adds to the environment's settings.
pub fn fill(mut builder: AmazonS3Builder) -> AmazonS3Builder {
    let profile = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into());
    let Some(home) = std::env::var_os("HOME").map(PathBuf::from) else {
        return builder;
    };
    let file = |var: &str, name: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".aws").join(name))
    };
    if builder
        .get_config_value(&AmazonS3ConfigKey::AccessKeyId)
        .is_none()
    {
        let credentials = section(
            &file("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
            &profile,
        );
        if let (Some(id), Some(secret)) = (
            credentials.get("aws_access_key_id"),
            credentials.get("aws_secret_access_key"),
        ) {
            builder = builder
                .with_access_key_id(id.expose_secret())
                .with_secret_access_key(secret.expose_secret());
            if let Some(token) = credentials.get("aws_session_token") {
                builder = builder.with_token(token.expose_secret());
            }
        }
    }
    // In the config file a named profile's section is `[profile NAME]`; `default` is bare.
    let config_section = match profile.as_str() {
        "default" => profile.clone(),
        name => format!("profile {name}"),
    };
    let config = section(&file("AWS_CONFIG_FILE", "config"), &config_section);
    for (name, key) in [
        ("region", AmazonS3ConfigKey::Region),
        ("endpoint_url", AmazonS3ConfigKey::Endpoint),
    ] {
        if let (Some(value), None) = (config.get(name), builder.get_config_value(&key)) {
            builder = builder.with_config(key, value.expose_secret());
        }
    }
    builder
}

/// The `key = value` lines of `[name]` in the INI file at `path` (none if it is missing or
/// unreadable). Values are kept as secrets: the credentials file holds secret keys.
fn section(path: &std::path::Path, name: &str) -> HashMap<String, SecretString> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return HashMap::new();
    };
    let text = zeroize::Zeroizing::new(text);
    parse_section(&text, name)
}

fn parse_section(text: &str, name: &str) -> HashMap<String, SecretString> {
    let mut inside = false;
    let mut values = HashMap::new();
    for line in text.lines().map(str::trim) {
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = header.trim() == name;
        } else if inside && !line.starts_with(['#', ';']) {
            if let Some((key, value)) = line.split_once('=') {
                values.insert(
                    key.trim().to_ascii_lowercase(),
                    SecretString::from(value.trim().to_string()),
                );
            }
        }
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_named_sections_keys_are_read() {
        let text = "[default]\naws_access_key_id = A\n\n[profile team]\n# note\nregion = eu-west-3\nendpoint_url=http://127.0.0.1:9000\n";
        let team = parse_section(text, "profile team");
        assert_eq!(team["region"].expose_secret(), "eu-west-3");
        assert_eq!(
            team["endpoint_url"].expose_secret(),
            "http://127.0.0.1:9000"
        );
        assert!(!team.contains_key("aws_access_key_id"));
        assert_eq!(
            parse_section(text, "default")["aws_access_key_id"].expose_secret(),
            "A"
        );
    }
}
