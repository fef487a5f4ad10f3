//! Protobuf wire format: walking a message field by field (the store crate's reader) and
//! writing one back.
//! Kubernetes' Go encoder writes fields in tag order, maps sorted by key, and every value in
//! its shortest form; the writer here does the same, which is what makes round trips exact.

// Reading is the store crate's protobuf reader (one reader for etcd's and Kubernetes'
// messages: every length checked before slicing); this module adds the writer.
pub use store::proto::{Fields as FieldReader, Value as WireValue, fields, packed_varints};

/// Appends encoded fields to a buffer.
#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn varint_raw(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    pub fn varint(&mut self, tag: u32, v: u64) {
        self.varint_raw(u64::from(tag) << 3);
        self.varint_raw(v);
    }

    pub fn bytes(&mut self, tag: u32, b: &[u8]) {
        self.varint_raw((u64::from(tag) << 3) | 2);
        self.varint_raw(b.len() as u64);
        self.buf.extend_from_slice(b);
    }

    pub fn fixed64(&mut self, tag: u32, v: u64) {
        self.varint_raw((u64::from(tag) << 3) | 1);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_read_back_what_was_written() {
        let mut w = Writer::default();
        w.varint(1, 300);
        w.bytes(2, b"abc");
        w.fixed64(3, 7);
        w.varint(4, u64::MAX);
        let got: Vec<_> = fields(&w.buf).collect::<Result<_, _>>().expect("valid");
        assert_eq!(
            got,
            vec![
                (1, WireValue::Varint(300)),
                (2, WireValue::Bytes(b"abc")),
                (3, WireValue::Fixed64(7)),
                (4, WireValue::Varint(u64::MAX)),
            ]
        );
    }

    #[test]
    fn truncated_and_malformed_input_is_an_error() {
        for bad in [
            &b"\x0a\x05ab"[..],
            b"\x08",
            b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f",
            b"\x00\x01",
            b"\x0b",
        ] {
            assert!(fields(bad).any(|r| r.is_err()), "{bad:?}");
        }
    }
}
