//! The `key` bucket: revision keys and `mvccpb.KeyValue` values.

use crate::proto::{self, ProtoError};

/// A revision key: `main` BE | '_' | `sub` BE, plus 't' for a tombstone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Revision {
    pub main: i64,
    pub sub: i64,
    pub tombstone: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RevisionError {
    #[error("revision key is {0} bytes, expected 17 or 18")]
    Length(usize),
    #[error("revision key byte 8 is {0:#04x}, expected '_'")]
    Separator(u8),
    #[error("revision key byte 17 is {0:#04x}, expected 't' (tombstone)")]
    Marker(u8),
}

fn be_i64(b: &[u8]) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    i64::from_be_bytes(a)
}

impl Revision {
    pub fn parse(key: &[u8]) -> Result<Revision, RevisionError> {
        if key.len() != 17 && key.len() != 18 {
            return Err(RevisionError::Length(key.len()));
        }
        if key[8] != b'_' {
            return Err(RevisionError::Separator(key[8]));
        }
        let tombstone = match key.get(17) {
            None => false,
            Some(b't') => true,
            Some(&m) => return Err(RevisionError::Marker(m)),
        };
        Ok(Revision {
            main: be_i64(&key[..8]),
            sub: be_i64(&key[9..17]),
            tombstone,
        })
    }

    /// The key bytes as etcd writes them.
    pub fn to_key(self) -> Vec<u8> {
        let mut k = Vec::with_capacity(18);
        k.extend_from_slice(&self.main.to_be_bytes());
        k.push(b'_');
        k.extend_from_slice(&self.sub.to_be_bytes());
        if self.tombstone {
            k.push(b't');
        }
        k
    }

    /// `main` of any key at least 8 bytes long, the way etcd 3.4's `bytesToRev` reads it.
    pub fn main_of(key: &[u8]) -> Option<i64> {
        (key.len() >= 8).then(|| be_i64(key))
    }
}

/// `mvccpb.KeyValue`, borrowing from the page it was read from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyValue<'a> {
    pub key: &'a [u8],
    pub create_revision: i64,
    pub mod_revision: i64,
    pub version: i64,
    pub value: &'a [u8],
    pub lease: i64,
}

impl<'a> KeyValue<'a> {
    /// Decode; unknown fields are skipped as protobuf allows. An empty buffer is a valid
    /// KeyValue with every field zero (the `--bump-revision` marker).
    pub fn decode(buf: &'a [u8]) -> Result<KeyValue<'a>, ProtoError> {
        let mut kv = KeyValue::default();
        for f in proto::fields(buf) {
            let (n, v) = f?;
            match n {
                1 => kv.key = v.as_bytes(),
                2 => kv.create_revision = v.as_u64() as i64,
                3 => kv.mod_revision = v.as_u64() as i64,
                4 => kv.version = v.as_u64() as i64,
                5 => kv.value = v.as_bytes(),
                6 => kv.lease = v.as_u64() as i64,
                _ => {}
            }
        }
        Ok(kv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revision_round_trip_and_tombstone() {
        let r = Revision {
            main: 11,
            sub: 1,
            tombstone: true,
        };
        assert_eq!(Revision::parse(&r.to_key()), Ok(r));
        let mut k = r.to_key();
        k[17] = b'x';
        assert_eq!(Revision::parse(&k), Err(RevisionError::Marker(b'x')));
        assert_eq!(Revision::parse(b"short"), Err(RevisionError::Length(5)));
    }

    #[test]
    fn keyvalue_decodes_fields_and_empty() {
        let buf = [
            0x0a, 1, b'a', 0x10, 2, 0x18, 3, 0x20, 1, 0x2a, 1, b'v', 0x30, 9,
        ];
        let kv = KeyValue::decode(&buf).expect("valid");
        assert_eq!(
            kv,
            KeyValue {
                key: b"a",
                create_revision: 2,
                mod_revision: 3,
                version: 1,
                value: b"v",
                lease: 9
            }
        );
        assert_eq!(
            KeyValue::decode(&[]).expect("empty ok"),
            KeyValue::default()
        );
    }
}
