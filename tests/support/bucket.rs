//! A bucket on moto_server's S3, and `keyward` commands pointed at an inventory in it.
//! moto (5.2.1, pinned in scripts/test-setup.sh) implements S3's conditional writes:
//! `If-None-Match: *` and `If-Match: ETAG` answer 412 Precondition Failed on a mismatch.
//! The test's own reads and writes go through curl, not keyward's code, so they are an
//! independent view of what is stored.

use std::path::Path;
use std::process::Command;

use super::peers::Peer;
use super::workspace::Workspace;

/// moto routes a request by the service in its SigV4 credential scope; with its
/// authentication off any signature is accepted.
const AUTHORIZATION: &str = "Authorization: AWS4-HMAC-SHA256 \
    Credential=test/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0";

/// A bucket on its own moto_server, stopped when dropped.
pub struct Bucket {
    /// The S3 peer.
    pub moto: Peer,
    /// The bucket's name.
    pub name: String,
}

impl Bucket {
    /// Starts moto and creates the bucket `name` in it.
    pub fn new(name: &str) -> Bucket {
        let bucket = Bucket {
            moto: Peer::moto(),
            name: name.to_string(),
        };
        let out = bucket.curl(&["-X", "PUT", &bucket.url("")]);
        assert!(out.status.success(), "create bucket {name}: {out:?}");
        bucket
    }

    /// `s3://BUCKET/KEY`.
    pub fn s3_url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.name)
    }

    fn url(&self, key: &str) -> String {
        format!("{}/{}/{key}", self.moto.base_url, self.name)
    }

    fn curl(&self, args: &[&str]) -> std::process::Output {
        Command::new("curl")
            .args(["-s", "-S", "-f", "-H", AUTHORIZATION])
            .args(args)
            .output()
            .expect("curl is missing: run scripts/test-setup.sh")
    }

    /// The object's bytes as stored, or `None` if there is none.
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        let out = self.curl(&[&self.url(key)]);
        out.status.success().then_some(out.stdout)
    }

    /// The keys of the objects whose key starts with `prefix`, in the bucket's order.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let url = format!("{}?list-type=2&prefix={prefix}", self.url(""));
        let out = self.curl(&[&url]);
        assert!(out.status.success(), "list {prefix}: {out:?}");
        String::from_utf8_lossy(&out.stdout)
            .split("<Key>")
            .skip(1)
            .filter_map(|rest| rest.split_once("</Key>").map(|(key, _)| key.to_string()))
            .collect()
    }

    /// Stores `file`'s bytes as the object `key`, unconditionally (another writer).
    pub fn put(&self, key: &str, file: &Path) {
        let out = self.curl(&[
            "-X",
            "PUT",
            "-T",
            &file.display().to_string(),
            &self.url(key),
        ]);
        assert!(out.status.success(), "put {key}: {out:?}");
    }

    /// The AWS configuration a teammate's shell would have for this bucket: the endpoint
    /// and static test credentials, nothing keyward-specific.
    pub fn configure(&self, cmd: &mut Command) {
        cmd.env("AWS_ENDPOINT_URL", &self.moto.base_url)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_ENDPOINT_URL_S3");
    }

    /// `keyward` in `ws` with its inventory at `s3://BUCKET/key`.
    pub fn keyward(&self, ws: &Workspace, key: &str) -> Command {
        let mut cmd = ws.keyward();
        cmd.env("KEYWARD_INVENTORY", self.s3_url(key));
        self.configure(&mut cmd);
        cmd
    }
}
