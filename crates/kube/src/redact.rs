//! Secret data is shown only on request: a rescue session's terminal is often shared.

use serde_json::{Map, Value};

/// Replaces the values of a Secret's `data` and `stringData`; true when anything was redacted.
pub fn secret_data(object: &mut Map<String, Value>) -> bool {
    if object.get("kind").and_then(Value::as_str) != Some("Secret") {
        return false;
    }
    let mut redacted = false;
    for field in ["data", "stringData"] {
        if let Some(Value::Object(m)) = object.get_mut(field) {
            for v in m.values_mut() {
                let len = v.as_str().map_or(0, str::len);
                *v = Value::String(format!("<redacted: {len} characters>"));
                redacted = true;
            }
        }
    }
    redacted
}
