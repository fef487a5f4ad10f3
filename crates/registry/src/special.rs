//! Kubernetes types whose JSON form is not their protobuf form: times, durations, quantities,
//! int-or-string and embedded raw JSON. Each has a `to_json` and a `from_json` that invert
//! each other, so that an exact decode encodes back to the same bytes.

use serde_json::Value;

use crate::error::{DecodeError, EncodeError};
use crate::wire::{WireValue, Writer, fields};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Special {
    Time,
    MicroTime,
    Duration,
    Quantity,
    IntOrString,
    /// `RawExtension`, `FieldsV1` and apiextensions `JSON`: field 1 holds JSON bytes.
    RawJson,
}

pub fn special(message_name: &str) -> Option<Special> {
    Some(match message_name {
        "apimachinery.pkg.apis.meta.v1.Time" => Special::Time,
        "apimachinery.pkg.apis.meta.v1.MicroTime" => Special::MicroTime,
        "apimachinery.pkg.apis.meta.v1.Duration" => Special::Duration,
        "apimachinery.pkg.api.resource.Quantity" => Special::Quantity,
        "apimachinery.pkg.util.intstr.IntOrString" => Special::IntOrString,
        "apimachinery.pkg.runtime.RawExtension"
        | "apimachinery.pkg.apis.meta.v1.FieldsV1"
        | "apiextensions_apiserver.pkg.apis.apiextensions.v1.JSON"
        | "apiextensions_apiserver.pkg.apis.apiextensions.v1beta1.JSON" => Special::RawJson,
        _ => return None,
    })
}

/// Field values of a small message, by tag (the last occurrence wins, as in protobuf).
fn scalars(buf: &[u8]) -> Result<[Option<WireValue<'_>>; 4], DecodeError> {
    let mut out = [None; 4];
    for field in fields(buf) {
        let (tag, v) = field?;
        if let Some(slot) = out.get_mut(tag as usize) {
            *slot = Some(v);
        }
    }
    Ok(out)
}

fn int(v: Option<WireValue<'_>>) -> i64 {
    match v {
        Some(WireValue::Varint(n)) => n as i64,
        _ => 0,
    }
}

fn text(v: Option<WireValue<'_>>, field: &str) -> Result<String, DecodeError> {
    match v {
        Some(WireValue::Bytes(b)) => std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| DecodeError::Utf8(field.to_owned())),
        _ => Ok(String::new()),
    }
}

pub fn to_json(kind: Special, buf: &[u8], exact: bool) -> Result<Value, DecodeError> {
    let f = scalars(buf)?;
    Ok(match kind {
        Special::Time | Special::MicroTime => {
            if f[1].is_none() && f[2].is_none() {
                return Ok(Value::Null);
            }
            let (secs, nanos) = (int(f[1]), int(f[2]) as i32);
            let digits = match kind {
                Special::MicroTime => Some(6),
                _ if exact && nanos != 0 => Some(9),
                _ => None,
            };
            Value::String(rfc3339(secs, nanos, digits))
        }
        Special::Duration => Value::String(go_duration(int(f[1]))),
        Special::Quantity => Value::String(text(f[1], "quantity")?),
        Special::IntOrString => {
            if int(f[1]) == 1 {
                Value::String(text(f[3], "strVal")?)
            } else {
                Value::from(int(f[2]) as i32)
            }
        }
        Special::RawJson => {
            let raw = match f[1] {
                Some(WireValue::Bytes(b)) => b,
                _ => &[][..],
            };
            if exact {
                // The stored bytes, untouched: re-serialising could reorder keys.
                Value::String(String::from_utf8_lossy(raw).into_owned())
            } else {
                serde_json::from_slice(raw)
                    .unwrap_or_else(|_| Value::String(format!("<{} bytes, not JSON>", raw.len())))
            }
        }
    })
}

pub fn from_json(kind: Special, v: &Value, path: &str, w: &mut Writer) -> Result<(), EncodeError> {
    let bad = |expected| EncodeError::Type {
        path: path.to_owned(),
        expected,
    };
    match kind {
        Special::Time | Special::MicroTime => {
            if v.is_null() {
                return Ok(());
            }
            let s = v.as_str().ok_or_else(|| bad("an RFC 3339 time"))?;
            let (secs, nanos) = parse_rfc3339(s).ok_or_else(|| bad("an RFC 3339 time"))?;
            w.varint(1, secs as u64);
            w.varint(2, nanos as i64 as u64);
        }
        Special::Duration => {
            let s = v.as_str().ok_or_else(|| bad("a duration such as 1m30s"))?;
            let ns = parse_go_duration(s).ok_or_else(|| bad("a duration such as 1m30s"))?;
            w.varint(1, ns as u64);
        }
        Special::Quantity => {
            let s = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return Err(bad("a quantity")),
            };
            w.bytes(1, s.as_bytes());
        }
        Special::IntOrString => match v {
            Value::String(s) => {
                w.varint(1, 1);
                w.varint(2, 0);
                w.bytes(3, s.as_bytes());
            }
            Value::Number(n) => {
                let i = n
                    .as_i64()
                    .and_then(|i| i32::try_from(i).ok())
                    .ok_or_else(|| bad("an int32 or a string"))?;
                w.varint(1, 0);
                w.varint(2, i64::from(i) as u64);
                w.bytes(3, b"");
            }
            _ => return Err(bad("an int32 or a string")),
        },
        Special::RawJson => {
            let bytes = match v {
                Value::String(s) => s.clone().into_bytes(),
                other => serde_json::to_vec(other).map_err(|e| EncodeError::Value {
                    path: path.to_owned(),
                    why: e.to_string(),
                })?,
            };
            w.bytes(1, &bytes);
        }
    }
    Ok(())
}

// ---- time ----

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    // Howard Hinnant's days-to-civil algorithm.
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub fn rfc3339(secs: i64, nanos: i32, digits: Option<usize>) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, mo, d) = civil_from_days(days);
    let mut s = format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    if let Some(n) = digits {
        let frac = format!("{:09}", nanos.max(0));
        s.push('.');
        s.push_str(&frac[..n.min(9)]);
    }
    s.push('Z');
    s
}

pub fn parse_rfc3339(s: &str) -> Option<(i64, i32)> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut nanos = 0i32;
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 || n > 9 {
            return None;
        }
        nanos = format!("{:0<9}", &frac[..n]).parse().ok()?;
        rest = &frac[n..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (oh, om) = rest.get(1..)?.split_once(':')?;
            sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60)
        }
    };
    let days = days_from_civil(y, mo as u32, d as u32);
    Some((days * 86_400 + h * 3600 + mi * 60 + se - offset, nanos))
}

// ---- durations, as Go's time.Duration.String() writes them ----

pub fn go_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let neg = ns < 0;
    let u = ns.unsigned_abs();
    let mut s = String::new();
    if u < 1_000_000_000 {
        let (unit, div) = if u < 1_000 {
            ("ns", 1)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        s.push_str(&trim_frac(u, div));
        s.push_str(unit);
    } else {
        let (h, rem) = (u / 3_600_000_000_000, u % 3_600_000_000_000);
        let (m, rem) = (rem / 60_000_000_000, rem % 60_000_000_000);
        if h > 0 {
            s.push_str(&format!("{h}h{m}m"));
        } else if m > 0 {
            s.push_str(&format!("{m}m"));
        }
        s.push_str(&trim_frac(rem, 1_000_000_000));
        s.push('s');
    }
    if neg { format!("-{s}") } else { s }
}

fn trim_frac(v: u64, div: u64) -> String {
    let (int, frac) = (v / div, v % div);
    if frac == 0 {
        return int.to_string();
    }
    let width = div.to_string().len() - 1;
    let f = format!("{frac:0width$}");
    format!("{int}.{}", f.trim_end_matches('0'))
}

pub fn parse_go_duration(s: &str) -> Option<i64> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(0);
    }
    let mut total: f64 = 0.0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = rest
            .bytes()
            .take_while(|c| c.is_ascii_digit() || *c == b'.')
            .count();
        let value: f64 = rest.get(..n)?.parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .chars()
            .take_while(|c| !c.is_ascii_digit() && *c != '.')
            .collect::<String>();
        let mult = match u.as_str() {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[u.len()..];
        total += value * mult;
    }
    let ns = total.round() as i64;
    Some(if neg { -ns } else { ns })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip() {
        for (secs, nanos) in [
            (0, 0),
            (1_700_000_000, 0),
            (1_700_000_000, 123_456_000),
            (-1, 5),
            (951_782_400, 0),
        ] {
            let s = rfc3339(secs, nanos, Some(9));
            assert_eq!(parse_rfc3339(&s), Some((secs, nanos)), "{s}");
        }
        assert_eq!(rfc3339(951_782_400, 0, None), "2000-02-29T00:00:00Z");
        assert_eq!(
            parse_rfc3339("2024-01-01T01:00:00+01:00"),
            parse_rfc3339("2024-01-01T00:00:00Z")
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn durations_print_as_go_does() {
        for (ns, want) in [
            (0, "0s"),
            (1_500_000_000, "1.5s"),
            (90_000_000_000, "1m30s"),
            (3_600_000_000_000, "1h0m0s"),
            (2_000_000, "2ms"),
            (-5_000_000_000, "-5s"),
        ] {
            assert_eq!(go_duration(ns), want);
            assert_eq!(parse_go_duration(want), Some(ns), "{want}");
        }
        assert_eq!(parse_go_duration("5 minutes"), None);
    }
}
