//! etcd prints member and cluster IDs as 16 lowercase hex digits; JSON carries them as strings
//! because a u64 does not survive a JavaScript number.

/// Formats an ID the way `etcdctl member list` does.
pub fn hex_id(id: u64) -> String {
    format!("{id:016x}")
}

/// Parses an ID given in hex (with or without `0x`), as operators copy it from etcdctl output.
pub fn parse_hex_id(text: &str) -> Option<u64> {
    let t = text.trim();
    let t = t.strip_prefix("0x").unwrap_or(t);
    if t.is_empty() || t.len() > 16 {
        return None;
    }
    u64::from_str_radix(t, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_junk() {
        assert_eq!(hex_id(0xe17fdf966dadd245), "e17fdf966dadd245");
        assert_eq!(hex_id(1), "0000000000000001");
        assert_eq!(parse_hex_id("e17fdf966dadd245"), Some(0xe17fdf966dadd245));
        assert_eq!(parse_hex_id("0x1"), Some(1));
        assert_eq!(parse_hex_id("member-1"), None);
        assert_eq!(parse_hex_id("11112222333344445"), None);
        assert_eq!(parse_hex_id(""), None);
    }
}
