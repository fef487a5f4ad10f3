//! One stored object, decoded for people and scripts: what `kube get` prints.

use base64::Engine as _;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::decode::Options;
use crate::envelope::{self, Encoding};
use crate::redact;
use crate::resource;

/// How an object is shown.
#[derive(Debug, Clone, Copy, Default)]
pub struct ViewOptions {
    /// Show Secret data instead of `<redacted>`.
    pub show_secrets: bool,
    /// Every stored field, no `resourceVersion`: the form that encodes back to the same bytes.
    pub exact: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ObjectView {
    pub key: String,
    /// `pods`, `ciliumnetworkpolicies.cilium.io`, ...
    pub resource: String,
    pub namespace: Option<String>,
    pub name: String,
    pub encoding: &'static str,
    pub create_revision: i64,
    pub mod_revision: i64,
    pub version: i64,
    pub size: usize,
    /// Provider and key name (`aescbc:v1:key1`) of a value encrypted at rest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption: Option<String>,
    /// The object as kubectl shows it; absent when it cannot be decoded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<Value>,
    /// The stored bytes (base64) when the object cannot be decoded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_base64: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What etcd returns for a key: enough to view, back up and compare an object.
#[derive(Debug, Clone)]
pub struct StoredKv<'a> {
    pub key: &'a [u8],
    pub value: &'a [u8],
    pub create_revision: i64,
    pub mod_revision: i64,
    pub version: i64,
}

/// Decodes a stored value to JSON. Never fails: what cannot be decoded comes back as a note.
pub fn decode_object(
    value: &[u8],
    mod_revision: i64,
    opts: ViewOptions,
) -> (Option<Map<String, Value>>, Option<String>) {
    let dopts = Options { exact: opts.exact };
    let (mut object, mut note) = match Encoding::of(value) {
        Encoding::Protobuf => match envelope::decode_protobuf(value, dopts) {
            Ok(u) => {
                let note = (u.unknown_fields > 0).then(|| {
                    format!(
                        "{} field(s) unknown to this lifeboat's schema (a newer Kubernetes?) are not shown",
                        u.unknown_fields
                    )
                });
                (Some(u.object), note)
            }
            Err(e) => (None, Some(format!("protobuf value not decoded: {e}"))),
        },
        Encoding::Json => match envelope::decode_json(value) {
            Ok(m) => (Some(m), None),
            Err(e) => (None, Some(format!("JSON value not decoded: {e}"))),
        },
        Encoding::Encrypted => (
            None,
            Some("encrypted at rest: shown and kept as stored, never altered".into()),
        ),
        Encoding::Cbor => (None, Some("CBOR storage encoding is not supported".into())),
        Encoding::Other => (
            None,
            Some("not a Kubernetes object encoding (protobuf, JSON)".into()),
        ),
    };
    if let Some(obj) = object.as_mut() {
        if !opts.exact {
            // Stored objects have resourceVersion cleared; the API server fills it from the
            // key's mod_revision, and so does this.
            if let Some(Value::Object(meta)) = obj.get_mut("metadata") {
                meta.insert(
                    "resourceVersion".into(),
                    Value::String(mod_revision.to_string()),
                );
            }
        }
        if !opts.show_secrets && redact::secret_data(obj) {
            note.get_or_insert_with(|| "Secret data redacted (--show-secrets shows it)".into());
        }
    }
    (object, note)
}

pub fn view(kv: &StoredKv<'_>, opts: ViewOptions) -> ObjectView {
    let key = String::from_utf8_lossy(kv.key).into_owned();
    let parts = store::k8s::parse_key(kv.key);
    let (resource, namespace, name) = match &parts {
        Some(p) => (
            resource::for_prefix(p.resource).api_group_label(),
            p.namespace.map(str::to_owned),
            p.name.to_owned(),
        ),
        None => (String::new(), None, key.clone()),
    };
    let encoding = Encoding::of(kv.value);
    let (mut object, mut note) = decode_object(kv.value, kv.mod_revision, opts);
    let secret_key = parts.as_ref().is_some_and(|p| p.resource == "secrets");
    // Stored under secrets/ it is a Secret, whatever its `kind` field says.
    if secret_key
        && !opts.show_secrets
        && let Some(o) = object.as_mut()
        && redact::secret_fields(o)
    {
        note.get_or_insert_with(|| "Secret data redacted (--show-secrets shows it)".into());
    }
    let raw_base64 = (object.is_none() && (opts.show_secrets || !secret_key))
        .then(|| base64::engine::general_purpose::STANDARD.encode(kv.value));
    ObjectView {
        key,
        resource,
        namespace,
        name,
        encoding: encoding.as_str(),
        create_revision: kv.create_revision,
        mod_revision: kv.mod_revision,
        version: kv.version,
        size: kv.value.len(),
        encryption: store::k8s::encryption_provider(kv.value),
        object: object.map(Value::Object),
        raw_base64,
        note,
    }
}
