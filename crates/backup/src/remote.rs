//! The backup store: `file:///DIR` or `s3://BUCKET[/PREFIX]` (S3 and S3-compatible stores,
//! configured by the usual `AWS_*` variables: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_REGION`, `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP=true` for a plain-http endpoint).
//!
//! Uploads are atomic from a reader's side: a single PUT, or a multipart upload that becomes
//! visible only when completed (`file://` writes a staging file and renames it). Downloads are
//! bounded: the size is known from the response before any byte is kept, and whole-object
//! reads refuse anything over the caller's limit.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Once};

use futures::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use serde::Serialize;

use crate::chain::Listing;
use crate::layout::{self, DeltaName, FullName, Object};

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error(
        "--store {0:?} is not a backup store URL: use file:///ABSOLUTE/DIR or s3://BUCKET[/PREFIX]"
    )]
    Url(String),
    #[error("--store {url}: {what}")]
    Open { url: String, what: String },
    #[error("{object}: {what}")]
    Object { object: String, what: String },
    #[error("{object} is {size} bytes, over the {limit}-byte limit for this kind of object")]
    TooLarge {
        object: String,
        size: u64,
        limit: u64,
    },
    #[error("{}: {what}", path.display())]
    Local {
        path: std::path::PathBuf,
        what: String,
    },
}

/// One object as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub object: String,
    pub size: u64,
    /// When the store says the object was written (ms since the epoch).
    pub uploaded_ms: i64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Contents {
    /// Fulls with their manifest, oldest revision first.
    pub fulls: Vec<(FullName, Entry)>,
    /// Fulls whose manifest is missing (an upload that never finished): never used.
    pub unfinished: Vec<(FullName, Entry)>,
    pub deltas: Vec<(DeltaName, Entry)>,
    /// Manifests whose snapshot object is missing: never used by a reader.
    pub orphan_manifests: Vec<(FullName, Entry)>,
    /// Objects under the prefix whose names are not ours: reported, never touched.
    pub foreign: Vec<Entry>,
}

impl Contents {
    pub fn listing(&self) -> Listing {
        Listing {
            fulls: self.fulls.iter().map(|(f, _)| f.clone()).collect(),
            deltas: self.deltas.iter().map(|(d, _)| *d).collect(),
        }
        .sorted()
    }
}

#[derive(Clone)]
pub struct Store {
    inner: Arc<dyn ObjectStore>,
    /// Set for a `file://` store: its objects are files a restore can link instead of stream.
    local: Option<Arc<object_store::local::LocalFileSystem>>,
    prefix: String,
    pub url: String,
}

/// reqwest's rustls is built without a default provider: use ring, as the rest of lifeboat.
fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl Store {
    pub fn open(url: &str) -> Result<Store, RemoteError> {
        let open_err = |what: String| RemoteError::Open {
            url: url.to_string(),
            what,
        };
        let parsed = url::Url::parse(url).map_err(|_| RemoteError::Url(url.to_string()))?;
        let mut local = None;
        let (inner, prefix): (Arc<dyn ObjectStore>, String) = match parsed.scheme() {
            "file" => {
                let dir = parsed
                    .to_file_path()
                    .map_err(|_| RemoteError::Url(url.to_string()))?;
                if !dir.is_dir() {
                    return Err(open_err(format!(
                        "{} is not a directory; create it first (mkdir -p)",
                        dir.display()
                    )));
                }
                let fs = object_store::local::LocalFileSystem::new_with_prefix(&dir)
                    .map_err(|e| open_err(e.to_string()))?;
                let fs = Arc::new(fs);
                local = Some(fs.clone());
                (fs, String::new())
            }
            "s3" => {
                install_crypto_provider();
                let bucket = parsed
                    .host_str()
                    .filter(|b| !b.is_empty())
                    .ok_or_else(|| RemoteError::Url(url.to_string()))?;
                let s3 = object_store::aws::AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .build()
                    .map_err(|e| {
                        open_err(format!(
                            "{e}; set AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION \
                             (and AWS_ENDPOINT_URL, AWS_ALLOW_HTTP=true for an S3-compatible \
                             plain-http endpoint)"
                        ))
                    })?;
                (Arc::new(s3), parsed.path().trim_matches('/').to_string())
            }
            _ => return Err(RemoteError::Url(url.to_string())),
        };
        Ok(Store {
            inner,
            local,
            prefix,
            url: url.to_string(),
        })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The file holding `object`, when the store is a `file://` directory and it exists.
    pub fn local_file(&self, object: &str) -> Option<std::path::PathBuf> {
        let path = self
            .local
            .as_ref()?
            .path_to_filesystem(&ObjectPath::from(object))
            .ok()?;
        path.is_file().then_some(path)
    }

    fn err(object: &str, e: impl std::fmt::Display) -> RemoteError {
        RemoteError::Object {
            object: object.to_string(),
            what: e.to_string(),
        }
    }

    /// Every full, manifest and segment under the prefix (other objects are ignored).
    pub async fn contents(&self) -> Result<Contents, RemoteError> {
        let prefix = (!self.prefix.is_empty()).then(|| ObjectPath::from(self.prefix.as_str()));
        let mut stream = self.inner.list(prefix.as_ref());
        let mut fulls = Vec::new();
        let mut manifests = std::collections::BTreeMap::new();
        let mut out = Contents::default();
        while let Some(meta) = stream.next().await {
            let meta = meta.map_err(|e| RemoteError::Open {
                url: self.url.clone(),
                what: format!("listing failed: {e}"),
            })?;
            let entry = Entry {
                object: meta.location.to_string(),
                size: meta.size,
                uploaded_ms: meta.last_modified.timestamp_millis(),
            };
            match layout::parse(&self.prefix, &entry.object) {
                Some(Object::Full(f)) => fulls.push((f, entry)),
                Some(Object::Manifest(f)) => {
                    manifests.insert(f, entry);
                }
                Some(Object::Delta(d)) => out.deltas.push((d, entry)),
                None => out.foreign.push(entry),
            }
        }
        for (f, e) in fulls {
            if manifests.remove(&f).is_some() {
                out.fulls.push((f, e));
            } else {
                out.unfinished.push((f, e));
            }
        }
        out.orphan_manifests = manifests.into_iter().collect();
        out.fulls.sort_by(|a, b| a.0.cmp(&b.0));
        out.deltas.sort_by_key(|d| d.0);
        Ok(out)
    }

    /// A whole object in memory, refused when over `limit` bytes.
    pub async fn get(&self, object: &str, limit: u64) -> Result<Vec<u8>, RemoteError> {
        let result = self
            .inner
            .get(&ObjectPath::from(object))
            .await
            .map_err(|e| Self::err(object, e))?;
        let size = result.meta.size;
        if size > limit {
            return Err(RemoteError::TooLarge {
                object: object.to_string(),
                size,
                limit,
            });
        }
        let bytes = result.bytes().await.map_err(|e| Self::err(object, e))?;
        Ok(bytes.to_vec())
    }

    /// Streams an object into a new file (mode 0600), each chunk also handed to `seen` (a
    /// digest computed during the copy), returning its size.
    pub async fn get_to_file(
        &self,
        object: &str,
        path: &Path,
        seen: &mut dyn FnMut(&[u8]),
    ) -> Result<u64, RemoteError> {
        use std::os::unix::fs::OpenOptionsExt;
        let local = |what: String| RemoteError::Local {
            path: path.to_path_buf(),
            what,
        };
        let result = self
            .inner
            .get(&ObjectPath::from(object))
            .await
            .map_err(|e| Self::err(object, e))?;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| local(e.to_string()))?;
        let mut size = 0u64;
        let mut stream = result.into_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| Self::err(object, e))?;
            seen(&chunk);
            size += chunk.len() as u64;
            file.write_all(&chunk).map_err(|e| local(e.to_string()))?;
        }
        file.sync_all().map_err(|e| local(e.to_string()))?;
        Ok(size)
    }

    /// Deletes one object. An object already gone counts as deleted: two prunes may race, and
    /// a retried delete must not fail on its own first success.
    pub async fn delete(&self, object: &str) -> Result<(), RemoteError> {
        match self.inner.delete(&ObjectPath::from(object)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(Self::err(object, e)),
        }
    }

    /// One PUT of `bytes`: the object appears whole or not at all.
    pub async fn put(&self, object: &str, bytes: Vec<u8>) -> Result<(), RemoteError> {
        self.inner
            .put(&ObjectPath::from(object), PutPayload::from(bytes))
            .await
            .map_err(|e| Self::err(object, e))?;
        Ok(())
    }

    /// Uploads a local file in parts; the object appears only when the upload completes.
    pub async fn put_file(&self, object: &str, path: &Path) -> Result<u64, RemoteError> {
        use std::io::Read;
        let local = |what: String| RemoteError::Local {
            path: path.to_path_buf(),
            what,
        };
        let mut file = std::fs::File::open(path).map_err(|e| local(e.to_string()))?;
        let upload = self
            .inner
            .put_multipart(&ObjectPath::from(object))
            .await
            .map_err(|e| Self::err(object, e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, 8 << 20);
        let mut buf = vec![0u8; 1 << 20];
        let mut size = 0u64;
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(local(e.to_string()));
                }
            };
            // Bounds the parts in flight, and so the memory.
            writer
                .wait_for_capacity(2)
                .await
                .map_err(|e| Self::err(object, e))?;
            writer.write(&buf[..n]);
            size += n as u64;
        }
        writer.finish().await.map_err(|e| Self::err(object, e))?;
        Ok(size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_store_urls_say_what_to_write() {
        for url in ["/backups", "http://x/y", "s3://"] {
            let err = Store::open(url)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                err.contains("file:///") || err.contains("s3://"),
                "{url}: {err}"
            );
        }
        let missing = Store::open("file:///nonexistent/lifeboat-backups")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(missing.contains("mkdir"), "{missing}");
    }
}
