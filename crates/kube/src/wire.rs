//! Protobuf wire format: just enough to walk a message field by field and to write one back.
//! Kubernetes' Go encoder writes fields in tag order, maps sorted by key, and every value in
//! its shortest form; the writer here does the same, which is what makes round trips exact.

use crate::error::DecodeError;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WireValue<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

/// Iterates over `(tag, value)` pairs of one message.
pub struct FieldReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> FieldReader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        FieldReader { buf, pos: 0 }
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let byte = *self
                .buf
                .get(self.pos)
                .ok_or(DecodeError::Truncated { at: self.pos })?;
            self.pos += 1;
            if shift == 63 && byte > 1 {
                return Err(DecodeError::BadVarint { at: self.pos - 1 });
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError::BadVarint { at: self.pos })
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or(DecodeError::Truncated { at: self.pos })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn next_field(&mut self) -> Result<(u32, WireValue<'a>), DecodeError> {
        let at = self.pos;
        let key = self.varint()?;
        let tag = u32::try_from(key >> 3).map_err(|_| DecodeError::BadTag { at })?;
        if tag == 0 {
            return Err(DecodeError::BadTag { at });
        }
        let value = match key & 7 {
            0 => WireValue::Varint(self.varint()?),
            1 => {
                let b = self.take(8)?;
                WireValue::Fixed64(u64::from_le_bytes(
                    b.try_into().map_err(|_| DecodeError::Truncated { at })?,
                ))
            }
            2 => {
                let len =
                    usize::try_from(self.varint()?).map_err(|_| DecodeError::Truncated { at })?;
                WireValue::Bytes(self.take(len)?)
            }
            5 => {
                let b = self.take(4)?;
                WireValue::Fixed32(u32::from_le_bytes(
                    b.try_into().map_err(|_| DecodeError::Truncated { at })?,
                ))
            }
            wt => {
                return Err(DecodeError::WireType {
                    at,
                    wire_type: wt as u8,
                });
            }
        };
        Ok((tag, value))
    }
}

impl<'a> Iterator for FieldReader<'a> {
    type Item = Result<(u32, WireValue<'a>), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let r = self.next_field();
        if r.is_err() {
            // One error ends the walk: the rest of the buffer has no framing to trust.
            self.pos = self.buf.len();
        }
        Some(r)
    }
}

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
        let got: Vec<_> = FieldReader::new(&w.buf)
            .collect::<Result<_, _>>()
            .expect("valid");
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
            assert!(FieldReader::new(bad).any(|r| r.is_err()), "{bad:?}");
        }
    }
}
