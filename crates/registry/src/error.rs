//! Errors of decoding and encoding stored objects.

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DecodeError {
    #[error("protobuf truncated at byte {at}")]
    Truncated { at: usize },
    #[error("protobuf: {0}")]
    Wire(#[from] store::proto::ProtoError),
    #[error("field {field}: expected {expected}")]
    Type {
        field: String,
        expected: &'static str,
    },
    #[error("nesting deeper than {0} levels")]
    TooDeep(usize),
    #[error("not valid UTF-8 in field {0}")]
    Utf8(String),
    #[error("the envelope names no type (apiVersion/kind missing)")]
    NoTypeMeta,
    #[error("unknown kind {kind} in {api_version}: not in this lifeboat's schema")]
    UnknownKind { api_version: String, kind: String },
    #[error("JSON: {0}")]
    Json(String),
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EncodeError {
    #[error("{path}: unknown field for {message}")]
    UnknownField { path: String, message: &'static str },
    #[error("{path}: expected {expected}")]
    Type {
        path: String,
        expected: &'static str,
    },
    #[error("{path}: {why}")]
    Value { path: String, why: String },
    #[error("objects encrypted at rest are never re-encoded")]
    Encrypted,
}

#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    #[error(
        "unknown resource type {0:?}: use a plural (pods), a short name (po) or GROUP/PLURAL (cilium.io/ciliumnetworkpolicies)"
    )]
    Unknown(String),
}
