//! The stored value of an object: `k8s\0` + `runtime.Unknown` (protobuf), JSON with Go's
//! trailing newline (custom resources), or `k8s:enc:...` (encrypted at rest, never touched).

use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use prost::Message as _;
use serde_json::{Map, Value};

use crate::decode::{self, Options};
use crate::encode;
use crate::error::{DecodeError, EncodeError};
use crate::schema;
pub use store::k8s::Encoding;

pub const PROTOBUF_MAGIC: &[u8] = b"k8s\0";

/// The object a stored value holds, as JSON with `apiVersion` and `kind`.
pub struct Unwrapped {
    pub object: Map<String, Value>,
    pub unknown_fields: usize,
}

pub fn decode_protobuf(value: &[u8], opts: Options) -> Result<Unwrapped, DecodeError> {
    let body = value
        .strip_prefix(PROTOBUF_MAGIC)
        .ok_or(DecodeError::Truncated { at: 0 })?;
    let unknown =
        Unknown::decode(body).map_err(|e| DecodeError::Json(format!("runtime.Unknown: {e}")))?;
    let tm = unknown.type_meta.unwrap_or_default();
    let (api_version, kind) = (
        tm.api_version.unwrap_or_default(),
        tm.kind.unwrap_or_default(),
    );
    if kind.is_empty() {
        return Err(DecodeError::NoTypeMeta);
    }
    let msg = schema::message_for(&api_version, &kind).ok_or_else(|| DecodeError::UnknownKind {
        api_version: api_version.clone(),
        kind: kind.clone(),
    })?;
    let decoded = decode::message_to_json(unknown.raw.as_deref().unwrap_or_default(), msg, opts)?;
    let mut object = Map::new();
    object.insert("apiVersion".into(), Value::String(api_version));
    object.insert("kind".into(), Value::String(kind));
    object.extend(decoded.object);
    Ok(Unwrapped {
        object,
        unknown_fields: decoded.unknown_fields,
    })
}

pub fn decode_json(value: &[u8]) -> Result<Map<String, Value>, DecodeError> {
    match serde_json::from_slice::<Value>(value) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(DecodeError::Json("not a JSON object".into())),
        Err(e) => Err(DecodeError::Json(e.to_string())),
    }
}

/// Encodes an object (the exact view) the way the API server stores it: protobuf envelope for
/// built-in kinds when `encoding` is protobuf, else JSON as Go's `json.Encoder` writes it.
pub fn encode(object: &Map<String, Value>, encoding: Encoding) -> Result<Vec<u8>, EncodeError> {
    match encoding {
        Encoding::Protobuf => encode_protobuf(object),
        Encoding::Json => Ok(go_json(object)),
        Encoding::Encrypted => Err(EncodeError::Encrypted),
        Encoding::Cbor | Encoding::Other => Err(EncodeError::Value {
            path: String::new(),
            why: "unsupported storage encoding".into(),
        }),
    }
}

fn encode_protobuf(object: &Map<String, Value>) -> Result<Vec<u8>, EncodeError> {
    let text = |k: &str| {
        object
            .get(k)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| EncodeError::Value {
                path: k.to_owned(),
                why: "missing; needed to name the protobuf type".into(),
            })
    };
    let (api_version, kind) = (text("apiVersion")?, text("kind")?);
    let msg = schema::message_for(&api_version, &kind).ok_or_else(|| EncodeError::Value {
        path: "kind".into(),
        why: format!("{kind} in {api_version} is not in this lifeboat's schema"),
    })?;
    let mut body = object.clone();
    body.remove("apiVersion");
    body.remove("kind");
    let raw = encode::json_to_message(&body, msg)?;
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some(api_version),
            kind: Some(kind),
        }),
        raw: Some(raw),
        // The Go encoder always writes these two, empty.
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut out = PROTOBUF_MAGIC.to_vec();
    unknown.encode(&mut out).map_err(|e| EncodeError::Value {
        path: String::new(),
        why: e.to_string(),
    })?;
    Ok(out)
}

/// Compact JSON with sorted keys (custom resources are maps in Go), `<`, `>`, `&`, U+2028 and
/// U+2029 escaped as Go's encoder does, and its trailing newline.
pub fn go_json(object: &Map<String, Value>) -> Vec<u8> {
    let plain = serde_json::to_string(object).unwrap_or_default();
    let mut out = String::with_capacity(plain.len() + 1);
    for c in plain.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.push('\n');
    out.into_bytes()
}
