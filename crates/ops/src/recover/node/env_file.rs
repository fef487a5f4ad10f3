//! Editing an env file (`KEY=value` lines) in place, keeping every other line as it was.

/// The value of `key`, unquoted.
pub fn get(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let l = line.trim();
        let l = l.strip_prefix("export ").unwrap_or(l);
        let (k, v) = l.split_once('=')?;
        (k.trim() == key).then(|| unquote(v.trim()).to_string())
    })
}

fn unquote(v: &str) -> &str {
    v.strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
        .unwrap_or(v)
}

/// `text` with `key` set to `value` (replacing every line that sets it), or removed when `None`.
pub fn set(text: &str, key: &str, value: Option<&str>) -> String {
    let mut out = Vec::new();
    let mut placed = false;
    for line in text.lines() {
        let l = line.trim();
        let l = l.strip_prefix("export ").unwrap_or(l);
        let is_key = l.split_once('=').is_some_and(|(k, _)| k.trim() == key);
        if !is_key {
            out.push(line.to_string());
        } else if let (Some(v), false) = (value, placed) {
            out.push(format!("{key}=\"{v}\""));
            placed = true;
        }
    }
    if let (Some(v), false) = (value, placed) {
        out.push(format!("{key}=\"{v}\""));
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_replace_remove_and_keep_the_rest() {
        let text = "# etcd\nETCD_NAME=\"a\"\nexport ETCD_FORCE_NEW_CLUSTER=true\nETCD_DATA_DIR=/var/lib/etcd\n";
        assert_eq!(get(text, "ETCD_NAME").as_deref(), Some("a"));
        let t = set(text, "ETCD_FORCE_NEW_CLUSTER", None);
        assert_eq!(get(&t, "ETCD_FORCE_NEW_CLUSTER"), None);
        assert!(t.starts_with("# etcd\nETCD_NAME=\"a\"\n"));
        let t = set(&t, "ETCD_INITIAL_CLUSTER_STATE", Some("existing"));
        assert_eq!(
            get(&t, "ETCD_INITIAL_CLUSTER_STATE").as_deref(),
            Some("existing")
        );
        let t = set(&t, "ETCD_NAME", Some("b"));
        assert_eq!(get(&t, "ETCD_NAME").as_deref(), Some("b"));
        assert_eq!(t.matches("ETCD_NAME").count(), 1);
        assert!(t.contains("ETCD_DATA_DIR=/var/lib/etcd"));
    }
}
