//! UTC times: milliseconds since the Unix epoch inside segments, the compact ISO 8601 basic
//! form (`20261122T031500Z`) inside object names (sortable, no colons), RFC 3339 for people.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error(
        "time {given:?} is not RFC 3339 UTC; write it like 2026-11-22T03:15:00Z (UTC, with the Z)"
    )]
    Rfc3339 { given: String },
    #[error("time {given:?} is before 1970 or too far in the future")]
    OutOfRange { given: String },
}

/// Milliseconds since the epoch, now (0 if the clock is before 1970).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn system_time(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// `2026-11-22T03:15:00.123Z`.
pub fn rfc3339(ms: i64) -> String {
    humantime::format_rfc3339_millis(system_time(ms)).to_string()
}

/// `20261122T031500Z` (whole seconds).
pub fn compact(ms: i64) -> String {
    let s = humantime::format_rfc3339_seconds(system_time(ms)).to_string();
    s.chars().filter(|c| *c != '-' && *c != ':').collect()
}

/// Parses the compact form back (as found in object names).
pub fn parse_compact(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    if !b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit) {
        return None;
    }
    let long = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &s[..4],
        &s[4..6],
        &s[6..8],
        &s[9..11],
        &s[11..13],
        &s[13..15]
    );
    parse_rfc3339(&long).ok()
}

/// Parses RFC 3339 in UTC (`Z`), with or without fractional seconds.
pub fn parse_rfc3339(s: &str) -> Result<i64, TimeError> {
    let t = humantime::parse_rfc3339_weak(s.trim()).map_err(|_| TimeError::Rfc3339 {
        given: s.to_string(),
    })?;
    let d = t
        .duration_since(UNIX_EPOCH)
        .map_err(|_| TimeError::OutOfRange {
            given: s.to_string(),
        })?;
    i64::try_from(d.as_millis()).map_err(|_| TimeError::OutOfRange {
        given: s.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_round_trips_whole_seconds() {
        let ms = 1_795_000_000_000;
        let c = compact(ms);
        assert_eq!(c.len(), 16, "{c}");
        assert_eq!(parse_compact(&c), Some(ms));
        assert_eq!(parse_compact("2026112XT031500Z"), None);
        assert_eq!(parse_compact("short"), None);
    }

    #[test]
    fn rfc3339_needs_utc() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:01Z"), Ok(1000));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:01.5Z"), Ok(1500));
        assert!(parse_rfc3339("yesterday").is_err());
        assert_eq!(rfc3339(1500), "1970-01-01T00:00:01.500Z");
    }
}
