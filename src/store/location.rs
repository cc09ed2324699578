//! Where an inventory lives: a local file, or an object in an S3-compatible bucket
//! (`s3://BUCKET/KEY`). Either way the inventory has a local home: the path its lock,
//! audit log, journal and sandbox state are kept beside. For a local file that is the file
//! itself; for an object it is a private mirror under keyward's config directory, whose
//! file is also the offline cache of the last version read (still age-encrypted).

use std::fmt;
use std::path::{Path, PathBuf};

use super::backend::{Backend, LocalFile};
use super::s3::S3Object;
use super::StoreError;

/// The URL scheme of an inventory in an S3-compatible bucket.
pub const S3_SCHEME: &str = "s3://";

/// An object in an S3-compatible bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectAddress {
    /// The bucket's name.
    pub bucket: String,
    /// The object's key in the bucket.
    pub key: String,
}

impl fmt::Display for ObjectAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{S3_SCHEME}{}/{}", self.bucket, self.key)
    }
}

/// Where an inventory is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A file on this machine.
    File(PathBuf),
    /// An object in a bucket, with the local home it is mirrored in.
    S3 {
        /// The object.
        object: ObjectAddress,
        /// Its local home (see the module's documentation).
        home: PathBuf,
    },
}

/// Why an inventory location was not understood.
#[derive(Debug, thiserror::Error)]
#[error(
    "inventory location `{given}`: {why}; write s3://BUCKET/PATH/inventory.yaml.age or a file path"
)]
pub struct LocationError {
    /// What was given (made terminal-safe when shown).
    given: String,
    /// What is wrong with it.
    why: &'static str,
}

impl Location {
    /// Reads `given` (an `--inventory` value or `KEYWARD_INVENTORY`): `s3://BUCKET/KEY`, or
    /// else a file path. The local home of an object is made under `remote_homes`.
    pub fn parse(given: &Path, remote_homes: &Path) -> Result<Location, LocationError> {
        let Some(rest) = given.to_str().and_then(|s| s.strip_prefix(S3_SCHEME)) else {
            return Ok(Location::File(given.to_path_buf()));
        };
        let fail = |why| LocationError {
            given: crate::text::terminal_safe(&given.to_string_lossy()).into_owned(),
            why,
        };
        let (bucket, key) = rest
            .split_once('/')
            .ok_or_else(|| fail("no object key after the bucket"))?;
        // S3's bucket naming rules, enough to keep the name a single safe path component.
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && !bucket.starts_with('.')
            && bucket != "..";
        if !bucket_ok {
            return Err(fail("the bucket name is not a valid S3 bucket name"));
        }
        // The key is mirrored as a path under the home: each segment must be a plain name.
        let segments_ok = key
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != ".." && !s.chars().any(|c| c.is_control()));
        if !segments_ok {
            return Err(fail("the object key has an empty, `.` or `..` segment"));
        }
        let home = remote_homes.join("s3").join(bucket).join(key);
        Ok(Location::S3 {
            object: ObjectAddress {
                bucket: bucket.to_string(),
                key: key.to_string(),
            },
            home,
        })
    }

    /// The local path the inventory's lock, audit log, journal and backups or cache are
    /// named after (see the module's documentation).
    pub fn home(&self) -> &Path {
        match self {
            Location::File(path) => path,
            Location::S3 { home, .. } => home,
        }
    }

    /// The object, for an inventory kept in a bucket.
    pub fn object(&self) -> Option<&ObjectAddress> {
        match self {
            Location::File(_) => None,
            Location::S3 { object, .. } => Some(object),
        }
    }

    /// The storage behind this location.
    pub fn backend(&self) -> Result<Box<dyn Backend>, StoreError> {
        match self {
            Location::File(path) => Ok(Box::new(LocalFile::new(path))),
            Location::S3 { object, home } => Ok(Box::new(S3Object::from_env(object, home)?)),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File(path) => write!(f, "{}", path.display()),
            Location::S3 { object, .. } => write!(f, "{object}"),
        }
    }
}

impl From<&Path> for Location {
    fn from(path: &Path) -> Location {
        Location::File(path.to_path_buf())
    }
}

impl From<&PathBuf> for Location {
    fn from(path: &PathBuf) -> Location {
        Location::File(path.clone())
    }
}

impl From<&Location> for Location {
    fn from(location: &Location) -> Location {
        location.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_s3_url_is_an_object_with_a_home_mirroring_its_key() {
        let at = Location::parse(
            Path::new("s3://team-keys/acme/inventory.yaml.age"),
            Path::new("/h"),
        )
        .unwrap();
        assert_eq!(at.to_string(), "s3://team-keys/acme/inventory.yaml.age");
        assert_eq!(
            at.home(),
            Path::new("/h/s3/team-keys/acme/inventory.yaml.age")
        );
        let file = Location::parse(Path::new("./inv.age"), Path::new("/h")).unwrap();
        assert_eq!(file, Location::File(PathBuf::from("./inv.age")));
    }

    #[test]
    fn a_key_that_would_climb_out_of_its_home_is_refused() {
        for bad in [
            "s3://team-keys/../x",
            "s3://team-keys/a//b",
            "s3://team-keys/",
            "s3://team-keys",
            "s3://Bad_Bucket/x",
            "s3://../x",
        ] {
            assert!(
                Location::parse(Path::new(bad), Path::new("/h")).is_err(),
                "{bad}"
            );
        }
    }
}
