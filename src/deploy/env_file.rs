//! The `env-file` target: `NAME=value` set in a local env file, atomically. The new file is
//! written beside the old one under an unpredictable name (0600, exclusive, see
//! [`crate::fsutil::NewFile`]) and renamed over it, so a reader sees the old file or the new
//! one, never half of it; every other line is kept.

use std::io::ErrorKind;
use std::path::Path;

use super::{dotenv, DeployError, TargetKind};
use crate::fsutil;
use crate::secret::Secret;

/// Sets `name` to `secret` in the env file at `path` (created if missing).
pub fn set(path: &str, name: &str, secret: &Secret) -> Result<String, DeployError> {
    let fail = |m: String| DeployError {
        request: Some(format!("write {path}")),
        ..DeployError::config(TargetKind::EnvFile, m)
    };
    if !dotenv::valid_name(name) {
        return Err(fail(format!(
            "`{}` is not a variable name ([A-Za-z_][A-Za-z0-9_]*)",
            crate::text::terminal_safe(name)
        )));
    }
    let file = Path::new(path);
    let old = match fsutil::read_no_follow(file) {
        Ok(bytes) => String::from_utf8(bytes)
            .map_err(|_| fail("the file is not UTF-8 text; fix it by hand".into()))?,
        Err(e) if e.kind() == ErrorKind::NotFound => String::new(),
        Err(e) => return Err(fail(format!("could not read it: {e}"))),
    };
    let new = dotenv::set(&old, name, &dotenv::line(name, secret.expose_secret()));
    let write = || -> std::io::Result<()> {
        let mut tmp = fsutil::NewFile::beside(file)?;
        tmp.write_all(new.as_bytes())?;
        tmp.commit(file)
    };
    write().map_err(|e| {
        fail(format!(
            "could not replace it: {e}; check the directory exists and is writable"
        ))
    })?;
    Ok(format!("{name} set in {path}"))
}
