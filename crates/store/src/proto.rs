//! Minimal protobuf wire decoding. Hand-written so every length is checked against the
//! input before anything is sliced or allocated: corrupt files give errors, not panics.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    #[error("truncated varint at byte {0}")]
    Varint(usize),
    #[error("field at byte {at}: length {len} runs past the end ({end})")]
    Length { at: usize, len: u64, end: usize },
    #[error("unsupported wire type {wire} at byte {at}")]
    WireType { wire: u8, at: usize },
    #[error("field number 0 at byte {0}")]
    FieldZero(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

impl<'a> Value<'a> {
    #[inline]
    pub fn as_u64(self) -> u64 {
        match self {
            Value::Varint(v) | Value::Fixed64(v) => v,
            Value::Fixed32(v) => u64::from(v),
            Value::Bytes(_) => 0,
        }
    }
    #[inline]
    pub fn as_bytes(self) -> &'a [u8] {
        match self {
            Value::Bytes(b) => b,
            _ => &[],
        }
    }
}

#[inline]
pub fn varint(buf: &[u8], pos: &mut usize) -> Result<u64, ProtoError> {
    // Tags and small numbers are one byte: the common case skips the loop.
    if let Some(&b) = buf.get(*pos)
        && b < 0x80
    {
        *pos += 1;
        return Ok(u64::from(b));
    }
    let start = *pos;
    let mut v: u64 = 0;
    for shift in (0..70).step_by(7) {
        let Some(&b) = buf.get(*pos) else {
            return Err(ProtoError::Varint(start));
        };
        *pos += 1;
        // The tenth byte may carry only the top bit of a u64: more is an overlong encoding
        // that no protobuf writer produces, so it is refused rather than truncated.
        if shift == 63 && b > 1 {
            return Err(ProtoError::Varint(start));
        }
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(ProtoError::Varint(start))
}

/// Every varint of a packed repeated field, in order.
pub fn packed_varints(buf: &[u8]) -> impl Iterator<Item = Result<u64, ProtoError>> + '_ {
    let mut pos = 0;
    std::iter::from_fn(move || {
        if pos >= buf.len() {
            return None;
        }
        let r = varint(buf, &mut pos);
        if r.is_err() {
            pos = buf.len();
        }
        Some(r)
    })
}

/// Iterator over `(field number, value)` of one message.
pub struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
}

pub fn fields(buf: &[u8]) -> Fields<'_> {
    Fields { buf, pos: 0 }
}

impl<'a> Fields<'a> {
    #[inline]
    fn take(&mut self, len: u64, at: usize) -> Result<&'a [u8], ProtoError> {
        let end = self.buf.len();
        let avail = (end - self.pos) as u64;
        if len > avail {
            return Err(ProtoError::Length { at, len, end });
        }
        let s = &self.buf[self.pos..self.pos + len as usize];
        self.pos += len as usize;
        Ok(s)
    }

    #[inline]
    fn next_field(&mut self) -> Result<(u32, Value<'a>), ProtoError> {
        let at = self.pos;
        let tag = varint(self.buf, &mut self.pos)?;
        let field = (tag >> 3) as u32;
        if field == 0 {
            return Err(ProtoError::FieldZero(at));
        }
        let value = match (tag & 7) as u8 {
            0 => Value::Varint(varint(self.buf, &mut self.pos)?),
            1 => {
                let s = self.take(8, at)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(s);
                Value::Fixed64(u64::from_le_bytes(a))
            }
            2 => {
                let len = varint(self.buf, &mut self.pos)?;
                Value::Bytes(self.take(len, at)?)
            }
            5 => {
                let s = self.take(4, at)?;
                let mut a = [0u8; 4];
                a.copy_from_slice(s);
                Value::Fixed32(u32::from_le_bytes(a))
            }
            wire => return Err(ProtoError::WireType { wire, at }),
        };
        Ok((field, value))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, Value<'a>), ProtoError>;
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let r = self.next_field();
        if r.is_err() {
            // Stop after the first error: the rest of the buffer cannot be framed.
            self.pos = self.buf.len();
        }
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_each_wire_type() {
        // field 1 varint 150, field 2 bytes "hi", field 3 fixed32 7, field 4 fixed64 9
        let buf = [
            0x08, 0x96, 0x01, 0x12, 0x02, b'h', b'i', 0x1d, 7, 0, 0, 0, 0x21, 9, 0, 0, 0, 0, 0, 0,
            0,
        ];
        let got: Vec<_> = fields(&buf).collect::<Result<_, _>>().expect("valid");
        assert_eq!(
            got,
            vec![
                (1, Value::Varint(150)),
                (2, Value::Bytes(b"hi")),
                (3, Value::Fixed32(7)),
                (4, Value::Fixed64(9))
            ]
        );
    }

    #[test]
    fn rejects_lengths_past_the_end_and_groups() {
        assert!(matches!(
            fields(&[0x12, 0x05, 1]).next(),
            Some(Err(ProtoError::Length { .. }))
        ));
        assert!(matches!(
            fields(&[0x0b]).next(),
            Some(Err(ProtoError::WireType { wire: 3, .. }))
        ));
        assert!(matches!(
            fields(&[0x08, 0xff]).next(),
            Some(Err(ProtoError::Varint(1)))
        ));
        assert!(
            fields(&[
                0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
            ])
            .next()
            .is_some_and(|r| r.is_err())
        );
    }
}
