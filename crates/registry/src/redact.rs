//! Secret data is shown only on request: a rescue session's terminal is often shared.
//!
//! A Secret's values live in `data` and `stringData`, and again in every copy of the object
//! kept inside it: `kubectl apply` stores the whole applied object, `stringData` in the clear,
//! in the `kubectl.kubernetes.io/last-applied-configuration` annotation. Each copy is redacted.

use serde_json::{Map, Value};

/// The annotation `kubectl apply` keeps the applied object in.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Replaces the values of a Secret's `data` and `stringData`, and those inside its
/// last-applied annotation; true when anything was redacted.
pub fn secret_data(object: &mut Map<String, Value>) -> bool {
    if object.get("kind").and_then(Value::as_str) != Some("Secret") {
        return false;
    }
    secret_fields(object)
}

/// [`secret_data`] for an object known to be a Secret (by its key) whatever its `kind` says.
pub fn secret_fields(object: &mut Map<String, Value>) -> bool {
    let mut redacted = values(object);
    let annotation = object
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
        .and_then(|a| a.get_mut(LAST_APPLIED));
    if let Some(applied) = annotation {
        redacted |= last_applied(applied);
    }
    redacted
}

fn values(object: &mut Map<String, Value>) -> bool {
    let mut redacted = false;
    for field in ["data", "stringData"] {
        match object.get_mut(field) {
            Some(Value::Object(m)) => {
                for v in m.values_mut() {
                    let len = v.as_str().map_or(0, str::len);
                    *v = Value::String(format!("<redacted: {len} characters>"));
                    redacted = true;
                }
            }
            // Not a map of strings (a hand-edited object): nothing of it is shown.
            Some(v) if !v.is_null() => {
                *v = Value::String("<redacted>".into());
                redacted = true;
            }
            _ => {}
        }
    }
    redacted
}

/// The annotation holds the applied object as JSON text: its values are redacted and the
/// text rewritten; text that does not parse as an object is replaced whole.
fn last_applied(applied: &mut Value) -> bool {
    let parsed = applied
        .as_str()
        .and_then(|t| serde_json::from_str::<Value>(t).ok());
    let text = match parsed {
        Some(Value::Object(mut inner)) => {
            values(&mut inner);
            serde_json::to_string(&Value::Object(inner)).ok()
        }
        _ => None,
    };
    let len = applied.as_str().map_or(0, str::len);
    *applied = Value::String(
        text.unwrap_or_else(|| format!("<redacted: {len} characters, not a JSON object>")),
    );
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_applied_copy_is_redacted_too() {
        let applied = r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"stringData":{"password":"hunter2"},"data":{"k":"c2VjcmV0"}}"#;
        let mut o = serde_json::json!({
            "kind": "Secret",
            "metadata": {"name": "s", "annotations": {LAST_APPLIED: applied}},
            "data": {"k": "c2VjcmV0"},
        });
        let Value::Object(m) = &mut o else {
            unreachable!()
        };
        assert!(secret_data(m));
        let text = o.to_string();
        assert!(
            !text.contains("hunter2") && !text.contains("c2VjcmV0"),
            "{text}"
        );
        assert!(text.contains("redacted"), "{text}");
    }

    #[test]
    fn an_unparsable_annotation_is_replaced_whole() {
        let mut o = serde_json::json!({
            "kind": "Secret",
            "metadata": {"annotations": {LAST_APPLIED: "{\"stringData\": {\"p\": \"hunter2\""}},
        });
        let Value::Object(m) = &mut o else {
            unreachable!()
        };
        assert!(secret_data(m));
        assert!(!o.to_string().contains("hunter2"));
    }

    #[test]
    fn other_kinds_are_left_alone() {
        let mut o = serde_json::json!({"kind": "ConfigMap", "data": {"k": "v"}});
        let Value::Object(m) = &mut o else {
            unreachable!()
        };
        assert!(!secret_data(m));
        assert_eq!(o["data"]["k"], "v");
    }
}
