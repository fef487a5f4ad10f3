//! Protobuf → JSON, driven by the schema table.
//!
//! Two views: the *display* view is what kubectl shows (empty strings left out, raw JSON
//! parsed, times to the second); the *exact* view keeps every field the encoder wrote, so
//! that [`crate::encode`] turns it back into the same bytes.

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::error::DecodeError;
use crate::schema::{self, FieldDef, MapValue, MessageDef, Ty};
use crate::special::{self, Special};
use crate::wire::{WireValue, fields, packed_varints};

const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    pub exact: bool,
}

/// A decoded message and the number of fields the schema did not know (newer Kubernetes).
pub struct Decoded {
    pub object: Map<String, Value>,
    pub unknown_fields: usize,
}

pub fn message_to_json(
    buf: &[u8],
    msg: &'static MessageDef,
    opts: Options,
) -> Result<Decoded, DecodeError> {
    let mut unknown = 0;
    let object = message(buf, msg, opts, 0, &mut unknown)?;
    Ok(Decoded {
        object,
        unknown_fields: unknown,
    })
}

fn message(
    buf: &[u8],
    msg: &'static MessageDef,
    opts: Options,
    depth: usize,
    unknown: &mut usize,
) -> Result<Map<String, Value>, DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError::TooDeep(MAX_DEPTH));
    }
    let mut out = Map::new();
    for field in fields(buf) {
        let (tag, wire) = field?;
        let Some(def) = msg.field(tag) else {
            *unknown += 1;
            continue;
        };
        if def.json.is_empty() {
            // Embedded Go struct: its fields are the parent's.
            if let (Ty::Message(idx), WireValue::Bytes(b)) = (def.ty, wire) {
                let inner = message(b, schema::message(idx), opts, depth + 1, unknown)?;
                out.extend(inner);
            }
            continue;
        }
        match def.ty {
            Ty::Map(v) => {
                let WireValue::Bytes(entry) = wire else {
                    return Err(type_err(msg, def, "a map entry"));
                };
                let (k, val) = map_entry(entry, v, msg, def, opts, depth, unknown)?;
                let slot = out
                    .entry(def.json)
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(m) = slot {
                    m.insert(k, val);
                }
            }
            _ if def.repeated => {
                let slot = out
                    .entry(def.json)
                    .or_insert_with(|| Value::Array(Vec::new()));
                let Value::Array(items) = slot else { continue };
                match (def.ty, wire) {
                    // Packed scalars (not what Go writes for proto2, but valid protobuf).
                    (Ty::Int32 | Ty::Int64 | Ty::Bool, WireValue::Bytes(b)) => {
                        for v in packed_varints(b) {
                            let v = v?;
                            items.push(scalar(def.ty, WireValue::Varint(v), msg, def, opts)?);
                        }
                    }
                    _ => items.push(value(def.ty, wire, msg, def, opts, depth, unknown)?),
                }
            }
            _ => {
                let v = value(def.ty, wire, msg, def, opts, depth, unknown)?;
                if !opts.exact && v.as_str() == Some("") {
                    continue;
                }
                out.insert(def.json.to_owned(), v);
            }
        }
    }
    Ok(out)
}

fn type_err(msg: &MessageDef, def: &FieldDef, expected: &'static str) -> DecodeError {
    DecodeError::Type {
        field: format!("{}.{}", msg.name, def.json),
        expected,
    }
}

fn value(
    ty: Ty,
    wire: WireValue<'_>,
    msg: &'static MessageDef,
    def: &FieldDef,
    opts: Options,
    depth: usize,
    unknown: &mut usize,
) -> Result<Value, DecodeError> {
    match ty {
        Ty::Message(idx) => {
            let WireValue::Bytes(b) = wire else {
                return Err(type_err(msg, def, "a message"));
            };
            let inner = schema::message(idx);
            match special::special(inner.name) {
                Some(kind) => special::to_json(kind, b, opts.exact),
                None => Ok(Value::Object(message(b, inner, opts, depth + 1, unknown)?)),
            }
        }
        _ => scalar(ty, wire, msg, def, opts),
    }
}

fn scalar(
    ty: Ty,
    wire: WireValue<'_>,
    msg: &MessageDef,
    def: &FieldDef,
    _opts: Options,
) -> Result<Value, DecodeError> {
    Ok(match (ty, wire) {
        (Ty::String, WireValue::Bytes(b)) => Value::String(
            std::str::from_utf8(b)
                .map_err(|_| DecodeError::Utf8(format!("{}.{}", msg.name, def.json)))?
                .to_owned(),
        ),
        (Ty::Bytes, WireValue::Bytes(b)) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        (Ty::Bool, WireValue::Varint(v)) => Value::Bool(v != 0),
        (Ty::Int32, WireValue::Varint(v)) => Value::from(v as i32),
        (Ty::Int64, WireValue::Varint(v)) => Value::from(v as i64),
        (Ty::Double, WireValue::Fixed64(v)) => serde_json::Number::from_f64(f64::from_bits(v))
            .map(Value::Number)
            .unwrap_or(Value::Null),
        (Ty::String | Ty::Bytes, _) => return Err(type_err(msg, def, "length-delimited bytes")),
        (Ty::Double, _) => return Err(type_err(msg, def, "a 64-bit float")),
        _ => return Err(type_err(msg, def, "a varint")),
    })
}

fn map_entry(
    entry: &[u8],
    v: MapValue,
    msg: &'static MessageDef,
    def: &FieldDef,
    opts: Options,
    depth: usize,
    unknown: &mut usize,
) -> Result<(String, Value), DecodeError> {
    let mut key = String::new();
    let mut val = None;
    for field in fields(entry) {
        match field? {
            (1, WireValue::Bytes(b)) => {
                key = std::str::from_utf8(b)
                    .map_err(|_| DecodeError::Utf8(format!("{}.{} key", msg.name, def.json)))?
                    .to_owned();
            }
            (2, w) => {
                let ty = match v {
                    MapValue::String => Ty::String,
                    MapValue::Bytes => Ty::Bytes,
                    MapValue::Message(i) => Ty::Message(i),
                };
                val = Some(value(ty, w, msg, def, opts, depth, unknown)?);
            }
            _ => *unknown += 1,
        }
    }
    let val = val.unwrap_or(match v {
        MapValue::Message(i) => match special::special(schema::message(i).name) {
            Some(Special::Quantity) => Value::String(String::new()),
            _ => Value::Object(Map::new()),
        },
        _ => Value::String(String::new()),
    });
    Ok((key, val))
}
