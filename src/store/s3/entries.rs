//! The audit log of an inventory in a bucket, as one object per entry beside the
//! inventory's object: `KEY.audit/SEQ` (the sequence number zero-padded to 20 digits, so the
//! bucket lists them in order). Each is created with `If-None-Match: *`: a 412 means another
//! writer took the number, and the log ([`crate::audit::shared`]) chains onto theirs.

use std::sync::{Arc, OnceLock};

use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use super::super::location::ObjectAddress;
use super::{block_on, connect, first_line};
use crate::audit::SharedEntries;

/// Digits of an entry's name: `u64::MAX` has 20.
const SEQ_DIGITS: usize = 20;

/// The entries beside one inventory object.
#[derive(Debug)]
pub struct AuditObjects {
    /// `s3://BUCKET/KEY.audit/`, for messages.
    location: String,
    /// `KEY.audit`, the entries' common prefix.
    prefix: ObjectPath,
    address: ObjectAddress,
    /// Made at the first request: a log that is never touched needs no client.
    client: OnceLock<Result<Arc<dyn ObjectStore>, String>>,
}

impl AuditObjects {
    /// The entries of the inventory at `object`.
    pub fn new(object: &ObjectAddress) -> AuditObjects {
        let prefix = format!("{}.audit", object.key);
        AuditObjects {
            location: format!("{object}.audit/"),
            prefix: ObjectPath::from(prefix.as_str()),
            address: object.clone(),
            client: OnceLock::new(),
        }
    }

    fn client(&self) -> Result<&Arc<dyn ObjectStore>, String> {
        self.client
            .get_or_init(|| connect(&self.address))
            .as_ref()
            .map_err(Clone::clone)
    }

    fn key(&self, seq: u64) -> ObjectPath {
        self.prefix.clone().join(format!("{seq:0SEQ_DIGITS$}"))
    }
}

impl SharedEntries for AuditObjects {
    fn list(&self) -> Result<Vec<(u64, String)>, String> {
        let client = self.client()?;
        let listed = block_on(client.list(Some(&self.prefix)).try_collect::<Vec<_>>())
            .map_err(|e| first_line(&e))?;
        let mut entries: Vec<(u64, String)> = listed
            .into_iter()
            .filter_map(|meta| {
                let name = meta.location.filename()?;
                // Anything else under the prefix is not an entry keyward wrote.
                let seq = (name.len() == SEQ_DIGITS)
                    .then(|| name.parse::<u64>().ok())
                    .flatten()?;
                let version = meta
                    .e_tag
                    .unwrap_or_else(|| format!("{}-{}", meta.last_modified, meta.size));
                Some((seq, version))
            })
            .collect();
        entries.sort();
        Ok(entries)
    }

    fn get(&self, seq: u64) -> Result<Vec<u8>, String> {
        let client = self.client()?;
        let key = self.key(seq);
        block_on(async {
            let got = client.get(&key).await?;
            got.bytes().await
        })
        .map(|b| b.to_vec())
        .map_err(|e| first_line(&e))
    }

    fn create(&self, seq: u64, line: &[u8]) -> Result<Option<String>, String> {
        let client = self.client()?;
        let put = block_on(client.put_opts(
            &self.key(seq),
            PutPayload::from(line.to_vec()),
            PutOptions {
                mode: PutMode::Create,
                ..PutOptions::default()
            },
        ));
        match put {
            Ok(result) => Ok(Some(result.e_tag.unwrap_or_default())),
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => Ok(None),
            Err(e) => Err(first_line(&e)),
        }
    }

    fn location(&self) -> String {
        self.location.clone()
    }
}
