//! The file `kube delete` writes before it deletes: the stored bytes and revisions of the
//! object, enough for `kube put -f` to put it back exactly. Mode 0600: it may hold a Secret.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use store::objects::LatestKv;

use store::encrypted::Identities;

use crate::OpsError;
use crate::files::write_atomic;
use crate::utc;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Backup {
    /// Format version; files with another number are refused.
    pub lifeboat_backup: u32,
    pub key: String,
    /// The stored value, byte for byte (protobuf envelope, JSON or ciphertext).
    pub value_base64: String,
    pub create_revision: i64,
    pub mod_revision: i64,
    pub version: i64,
    pub lease: i64,
    /// `etcd https://...` or `snapshot FILE`.
    pub source: String,
    pub taken_at: String,
    /// The object as kubectl would show it (Secret data redacted), for people reading the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<serde_json::Value>,
}

pub const BACKUP_FORMAT: u32 = 1;

impl Backup {
    pub fn of(kv: &LatestKv, source: String) -> Backup {
        let (mut object, _) =
            registry::decode_object(&kv.value, kv.mod_revision, registry::ViewOptions::default());
        // Stored under secrets/ it is a Secret whatever its `kind` says: the view people
        // read shows no value of it (the stored bytes are in `value_base64`, mode 0600).
        if kv
            .key
            .starts_with(store::k8s::list_prefix("secrets", None).as_bytes())
            && let Some(o) = object.as_mut()
        {
            registry::redact::secret_fields(o);
        }
        Backup {
            lifeboat_backup: BACKUP_FORMAT,
            key: String::from_utf8_lossy(&kv.key).into_owned(),
            value_base64: base64::engine::general_purpose::STANDARD.encode(&kv.value),
            create_revision: kv.create_revision,
            mod_revision: kv.mod_revision,
            version: kv.version,
            lease: kv.lease,
            source,
            taken_at: utc::rfc3339_now(),
            object: object.map(serde_json::Value::Object),
        }
    }

    pub fn value(&self) -> Result<Vec<u8>, OpsError> {
        base64::engine::general_purpose::STANDARD
            .decode(&self.value_base64)
            .map_err(|e| OpsError::Config(format!("backup value_base64 is not base64: {e}")))
    }

    pub fn read(path: &Path) -> Result<Backup, OpsError> {
        Backup::read_with(path, None)
    }

    /// [`Backup::read`] of a plain or (with `identities`) age-encrypted backup.
    pub fn read_with(path: &Path, identities: Option<&Identities>) -> Result<Backup, OpsError> {
        let mut bytes = inputs::read(path, inputs::Kind::KUBE_BACKUP)
            .map_err(|e| OpsError::Config(e.to_string()))?;
        if bytes.starts_with(store::encrypted::MAGIC) {
            let Some(ids) = identities else {
                return Err(OpsError::Config(format!(
                    "{} is age-encrypted (taken from an encrypted snapshot): pass --identity FILE \
                     with a key it was encrypted to",
                    path.display()
                )));
            };
            bytes = ids
                .decrypt(path, &bytes)
                .map_err(|e| OpsError::Config(e.to_string()))?;
        }
        let b: Backup = serde_json::from_slice(&bytes).map_err(|e| {
            OpsError::Config(format!(
                "{} is not a lifeboat object backup (written by `lifeboat kube delete`): {e}",
                path.display()
            ))
        })?;
        if b.lifeboat_backup != BACKUP_FORMAT {
            return Err(OpsError::Config(format!(
                "{}: backup format {} is not supported (this lifeboat reads {BACKUP_FORMAT})",
                path.display(),
                b.lifeboat_backup
            )));
        }
        if b.key.is_empty() {
            return Err(OpsError::Config(format!(
                "{}: the backup names no key",
                path.display()
            )));
        }
        b.value()?;
        b.check_key().map_err(|why| {
            OpsError::Config(format!(
                "{}: refusing its key {:?}: {why}; nothing was written. A backup is put back \
                 only where `kube delete` took it from",
                path.display(),
                b.key
            ))
        })?;
        Ok(b)
    }

    /// The key is a Kubernetes object key, and the one the stored object belongs at: an
    /// edited backup must not write anywhere in etcd (`/registry/../x`, another object).
    pub fn check_key(&self) -> Result<(), String> {
        let key = self.key.as_str();
        let Some(rest) = key.strip_prefix(store::k8s::REGISTRY) else {
            return Err("it is not under /registry/".into());
        };
        if let Some(bad) = rest
            .split('/')
            .find(|s| s.is_empty() || *s == "." || *s == "..")
        {
            return Err(format!("it has an empty, `.` or `..` segment ({bad:?})"));
        }
        if key.chars().any(char::is_control) {
            return Err("it holds control characters".into());
        }
        let Some(parts) = store::k8s::parse_key(key.as_bytes()) else {
            return Err("it is not /registry/RESOURCE/[NAMESPACE/]NAME".into());
        };
        if parts.name.contains('/') {
            return Err("it has more segments than RESOURCE/NAMESPACE/NAME".into());
        }
        let value = self.value().map_err(|e| e.to_string())?;
        let (object, _) =
            registry::decode_object(&value, self.mod_revision, registry::ViewOptions::default());
        let Some(object) = object else {
            // Encrypted at rest (or undecodable): the API server authenticates such a value
            // against its key, so a value moved to another key does not decrypt there.
            return Ok(());
        };
        let meta = object.get("metadata");
        let field = |f: &str| meta.and_then(|m| m.get(f)).and_then(|v| v.as_str());
        if field("name") != Some(parts.name) {
            return Err(format!(
                "the object in it is named {:?}, the key says {:?}",
                field("name").unwrap_or(""),
                parts.name
            ));
        }
        if field("namespace").filter(|n| !n.is_empty()) != parts.namespace {
            return Err(format!(
                "the object in it is in namespace {:?}, the key says {:?}",
                field("namespace").unwrap_or(""),
                parts.namespace.unwrap_or("")
            ));
        }
        let rt = registry::resource::for_prefix(parts.resource);
        let kind = object.get("kind").and_then(|v| v.as_str());
        if let Some(kind) = kind.filter(|k| !rt.kind.is_empty() && *k != rt.kind) {
            return Err(format!(
                "the object in it is a {kind}, the key is for {} ({})",
                rt.plural, rt.kind
            ));
        }
        Ok(())
    }
}

fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Writes the backup into `dir` (created 0700 if missing) and returns its path. The name says
/// what it holds: `kube-<key path>-rev<mod revision>-<UTC>.json`; an existing file is never
/// overwritten.
pub fn write_backup(dir: &Path, backup: &Backup) -> Result<PathBuf, OpsError> {
    write_backup_as(dir, backup, None)
}

/// [`write_backup`], age-encrypted to `recipients` (named `....json.age`): the backup of an
/// object from an encrypted snapshot holds what the snapshot kept encrypted.
pub fn write_backup_sealed(
    dir: &Path,
    backup: &Backup,
    recipients: &[age::x25519::Recipient],
) -> Result<PathBuf, OpsError> {
    write_backup_as(dir, backup, Some(recipients))
}

fn seal(text: &[u8], recipients: &[age::x25519::Recipient]) -> Result<Vec<u8>, OpsError> {
    use std::io::Write;
    let fail = |e: String| OpsError::Local(format!("encrypting the backup: {e}"));
    let enc = age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
        .map_err(|e| fail(e.to_string()))?;
    let mut out = Vec::new();
    let mut w = enc.wrap_output(&mut out).map_err(|e| fail(e.to_string()))?;
    w.write_all(text).map_err(|e| fail(e.to_string()))?;
    w.finish().map_err(|e| fail(e.to_string()))?;
    Ok(out)
}

fn write_backup_as(
    dir: &Path,
    backup: &Backup,
    recipients: Option<&[age::x25519::Recipient]>,
) -> Result<PathBuf, OpsError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| OpsError::LocalIo {
            path: dir.to_path_buf(),
            source,
        })?;
    let stem = file_safe(
        backup
            .key
            .trim_start_matches(store::k8s::REGISTRY)
            .trim_start_matches('/'),
    );
    let base = format!(
        "kube-{stem}-rev{}-{}",
        backup.mod_revision,
        utc::compact_now()
    );
    let ext = if recipients.is_some() {
        "json.age"
    } else {
        "json"
    };
    let mut path = dir.join(format!("{base}.{ext}"));
    let mut n = 1;
    while path.exists() {
        path = dir.join(format!("{base}-{n}.{ext}"));
        n += 1;
    }
    let mut text =
        serde_json::to_vec_pretty(backup).map_err(|e| OpsError::Config(e.to_string()))?;
    text.push(b'\n');
    if let Some(r) = recipients {
        text = seal(&text, r)?;
    }
    write_atomic(&path, &text, 0o600)?;
    Ok(path)
}
