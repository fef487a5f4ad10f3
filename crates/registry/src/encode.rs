//! JSON → protobuf, driven by the schema table: fields in tag order, maps sorted by key,
//! shortest varints, as Kubernetes' Go encoder writes them. Given the *exact* view of a
//! decoded object this reproduces the stored bytes.

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::error::EncodeError;
use crate::schema::{self, FieldDef, MapValue, MessageDef, Ty};
use crate::special;
use crate::wire::Writer;

pub fn json_to_message(
    object: &Map<String, Value>,
    msg: &'static MessageDef,
) -> Result<Vec<u8>, EncodeError> {
    let mut w = Writer::default();
    message(object, msg, "", &mut w, 0)?;
    Ok(w.buf)
}

fn known_keys(msg: &'static MessageDef, out: &mut Vec<&'static str>) {
    for f in msg.fields {
        match (f.json, f.ty) {
            ("", Ty::Message(i)) => known_keys(schema::message(i), out),
            (name, _) => out.push(name),
        }
    }
}

fn message(
    object: &Map<String, Value>,
    msg: &'static MessageDef,
    path: &str,
    w: &mut Writer,
    depth: usize,
) -> Result<(), EncodeError> {
    if depth > 64 {
        return Err(EncodeError::Value {
            path: path.to_owned(),
            why: "nested too deeply".into(),
        });
    }
    if depth == 0 || !path.is_empty() {
        let mut known = Vec::new();
        known_keys(msg, &mut known);
        if let Some(k) = object.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(EncodeError::UnknownField {
                path: join(path, k),
                message: msg.name,
            });
        }
    }
    for def in msg.fields {
        if def.json.is_empty() {
            if let Ty::Message(i) = def.ty {
                let mut inner = Writer::default();
                // The embedded struct reads its fields from this same object.
                message(object, schema::message(i), "", &mut inner, depth + 1)?;
                w.bytes(def.tag, &inner.buf);
            }
            continue;
        }
        let Some(v) = object.get(def.json) else {
            continue;
        };
        let p = join(path, def.json);
        match def.ty {
            Ty::Map(mv) => {
                let Value::Object(m) = v else {
                    if v.is_null() {
                        continue;
                    }
                    return Err(EncodeError::Type {
                        path: p,
                        expected: "an object",
                    });
                };
                for (k, val) in m {
                    let mut entry = Writer::default();
                    entry.bytes(1, k.as_bytes());
                    let ty = match mv {
                        MapValue::String => Ty::String,
                        MapValue::Bytes => Ty::Bytes,
                        MapValue::Message(i) => Ty::Message(i),
                    };
                    one(ty, 2, val, &join(&p, k), &mut entry, depth)?;
                    w.bytes(def.tag, &entry.buf);
                }
            }
            _ if def.repeated => match v {
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        one(def.ty, def.tag, item, &format!("{p}[{i}]"), w, depth)?;
                    }
                }
                Value::Null => {}
                _ => {
                    return Err(EncodeError::Type {
                        path: p,
                        expected: "a list",
                    });
                }
            },
            _ => field(def, v, &p, w, depth)?,
        }
    }
    Ok(())
}

fn field(
    def: &FieldDef,
    v: &Value,
    path: &str,
    w: &mut Writer,
    depth: usize,
) -> Result<(), EncodeError> {
    if v.is_null() && !matches!(def.ty, Ty::Message(_)) {
        return Ok(());
    }
    one(def.ty, def.tag, v, path, w, depth)
}

fn one(
    ty: Ty,
    tag: u32,
    v: &Value,
    path: &str,
    w: &mut Writer,
    depth: usize,
) -> Result<(), EncodeError> {
    let bad = |expected| EncodeError::Type {
        path: path.to_owned(),
        expected,
    };
    match ty {
        Ty::String => w.bytes(tag, v.as_str().ok_or_else(|| bad("a string"))?.as_bytes()),
        Ty::Bytes => {
            let s = v.as_str().ok_or_else(|| bad("base64 text"))?;
            let b = base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|_| bad("base64 text"))?;
            w.bytes(tag, &b);
        }
        Ty::Bool => w.varint(
            tag,
            u64::from(v.as_bool().ok_or_else(|| bad("true or false"))?),
        ),
        Ty::Int32 => {
            let i = v
                .as_i64()
                .and_then(|i| i32::try_from(i).ok())
                .ok_or_else(|| bad("a 32-bit integer"))?;
            // Negative int32 values are sign-extended to ten bytes, as Go writes them.
            w.varint(tag, i64::from(i) as u64);
        }
        Ty::Int64 => w.varint(
            tag,
            v.as_i64().ok_or_else(|| bad("a 64-bit integer"))? as u64,
        ),
        Ty::Double => w.fixed64(tag, v.as_f64().ok_or_else(|| bad("a number"))?.to_bits()),
        Ty::Message(i) => {
            let inner = schema::message(i);
            let mut sub = Writer::default();
            match special::special(inner.name) {
                Some(kind) => special::from_json(kind, v, path, &mut sub)?,
                None => match v {
                    Value::Object(m) => message(m, inner, path, &mut sub, depth + 1)?,
                    Value::Null => {}
                    _ => return Err(bad("an object")),
                },
            }
            w.bytes(tag, &sub.buf);
        }
        Ty::Map(_) => return Err(bad("an object")),
    }
    Ok(())
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}
