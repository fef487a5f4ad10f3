//! A JSON reader producing the same tree (with line numbers) as serde-saphyr does for JSON
//! input, at JSON speed. `kubectl get -o json` and np-guard's inputs are JSON. Anything
//! unusual (duplicate keys, deep nesting, bad syntax) returns [`Bail`] and serde-saphyr
//! reads the input instead, reporting errors the usual way.

use super::fast::Bail;
use super::{Node, Value};

const MAX_DEPTH: usize = 64;

/// Parse `text` if it is one JSON value (object or array at the top).
pub fn parse(text: &str) -> Result<Vec<Node>, Bail> {
    let mut p = P {
        s: text.as_bytes(),
        text,
        i: 0,
        line: 1,
        depth: 0,
    };
    p.ws();
    if !matches!(p.s.get(p.i), Some(b'{' | b'[')) {
        return Err(Bail);
    }
    let v = p.value()?;
    p.ws();
    if p.i != p.s.len() {
        return Err(Bail);
    }
    Ok(if v.is_null() { vec![] } else { vec![v] })
}

struct P<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
    line: u32,
    depth: usize,
}

impl P<'_> {
    fn ws(&mut self) {
        while let Some(&c) = self.s.get(self.i) {
            match c {
                b'\n' => self.line += 1,
                b' ' | b'\t' | b'\r' => {}
                _ => break,
            }
            self.i += 1;
        }
    }

    fn value(&mut self) -> Result<Node, Bail> {
        self.ws();
        let line = self.line;
        let value = match self.s.get(self.i).ok_or(Bail)? {
            b'{' => {
                self.enter()?;
                self.i += 1;
                let mut entries: Vec<(String, Node)> = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                } else {
                    loop {
                        self.ws();
                        let key = self.string()?;
                        if entries.iter().any(|(k, _)| *k == key) {
                            return Err(Bail);
                        }
                        self.ws();
                        if self.s.get(self.i) != Some(&b':') {
                            return Err(Bail);
                        }
                        self.i += 1;
                        let v = self.value()?;
                        entries.push((key, v));
                        self.ws();
                        match self.s.get(self.i) {
                            Some(b',') => self.i += 1,
                            Some(b'}') => {
                                self.i += 1;
                                break;
                            }
                            _ => return Err(Bail),
                        }
                    }
                }
                self.depth -= 1;
                Value::Map(entries)
            }
            b'[' => {
                self.enter()?;
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                } else {
                    loop {
                        items.push(self.value()?);
                        self.ws();
                        match self.s.get(self.i) {
                            Some(b',') => self.i += 1,
                            Some(b']') => {
                                self.i += 1;
                                break;
                            }
                            _ => return Err(Bail),
                        }
                    }
                }
                self.depth -= 1;
                Value::Seq(items)
            }
            b'"' => Value::Str(self.string()?),
            b't' => self.word("true", Value::Bool(true))?,
            b'f' => self.word("false", Value::Bool(false))?,
            b'n' => self.word("null", Value::Null)?,
            _ => self.number()?,
        };
        Ok(Node { line, value })
    }

    fn enter(&mut self) -> Result<(), Bail> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            Err(Bail)
        } else {
            Ok(())
        }
    }

    fn word(&mut self, w: &str, v: Value) -> Result<Value, Bail> {
        if self.text[self.i..].starts_with(w) {
            self.i += w.len();
            Ok(v)
        } else {
            Err(Bail)
        }
    }

    fn number(&mut self) -> Result<Value, Bail> {
        let start = self.i;
        while let Some(&c) = self.s.get(self.i) {
            if c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E') {
                self.i += 1;
            } else {
                break;
            }
        }
        let t = &self.text[start..self.i];
        let digits = t.strip_prefix('-').unwrap_or(t);
        // JSON forbids leading zeros; serde-saphyr would keep such text as a string.
        if digits.is_empty()
            || (digits.len() > 1
                && digits.starts_with('0')
                && digits.as_bytes()[1].is_ascii_digit())
        {
            return Err(Bail);
        }
        if t.bytes().all(|c| c.is_ascii_digit() || c == b'-')
            && let Ok(v) = t.parse::<i64>()
        {
            return Ok(Value::Int(v));
        }
        match t.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Value::Float(f)),
            _ => Err(Bail),
        }
    }

    fn string(&mut self) -> Result<String, Bail> {
        if self.s.get(self.i) != Some(&b'"') {
            return Err(Bail);
        }
        self.i += 1;
        let mut out = String::new();
        let mut run = self.i;
        loop {
            let c = *self.s.get(self.i).ok_or(Bail)?;
            match c {
                b'"' => {
                    out.push_str(&self.text[run..self.i]);
                    self.i += 1;
                    return Ok(out);
                }
                b'\\' => {
                    out.push_str(&self.text[run..self.i]);
                    let e = *self.s.get(self.i + 1).ok_or(Bail)?;
                    self.i += 2;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let cp = self.hex4()?;
                            let ch = if (0xD800..0xDC00).contains(&cp) {
                                if self.text.get(self.i..self.i + 2) != Some("\\u") {
                                    return Err(Bail);
                                }
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(Bail);
                                }
                                char::from_u32(0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00))
                            } else {
                                char::from_u32(cp)
                            };
                            out.push(ch.ok_or(Bail)?);
                        }
                        _ => return Err(Bail),
                    }
                    run = self.i;
                }
                b'\n' | b'\r' => return Err(Bail),
                _ => self.i += 1,
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, Bail> {
        let h = self.text.get(self.i..self.i + 4).ok_or(Bail)?;
        self.i += 4;
        u32::from_str_radix(h, 16).map_err(|_| Bail)
    }
}
