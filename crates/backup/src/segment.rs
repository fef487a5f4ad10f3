//! Delta segments: every put and delete of a run of consecutive revisions, as one object.
//!
//! ```text
//! header (64 bytes, integers big-endian)
//!   magic "LBSEGMNT" | version u16 = 1 | reserved u16 = 0 | event count u32
//!   cluster id u64 | member id u64 (the member the watch read from)
//!   first revision i64 | last revision i64 | previous segment's last revision i64
//!   created (ms since the Unix epoch) i64
//! events, in revision then sub-revision order (53 bytes + key + value each)
//!   kind u8 (1 put, 2 delete) | revision i64 | sub-revision u32 | create revision i64
//!   version i64 | lease i64 | observed (ms since the epoch) i64 | key length u32
//!   value length u32 | key | value
//! trailer: SHA-256 of every byte before it (32 bytes)
//! ```
//!
//! A segment holds whole revisions: its first event has sub-revision 0 at `first`, and each
//! next event is either the next sub-revision of the same revision or sub-revision 0 of the
//! next revision. Every etcd revision has at least one event, so a missing revision shows as
//! a jump, inside a segment or between two.
//!
//! Decoding checks the trailer first, then every length against the bytes that are really
//! there: nothing is allocated beyond the segment's own length.

use sha2::{Digest, Sha256};

pub const MAGIC: &[u8; 8] = b"LBSEGMNT";
pub const VERSION: u16 = 1;
pub const HEADER_LEN: usize = 64;
pub const EVENT_FIXED_LEN: usize = 53;
pub const TRAILER_LEN: usize = 32;
/// Largest segment written or read: the agent holds one in memory while it fills, and a
/// reader downloads one whole before trusting it.
pub const MAX_SEGMENT_BYTES: usize = 64 << 20;
/// bbolt's (and so etcd's) largest key.
pub const MAX_KEY_BYTES: usize = 32 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SegmentError {
    #[error("segment is {len} bytes, shorter than the {min}-byte header and checksum")]
    TooShort { len: usize, min: usize },
    #[error("segment is {len} bytes, over the {MAX_SEGMENT_BYTES}-byte limit")]
    TooLarge { len: usize },
    #[error("segment checksum does not match: the object is corrupt or truncated")]
    Checksum,
    #[error("not a lifeboat delta segment (magic {0:?})")]
    Magic(String),
    #[error(
        "segment format version {0} is not known to this lifeboat (it reads {VERSION}); use a newer lifeboat"
    )]
    Version(u16),
    #[error("segment header: {0}")]
    Header(String),
    #[error("segment event {index}: {what}")]
    Event { index: usize, what: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Put,
    Delete,
}

/// One put or delete as etcd's watch reported it (`mvccpb.Event`), with its sub-revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    /// The revision the change was made at (`mod_revision` of a put).
    pub revision: i64,
    /// Position of the change inside its revision's transaction, from 0.
    pub sub: u32,
    pub key: Vec<u8>,
    /// Empty for a delete.
    pub value: Vec<u8>,
    /// 0 for a delete.
    pub create_revision: i64,
    /// 0 for a delete.
    pub version: i64,
    pub lease: i64,
    /// When the agent received the event (ms since the epoch): what `--to-time` goes by.
    pub observed_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Header {
    pub version: u16,
    pub event_count: u32,
    pub cluster_id: u64,
    pub member_id: u64,
    pub first_revision: i64,
    pub last_revision: i64,
    pub prev_last_revision: i64,
    pub created_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub header: Header,
    pub events: Vec<Event>,
}

/// What the encoder needs besides the events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentInfo {
    pub cluster_id: u64,
    pub member_id: u64,
    pub prev_last_revision: i64,
    pub created_ms: i64,
}

/// Bytes an event takes in a segment.
pub fn encoded_len(e: &Event) -> usize {
    EVENT_FIXED_LEN + e.key.len() + e.value.len()
}

/// Encodes `events` (checked as the decoder checks them) into one segment.
pub fn encode(info: SegmentInfo, events: &[Event]) -> Result<Vec<u8>, SegmentError> {
    let (Some(first), Some(last)) = (events.first(), events.last()) else {
        return Err(SegmentError::Header(
            "a segment needs at least one event".into(),
        ));
    };
    let header = Header {
        version: VERSION,
        event_count: u32::try_from(events.len())
            .map_err(|_| SegmentError::Header("too many events".into()))?,
        cluster_id: info.cluster_id,
        member_id: info.member_id,
        first_revision: first.revision,
        last_revision: last.revision,
        prev_last_revision: info.prev_last_revision,
        created_ms: info.created_ms,
    };
    check_header(&header)?;
    check_events(&header, events)?;
    let len = HEADER_LEN + events.iter().map(encoded_len).sum::<usize>() + TRAILER_LEN;
    if len > MAX_SEGMENT_BYTES {
        return Err(SegmentError::TooLarge { len });
    }
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&header.event_count.to_be_bytes());
    for v in [header.cluster_id, header.member_id] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    for v in [
        header.first_revision,
        header.last_revision,
        header.prev_last_revision,
        header.created_ms,
    ] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    for e in events {
        out.push(match e.kind {
            EventKind::Put => 1,
            EventKind::Delete => 2,
        });
        out.extend_from_slice(&e.revision.to_be_bytes());
        out.extend_from_slice(&e.sub.to_be_bytes());
        for v in [e.create_revision, e.version, e.lease, e.observed_ms] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        // Both lengths were bounded by check_events (key) and MAX_SEGMENT_BYTES (value).
        out.extend_from_slice(&(e.key.len() as u32).to_be_bytes());
        out.extend_from_slice(&(e.value.len() as u32).to_be_bytes());
        out.extend_from_slice(&e.key);
        out.extend_from_slice(&e.value);
    }
    let sum = Sha256::digest(&out);
    out.extend_from_slice(&sum);
    Ok(out)
}

/// Decodes and checks a whole segment: checksum, header, every event and their order.
pub fn decode(bytes: &[u8]) -> Result<Segment, SegmentError> {
    let body = checked_body(bytes)?;
    decode_body(body)
}

/// The header alone, for listings: NOT verified (the checksum covers the whole segment).
pub fn decode_header_unverified(bytes: &[u8]) -> Result<Header, SegmentError> {
    let header = parse_header(bytes)?;
    check_header(&header)?;
    Ok(header)
}

/// Decodes a segment whose SHA-256 trailer was already checked over these very bytes (the
/// caller proves they are the same bytes: `backup::restore` keeps a CRC-32C of what it
/// checked when it fetched the segment): every check of [`decode`] except that hash.
pub fn decode_prechecked(bytes: &[u8]) -> Result<Segment, SegmentError> {
    let (body, _) = split_trailer(bytes)?;
    decode_body(body)
}

/// The bytes the checksum covers, once it matches.
fn checked_body(bytes: &[u8]) -> Result<&[u8], SegmentError> {
    let (body, sum) = split_trailer(bytes)?;
    if Sha256::digest(body).as_slice() != sum {
        return Err(SegmentError::Checksum);
    }
    Ok(body)
}

/// The checksummed bytes and the checksum, of a segment of an acceptable length.
fn split_trailer(bytes: &[u8]) -> Result<(&[u8], &[u8]), SegmentError> {
    let min = HEADER_LEN + TRAILER_LEN;
    if bytes.len() < min {
        return Err(SegmentError::TooShort {
            len: bytes.len(),
            min,
        });
    }
    if bytes.len() > MAX_SEGMENT_BYTES {
        return Err(SegmentError::TooLarge { len: bytes.len() });
    }
    Ok(bytes.split_at(bytes.len() - TRAILER_LEN))
}

/// A bounds-checked reader over a byte slice.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let s = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(s)
    }
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.array::<1>()?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.array()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.array()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.array()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_be_bytes(self.array()?))
    }
    fn left(&self) -> usize {
        self.bytes.len().saturating_sub(self.at)
    }
}

fn parse_header(bytes: &[u8]) -> Result<Header, SegmentError> {
    let short = || SegmentError::TooShort {
        len: bytes.len(),
        min: HEADER_LEN,
    };
    let mut c = Cursor { bytes, at: 0 };
    let magic = c.take(8).ok_or_else(short)?;
    if magic != MAGIC {
        return Err(SegmentError::Magic(
            String::from_utf8_lossy(magic).into_owned(),
        ));
    }
    let version = c.u16().ok_or_else(short)?;
    if version != VERSION {
        return Err(SegmentError::Version(version));
    }
    if c.u16().ok_or_else(short)? != 0 {
        return Err(SegmentError::Header("reserved field is not zero".into()));
    }
    Ok(Header {
        version,
        event_count: c.u32().ok_or_else(short)?,
        cluster_id: c.u64().ok_or_else(short)?,
        member_id: c.u64().ok_or_else(short)?,
        first_revision: c.i64().ok_or_else(short)?,
        last_revision: c.i64().ok_or_else(short)?,
        prev_last_revision: c.i64().ok_or_else(short)?,
        created_ms: c.i64().ok_or_else(short)?,
    })
}

fn check_header(h: &Header) -> Result<(), SegmentError> {
    let bad = |what: String| Err(SegmentError::Header(what));
    if h.event_count == 0 {
        return bad("no events".into());
    }
    if h.first_revision < 1 || h.last_revision < h.first_revision {
        return bad(format!(
            "revision range {}..{} is not a range of revisions",
            h.first_revision, h.last_revision
        ));
    }
    if h.prev_last_revision < 0 || h.prev_last_revision >= h.first_revision {
        return bad(format!(
            "previous segment's last revision {} does not come before first revision {}",
            h.prev_last_revision, h.first_revision
        ));
    }
    // Each revision has at least one event.
    if (h.last_revision - h.first_revision) as u128 >= u128::from(h.event_count) {
        return bad(format!(
            "{} events cannot cover revisions {}..{}",
            h.event_count, h.first_revision, h.last_revision
        ));
    }
    Ok(())
}

/// Decodes the checksummed part (header and events). Separate so the property tests can reach
/// the event parser with arbitrary bytes behind a valid checksum.
fn decode_body(body: &[u8]) -> Result<Segment, SegmentError> {
    let header = parse_header(body)?;
    check_header(&header)?;
    let mut c = Cursor {
        bytes: body,
        at: HEADER_LEN,
    };
    let count = header.event_count as usize;
    if count > c.left() / EVENT_FIXED_LEN {
        return Err(SegmentError::Header(format!(
            "{count} events cannot fit in {} bytes",
            c.left()
        )));
    }
    let mut events = Vec::with_capacity(count);
    for index in 0..count {
        let event = parse_event(&mut c)
            .unwrap_or_else(|| Err("truncated (a length runs past the end of the segment)".into()))
            .map_err(|what| SegmentError::Event { index, what })?;
        events.push(event);
    }
    if c.left() != 0 {
        return Err(SegmentError::Header(format!(
            "{} bytes follow the last event",
            c.left()
        )));
    }
    check_events(&header, &events)?;
    Ok(Segment { header, events })
}

/// `None` when the bytes run out; `Some(Err)` for a bad kind.
fn parse_event(c: &mut Cursor<'_>) -> Option<Result<Event, String>> {
    let kind = c.u8()?;
    let revision = c.i64()?;
    let sub = c.u32()?;
    let create_revision = c.i64()?;
    let version = c.i64()?;
    let lease = c.i64()?;
    let observed_ms = c.i64()?;
    let key_len = c.u32()? as usize;
    let value_len = c.u32()? as usize;
    let key = c.take(key_len)?.to_vec();
    let value = c.take(value_len)?.to_vec();
    let kind = match kind {
        1 => EventKind::Put,
        2 => EventKind::Delete,
        k => {
            return Some(Err(format!("unknown kind {k}")));
        }
    };
    Some(Ok(Event {
        kind,
        revision,
        sub,
        key,
        value,
        create_revision,
        version,
        lease,
        observed_ms,
    }))
}

fn check_event(e: &Event) -> Result<(), String> {
    if e.key.is_empty() || e.key.len() > MAX_KEY_BYTES {
        return Err(format!(
            "key of {} bytes (1..={MAX_KEY_BYTES})",
            e.key.len()
        ));
    }
    match e.kind {
        EventKind::Put => {
            if e.create_revision < 1 || e.create_revision > e.revision {
                return Err(format!(
                    "put at revision {} has create revision {}",
                    e.revision, e.create_revision
                ));
            }
            if e.version < 1 || e.lease < 0 {
                return Err(format!("put has version {} lease {}", e.version, e.lease));
            }
        }
        EventKind::Delete => {
            if !e.value.is_empty() || e.create_revision != 0 || e.version != 0 || e.lease != 0 {
                return Err("a delete carries a value, create revision, version or lease".into());
            }
        }
    }
    Ok(())
}

/// Whole revisions, consecutive, sub-revisions counting from 0, matching the header.
fn check_events(h: &Header, events: &[Event]) -> Result<(), SegmentError> {
    if events.len() != h.event_count as usize {
        return Err(SegmentError::Header(format!(
            "header says {} events, segment has {}",
            h.event_count,
            events.len()
        )));
    }
    let mut prev: Option<(i64, u32)> = None;
    for (index, e) in events.iter().enumerate() {
        let fail = |what: String| Err(SegmentError::Event { index, what });
        check_event(e).or_else(fail)?;
        let expected_ok = match prev {
            None => e.revision == h.first_revision && e.sub == 0,
            Some((rev, sub)) => {
                (e.revision == rev && Some(e.sub) == sub.checked_add(1))
                    || (Some(e.revision) == rev.checked_add(1) && e.sub == 0)
            }
        };
        if !expected_ok {
            let after = prev.map_or(format!("segment start {}", h.first_revision), |(r, s)| {
                format!("{r}.{s}")
            });
            return fail(format!(
                "revision {}.{} does not follow {after} (a revision is missing or out of order)",
                e.revision, e.sub
            ));
        }
        prev = Some((e.revision, e.sub));
    }
    if prev.map(|p| p.0) != Some(h.last_revision) {
        return Err(SegmentError::Header(format!(
            "header says last revision {}, events end at {:?}",
            h.last_revision,
            prev.map(|p| p.0)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn put(rev: i64, sub: u32, key: &str, value: &str) -> Event {
        Event {
            kind: EventKind::Put,
            revision: rev,
            sub,
            key: key.as_bytes().to_vec(),
            value: value.as_bytes().to_vec(),
            create_revision: rev,
            version: 1,
            lease: 0,
            observed_ms: 1_000 * rev,
        }
    }

    fn delete(rev: i64, sub: u32, key: &str) -> Event {
        Event {
            kind: EventKind::Delete,
            revision: rev,
            sub,
            key: key.as_bytes().to_vec(),
            value: Vec::new(),
            create_revision: 0,
            version: 0,
            lease: 0,
            observed_ms: 1_000 * rev,
        }
    }

    fn info() -> SegmentInfo {
        SegmentInfo {
            cluster_id: 7,
            member_id: 9,
            prev_last_revision: 4,
            created_ms: 123,
        }
    }

    fn sample() -> Vec<Event> {
        vec![
            put(5, 0, "a", "1"),
            put(6, 0, "b", "2"),
            delete(6, 1, "a"),
            put(7, 0, "c", ""),
        ]
    }

    #[test]
    fn round_trip_keeps_every_field() {
        let bytes = encode(info(), &sample()).expect("valid");
        let seg = decode(&bytes).expect("decodes");
        assert_eq!(seg.events, sample());
        assert_eq!(seg.header.first_revision, 5);
        assert_eq!(seg.header.last_revision, 7);
        assert_eq!(seg.header.prev_last_revision, 4);
        assert_eq!(seg.header.cluster_id, 7);
        assert_eq!(seg.header.member_id, 9);
        assert_eq!(seg.header.created_ms, 123);
        assert_eq!(decode_header_unverified(&bytes), Ok(seg.header));
    }

    /// Without its hash, the decoder still checks everything else: a damaged event (behind a
    /// trailer that no longer matches) is refused, and a sound segment decodes the same.
    #[test]
    fn prechecked_decoding_skips_only_the_hash() {
        let bytes = encode(info(), &sample()).expect("valid");
        assert_eq!(decode_prechecked(&bytes), decode(&bytes));
        let mut bad = bytes.clone();
        bad[HEADER_LEN] = 9; // the first event's kind
        assert_eq!(decode(&bad), Err(SegmentError::Checksum));
        assert!(matches!(
            decode_prechecked(&bad),
            Err(SegmentError::Event { index: 0, .. })
        ));
        assert!(matches!(
            decode_prechecked(&bytes[..40]),
            Err(SegmentError::TooShort { .. })
        ));
    }

    #[test]
    fn missing_revision_or_sub_is_refused() {
        let gap = vec![put(5, 0, "a", "1"), put(7, 0, "b", "2")];
        assert!(matches!(
            encode(info(), &gap),
            Err(SegmentError::Header(_) | SegmentError::Event { .. })
        ));
        let sub_gap = vec![put(5, 0, "a", "1"), put(5, 2, "b", "2")];
        assert!(matches!(
            encode(info(), &sub_gap),
            Err(SegmentError::Event { index: 1, .. })
        ));
        let split = vec![put(5, 1, "a", "1")];
        assert!(encode(info(), &split).is_err(), "a segment starts at sub 0");
        let mut prev_after = info();
        prev_after.prev_last_revision = 5;
        assert!(encode(prev_after, &sample()).is_err());
    }

    #[test]
    fn flipped_byte_or_truncation_fails_the_checksum() {
        let bytes = encode(info(), &sample()).expect("valid");
        let mut bad = bytes.clone();
        bad[HEADER_LEN + 3] ^= 1;
        assert_eq!(decode(&bad), Err(SegmentError::Checksum));
        assert_eq!(
            decode(&bytes[..bytes.len() - 1]),
            Err(SegmentError::Checksum)
        );
    }

    #[test]
    fn huge_count_does_not_allocate() {
        let mut bytes = encode(info(), &sample()).expect("valid");
        bytes.truncate(bytes.len() - TRAILER_LEN);
        bytes[12..16].copy_from_slice(&u32::MAX.to_be_bytes());
        let err = decode_body(&bytes).expect_err("count too large");
        assert!(err.to_string().contains("cannot"), "{err}");
    }

    fn with_checksum(mut body: Vec<u8>) -> Vec<u8> {
        let sum = Sha256::digest(&body);
        body.extend_from_slice(&sum);
        body
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode(&bytes);
            let _ = decode_header_unverified(&bytes);
            let _ = decode(&with_checksum(bytes));
        }

        #[test]
        fn arbitrary_events_behind_a_valid_header_never_panic(
            tail in proptest::collection::vec(any::<u8>(), 0..512),
            count in any::<u32>(),
        ) {
            let mut body = encode(info(), &sample()).expect("valid");
            body.truncate(HEADER_LEN);
            body[12..16].copy_from_slice(&count.to_be_bytes());
            body.extend_from_slice(&tail);
            let _ = decode(&with_checksum(body));
        }

        #[test]
        fn mutated_segments_never_panic(at in 0usize..200, byte in any::<u8>(), cut in 0usize..200) {
            let mut body = encode(info(), &sample()).expect("valid");
            body.truncate(body.len() - TRAILER_LEN);
            let n = body.len();
            body[at % n] = byte;
            body.truncate(n - cut % n);
            let _ = decode(&with_checksum(body));
        }
    }
}
