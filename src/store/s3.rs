//! An inventory kept as an object in an S3-compatible bucket (AWS S3, Cloudflare R2,
//! MinIO, Garage, Ceph), through the `object_store` crate. Saves are conditional writes:
//! `If-Match: ETAG` against the version read, `If-None-Match: *` to create; a 412 is
//! another writer's version ([`StoreError::ChangedOnDisk`]).
//!
//! The endpoint and credentials come from the standard AWS configuration, so nothing about
//! them is keyward's own: `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_S3`, `AWS_ACCESS_KEY_ID`
//! and friends, and otherwise the profile `AWS_PROFILE` (or `default`) in
//! `~/.aws/credentials` and `~/.aws/config` (see [`profile`]). Plain HTTP is allowed only to
//! a loopback endpoint (a local MinIO or moto), as for every other service keyward talks to.
//!
//! Each object read or written is also kept as the inventory's local home file: still
//! age-encrypted, 0600, the offline copy read when the bucket cannot be reached.

mod entries;
pub mod profile;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path as ObjectPath;
use object_store::{
    ClientOptions, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, RetryConfig,
    UpdateVersion,
};

use super::backend::{Backend, Version};
use super::location::{Location, ObjectAddress};
use super::StoreError;
use crate::audit::SharedEntries;
use crate::fsutil;

/// How long one request may take, and connecting: a bucket that does not answer is
/// reported soon, and read commands fall back to the offline copy.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// An inventory object and its local home.
#[derive(Debug)]
pub struct S3Object {
    address: ObjectAddress,
    key: ObjectPath,
    home: PathBuf,
    client: Arc<dyn ObjectStore>,
}

impl S3Object {
    /// The object at `address`, reached with the standard AWS configuration of this
    /// process's environment; `home` is its local home (see [`super::location`]).
    pub fn from_env(address: &ObjectAddress, home: &Path) -> Result<S3Object, StoreError> {
        let client = connect(address).map_err(|detail| StoreError::Unreachable {
            location: address.to_string(),
            detail,
        })?;
        Ok(S3Object {
            address: address.clone(),
            key: ObjectPath::from(address.key.as_str()),
            home: home.to_path_buf(),
            client,
        })
    }

    /// Keeps `bytes` (ciphertext) as the offline copy. Failing to is not failing the read
    /// or write it follows: the copy is a convenience, and says how old it is when used.
    fn keep_offline_copy(&self, bytes: &[u8]) {
        let kept = fsutil::create_private_dir_all(&fsutil::parent_dir(&self.home))
            .and_then(|()| fsutil::write_private(&self.home, bytes));
        if let Err(e) = kept {
            tracing::warn!(
                path = %crate::logging::shown(&self.home),
                error = %super::keys::io_words(&e),
                "the offline copy could not be kept"
            );
        }
    }

    /// Shifts the backup copies `KEY.1 → KEY.2 …` and copies the object as `KEY.1`, in the
    /// bucket, before it is replaced: previous versions kept whether or not the bucket has
    /// versioning (which, when on, keeps every version besides). A copy that fails fails
    /// the save: nothing is replaced without its backup.
    fn keep_backups(&self) -> Result<(), StoreError> {
        let backup = |n: usize| ObjectPath::from(format!("{}.{n}", self.address.key));
        let copied = block_on(async {
            for n in (1..super::BACKUP_GENERATIONS).rev() {
                match self.client.copy(&backup(n), &backup(n + 1)).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            match self.client.copy(&self.key, &backup(1)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(e),
            }
        });
        copied.map_err(|e| StoreError::Write {
            path: PathBuf::from(self.address.to_string()),
            detail: format!(
                "cannot keep the previous version as a backup: {}",
                first_line(&e)
            ),
        })
    }

    fn unreachable(&self, e: &object_store::Error) -> StoreError {
        StoreError::Unreachable {
            location: self.address.to_string(),
            detail: first_line(e),
        }
    }
}

impl Backend for S3Object {
    fn read(&self) -> Result<(Vec<u8>, Version), StoreError> {
        let fetched = block_on(async {
            let got = self.client.get(&self.key).await?;
            let tag = got.meta.e_tag.clone();
            Ok::<_, object_store::Error>((got.bytes().await?, tag))
        });
        match fetched {
            Ok((bytes, Some(tag))) => {
                self.keep_offline_copy(&bytes);
                Ok((bytes.to_vec(), Version::new(tag)))
            }
            Ok((_, None)) => Err(StoreError::Unreachable {
                location: self.address.to_string(),
                detail: "the storage gave no ETag, so saves could not be made conditional".into(),
            }),
            Err(object_store::Error::NotFound { .. }) => Err(StoreError::Missing {
                path: PathBuf::from(self.address.to_string()),
            }),
            Err(e) => Err(self.unreachable(&e)),
        }
    }

    fn write_if(&self, bytes: &[u8], expected: Option<&Version>) -> Result<Version, StoreError> {
        if expected.is_some() {
            self.keep_backups()?;
        }
        let mode = match expected {
            None => PutMode::Create,
            Some(v) => PutMode::Update(UpdateVersion {
                e_tag: Some(v.as_str().to_string()),
                version: None,
            }),
        };
        let payload = PutPayload::from(bytes.to_vec());
        let put = block_on(self.client.put_opts(
            &self.key,
            payload,
            PutOptions {
                mode,
                ..PutOptions::default()
            },
        ));
        match put {
            Ok(result) => {
                self.keep_offline_copy(bytes);
                let tag = result.e_tag.ok_or_else(|| StoreError::Write {
                    path: self.home.clone(),
                    detail: format!(
                        "{}: the storage gave no ETag for the version written",
                        self.address
                    ),
                })?;
                Ok(Version::new(tag))
            }
            Err(
                object_store::Error::Precondition { .. }
                | object_store::Error::AlreadyExists { .. },
            ) => Err(StoreError::ChangedOnDisk {
                path: PathBuf::from(self.address.to_string()),
            }),
            Err(e) => Err(self.unreachable(&e)),
        }
    }
}

/// A client for `address`'s bucket, configured from this process's environment and the
/// standard AWS configuration files.
fn connect(address: &ObjectAddress) -> Result<Arc<dyn ObjectStore>, String> {
    crate::providers::http::install_crypto_provider();
    let mut builder = profile::fill(AmazonS3Builder::from_env())
        .with_bucket_name(&address.bucket)
        .with_retry(RetryConfig {
            max_retries: 2,
            retry_timeout: Duration::from_secs(15),
            ..RetryConfig::default()
        })
        .with_client_options(
            ClientOptions::new()
                .with_timeout(REQUEST_TIMEOUT)
                .with_connect_timeout(CONNECT_TIMEOUT),
        );
    if builder
        .get_config_value(&AmazonS3ConfigKey::Region)
        .is_none()
    {
        builder = builder.with_region("us-east-1");
    }
    // An endpoint of plain HTTP is allowed only on this machine (a local MinIO, moto).
    for key in [AmazonS3ConfigKey::Endpoint, AmazonS3ConfigKey::S3Endpoint] {
        if let Some(endpoint) = builder.get_config_value(&key) {
            let url = url::Url::parse(&endpoint)
                .map_err(|e| format!("endpoint `{endpoint}` is not a URL: {e}"))?;
            match url.scheme() {
                "https" => {}
                "http" if crate::providers::http::is_loopback(&url) => {
                    builder = builder.with_allow_http(true);
                }
                _ => {
                    return Err(format!(
                        "endpoint `{endpoint}` is not HTTPS; only loopback addresses may skip TLS"
                    ))
                }
            }
        }
    }
    let client = builder.build().map_err(|e| first_line(&e))?;
    Ok(Arc::new(client))
}

/// The audit entries shared beside an inventory kept in a bucket; `None` for a local one.
pub fn shared_entries(location: &Location) -> Option<Arc<dyn SharedEntries>> {
    location
        .object()
        .map(|object| Arc::new(entries::AuditObjects::new(object)) as Arc<dyn SharedEntries>)
}

/// The first line of an error, as `object_store` errors can run to several.
fn first_line(e: &dyn std::fmt::Display) -> String {
    e.to_string().lines().next().unwrap_or_default().to_string()
}

/// Runs `future` to completion on a runtime of its own, on a thread of its own: the store
/// is synchronous, and its callers may or may not be inside a Tokio runtime already.
/// A runtime that cannot start (no threads or file descriptors left) is an I/O error.
pub(super) fn block_on<T: Send, F: Future<Output = object_store::Result<T>> + Send>(
    future: F,
) -> object_store::Result<T> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| object_store::Error::Generic {
                        store: "S3",
                        source: Box::new(e),
                    })?
                    .block_on(future)
            })
            .join()
    })
    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}
