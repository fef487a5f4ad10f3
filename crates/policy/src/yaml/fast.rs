//! A fast reader for the block-style YAML that `kubectl get -o yaml` writes.
//!
//! serde-saphyr reads about 10 MB/s here; an inventory of 150,000 pods is 80 MB. This reader
//! handles the subset kubectl emits (block mappings and sequences, plain and one-line quoted
//! scalars, one-line flow collections, comments, `---`) and returns [`Bail`] on anything else
//! (anchors, aliases, tags, block scalars, multi-line scalars, duplicate keys, tabs...), so the
//! caller falls back to serde-saphyr for the whole input. Scalars resolve exactly as
//! serde-saphyr does with our options (tests compare both on the same inputs).

use super::{Node, Value};

/// The input uses YAML this reader does not handle; parse it with serde-saphyr instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bail;

type R<T> = Result<T, Bail>;

/// Deeper indentation is left to serde-saphyr (which enforces its depth budget).
const MAX_INDENT: usize = 256;
/// Flow collections nested deeper than this are left to serde-saphyr.
const MAX_FLOW_DEPTH: usize = 64;

/// Lists longer than this many lines are parsed on several threads.
const PARALLEL_LINES: usize = 50_000;

#[derive(Debug, Clone, Copy)]
struct Line<'a> {
    /// 1-based line number.
    no: u32,
    indent: usize,
    /// Content after the indentation, comment stripped, right-trimmed.
    text: &'a str,
}

/// Strip a trailing comment (`#` after whitespace, outside quotes) and trailing spaces.
fn strip_comment(s: &str) -> R<&str> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) => {
                if c == b'\\' && q == b'"' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None => {
                if (c == b'"' || c == b'\'')
                    && (i == 0 || matches!(b[i - 1], b' ' | b'[' | b'{' | b',' | b':' | b'-'))
                {
                    quote = Some(c);
                } else if c == b'#' && (i == 0 || b[i - 1] == b' ') {
                    return Ok(s[..i].trim_end());
                } else if c == b'\t' {
                    return Err(Bail);
                }
            }
        }
        i += 1;
    }
    Ok(s.trim_end())
}

fn lines(text: &str) -> R<Vec<Vec<Line<'_>>>> {
    lines_from(text, 1)
}

/// Lines of `text`, numbered from `first` (a chunk of a larger file keeps its numbers).
fn lines_from(text: &str, first: usize) -> R<Vec<Vec<Line<'_>>>> {
    let mut docs: Vec<Vec<Line>> = vec![Vec::new()];
    for (i, raw) in text.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let no = u32::try_from(i + first).map_err(|_| Bail)?;
        let trimmed = raw.trim_start_matches(' ');
        if trimmed.starts_with('\t') {
            return Err(Bail);
        }
        let indent = raw.len() - trimmed.len();
        // Nesting is bounded by indentation; deep documents go to serde-saphyr's depth budget
        // instead of this reader's recursion.
        if indent > MAX_INDENT {
            return Err(Bail);
        }
        if indent == 0 && (raw.starts_with("---") || raw.starts_with("...")) {
            let rest = strip_comment(&raw[3..])?;
            if !rest.is_empty() || raw.starts_with("...") && !rest.is_empty() {
                return Err(Bail);
            }
            if raw.starts_with("---") {
                docs.push(Vec::new());
            }
            continue;
        }
        if indent == 0 && raw.starts_with('%') {
            return Err(Bail);
        }
        let text = strip_comment(trimmed)?;
        if text.is_empty() {
            continue;
        }
        if let Some(d) = docs.last_mut() {
            d.push(Line { no, indent, text });
        }
    }
    Ok(docs)
}

/// Parse a whole stream; empty documents are skipped (as `parse_documents` does).
pub fn parse(text: &str) -> R<Vec<Node>> {
    let docs = lines(text)?;
    let raw: Vec<&str> = text.split('\n').collect();
    let mut out = Vec::new();
    for doc in docs {
        if doc.is_empty() {
            continue;
        }
        let mut p = Parser {
            lines: &doc,
            pos: 0,
            raw: &raw,
            first_no: 1,
        };
        let first = doc[0];
        let node = p.node(first.indent)?;
        if p.pos != doc.len() {
            return Err(Bail);
        }
        if !node.is_null() {
            out.push(node);
        }
    }
    Ok(out)
}

struct Parser<'a, 'b> {
    lines: &'b [Line<'a>],
    pos: usize,
    /// Every raw line of the text, for block scalars and multi-line quoted scalars.
    raw: &'b [&'a str],
    /// Line number of `raw[0]`.
    first_no: u32,
}

impl<'a> Parser<'a, '_> {
    fn peek(&self) -> Option<Line<'a>> {
        self.lines.get(self.pos).copied()
    }

    /// A node whose first line is at `indent`.
    fn node(&mut self, indent: usize) -> R<Node> {
        let Some(line) = self.peek() else {
            return Err(Bail);
        };
        if line.indent != indent {
            return Err(Bail);
        }
        if is_seq_item(line.text) {
            return self.sequence(indent);
        }
        if split_key(line.text)?.is_some() {
            return self.mapping(indent, None);
        }
        // A lone scalar document or value line.
        self.pos += 1;
        self.scalar_value(line, line.text, indent)
    }

    /// A value written after `key:` or `- ` on `line` (already consumed): one-line values,
    /// literal block scalars (`|`, `|-`) and multi-line single-quoted scalars.
    fn scalar_value(&mut self, line: Line<'a>, t: &'a str, indent: usize) -> R<Node> {
        match t.as_bytes().first() {
            Some(b'|') => return self.block_scalar(line, t, indent),
            Some(b'\'') if quoted(t).is_err() => return self.multiline_quoted(line, t, indent),
            _ => {}
        }
        let v = inline_value(t, line.no)?;
        match self.peek() {
            Some(n) if n.indent > indent => match v.value {
                Value::Str(_) | Value::Int(_) | Value::Float(_) | Value::Bool(_)
                    if !t.starts_with(['"', '\'', '{', '[']) =>
                {
                    self.multiline_plain(line, t, indent)
                }
                _ => Err(Bail),
            },
            _ => Ok(v),
        }
    }

    /// A plain scalar continued on more-indented lines: breaks fold to a space, empty lines
    /// to `\n`. Comments, `: ` and anything ambiguous go to serde-saphyr.
    fn multiline_plain(&mut self, line: Line<'a>, t: &str, indent: usize) -> R<Node> {
        let mut out = t.to_owned();
        let mut prev = line.no;
        while let Some(n) = self.peek() {
            if n.indent <= indent {
                break;
            }
            let raw = self.raw_line(n.no).ok_or(Bail)?;
            let full = raw.trim_matches(' ');
            if full != n.text
                || n.text.contains(": ")
                || n.text.ends_with(':')
                || n.text.starts_with('#')
            {
                return Err(Bail); // a comment or a mapping inside: not a plain continuation
            }
            let mut blanks = 0;
            for gap in prev + 1..n.no {
                if !self.raw_line(gap).ok_or(Bail)?.trim_matches(' ').is_empty() {
                    return Err(Bail); // a comment line between continuation lines
                }
                blanks += 1;
            }
            if blanks > 0 {
                out.push_str(&"\n".repeat(blanks));
            } else {
                out.push(' ');
            }
            out.push_str(n.text);
            prev = n.no;
            self.pos += 1;
        }
        Ok(Node {
            line: line.no,
            value: Value::Str(out),
        })
    }

    fn raw_line(&self, no: u32) -> Option<&'a str> {
        let i = usize::try_from(no.checked_sub(self.first_no)?).ok()?;
        self.raw.get(i).map(|l| l.strip_suffix('\r').unwrap_or(l))
    }

    /// Skip the parsed lines up to and including line `no`.
    fn skip_to(&mut self, no: u32) {
        while self.lines.get(self.pos).is_some_and(|l| l.no <= no) {
            self.pos += 1;
        }
    }

    /// `|` or `|-` (clip or strip chomping); other headers go to serde-saphyr.
    fn block_scalar(&mut self, line: Line<'a>, header: &str, indent: usize) -> R<Node> {
        let strip = match header {
            "|" => false,
            "|-" => true,
            _ => return Err(Bail),
        };
        let mut content_indent = None;
        let mut body: Vec<&str> = Vec::new();
        let mut last = line.no;
        // serde-saphyr places a block scalar at its first content line.
        let mut at = None;
        let mut no = line.no + 1;
        while let Some(raw) = self.raw_line(no) {
            let spaces = raw.len() - raw.trim_start_matches(' ').len();
            let blank = raw.trim_start_matches(' ').is_empty();
            if blank {
                if spaces > content_indent.unwrap_or(usize::MAX) {
                    return Err(Bail); // whitespace-only line with content: keep it simple
                }
                body.push("");
                no += 1;
                continue;
            }
            let ci = *content_indent.get_or_insert(spaces);
            if spaces < ci {
                if spaces > indent || ci <= indent {
                    return Err(Bail);
                }
                break;
            }
            if ci <= indent || raw.contains('\t') {
                return Err(Bail);
            }
            body.push(&raw[ci..]);
            at.get_or_insert(no);
            last = no;
            no += 1;
        }
        // Trailing blank lines are not part of a clipped or stripped scalar.
        while body.last() == Some(&"") {
            body.pop();
        }
        let mut text = body.join("\n");
        if !strip && !text.is_empty() {
            text.push('\n');
        }
        self.skip_to(last);
        Ok(Node {
            line: at.unwrap_or(line.no + 1),
            value: Value::Str(text),
        })
    }

    /// A single-quoted scalar that spans lines: breaks fold to a space, empty lines to `\n`.
    fn multiline_quoted(&mut self, line: Line<'a>, t: &str, indent: usize) -> R<Node> {
        let mut out = t[1..].trim_end().replace("''", "'");
        let mut pending = 0usize;
        let mut no = line.no + 1;
        loop {
            let raw = self.raw_line(no).ok_or(Bail)?;
            if raw.contains('\t') {
                return Err(Bail);
            }
            let l = raw.trim_matches(' ');
            // The closing quote: a `'` not doubled.
            let b = l.as_bytes();
            let mut close = None;
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'\'' {
                    if b.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    close = Some(i);
                    break;
                }
                i += 1;
            }
            let content = match close {
                Some(k) => &l[..k],
                None => l,
            };
            if content.is_empty() && close.is_none() {
                pending += 1;
            } else {
                if pending > 0 {
                    out.push_str(&"\n".repeat(pending));
                } else {
                    out.push(' ');
                }
                pending = 0;
                out.push_str(&content.trim_end().replace("''", "'"));
            }
            if let Some(k) = close {
                let rest = strip_comment(&l[k + 1..])?;
                if !rest.is_empty() {
                    return Err(Bail);
                }
                self.skip_to(no);
                self.no_continuation(indent)?;
                return Ok(Node {
                    line: line.no,
                    value: Value::Str(out),
                });
            }
            no += 1;
        }
    }

    /// Multi-line plain scalars are not handled: the next line must not be deeper.
    fn no_continuation(&self, indent: usize) -> R<()> {
        match self.peek() {
            Some(n) if n.indent > indent => Err(Bail),
            _ => Ok(()),
        }
    }

    /// Long lists (`kubectl get pods -o yaml` of a large cluster) are split at item
    /// boundaries and parsed on several threads; short ones in place.
    fn big_or_plain_sequence(&mut self, indent: usize) -> R<Node> {
        let start = self.pos;
        let mut end = start;
        while end < self.lines.len() && self.lines[end].indent >= indent {
            if self.lines[end].indent == indent && !is_seq_item(self.lines[end].text) {
                break;
            }
            end += 1;
        }
        if end - start < PARALLEL_LINES {
            return self.sequence(indent);
        }
        // Asked only for long lists: it reads cgroup files.
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(4);
        if threads < 2 {
            return self.sequence(indent);
        }
        let slice = &self.lines[start..end];
        let mut cuts = vec![0];
        for t in 1..threads {
            let mut c = slice.len() * t / threads;
            while c < slice.len() && !(slice[c].indent == indent && is_seq_item(slice[c].text)) {
                c += 1;
            }
            if c > *cuts.last().unwrap_or(&0) && c < slice.len() {
                cuts.push(c);
            }
        }
        cuts.push(slice.len());
        let (raw, first_no) = (self.raw, self.first_no);
        let parts: Vec<R<Node>> = std::thread::scope(|scope| {
            let handles: Vec<_> = cuts
                .windows(2)
                .map(|w| {
                    let part = &slice[w[0]..w[1]];
                    scope.spawn(move || {
                        let mut p = Parser {
                            lines: part,
                            pos: 0,
                            raw,
                            first_no,
                        };
                        let node = p.sequence(indent)?;
                        if p.pos == part.len() {
                            Ok(node)
                        } else {
                            Err(Bail)
                        }
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or(Err(Bail)))
                .collect()
        });
        let mut items = Vec::new();
        for part in parts {
            match part?.value {
                Value::Seq(mut v) => items.append(&mut v),
                _ => return Err(Bail),
            }
        }
        self.pos = end;
        Ok(Node {
            line: slice[0].no,
            value: Value::Seq(items),
        })
    }

    fn sequence(&mut self, indent: usize) -> R<Node> {
        let first = self.peek().ok_or(Bail)?;
        let mut items = Vec::new();
        while let Some(line) = self.peek() {
            if line.indent != indent || !is_seq_item(line.text) {
                break;
            }
            items.push(self.seq_item(indent)?);
        }
        Ok(Node {
            line: first.no,
            value: Value::Seq(items),
        })
    }

    /// One `- ...` item of a block sequence at `indent` (the current line).
    fn seq_item(&mut self, indent: usize) -> R<Node> {
        let line = self.peek().ok_or(Bail)?;
        let rest = line.text[1..].trim_start_matches(' ');
        let col = indent + (line.text.len() - rest.len());
        if rest.is_empty() {
            self.pos += 1;
            match self.peek() {
                Some(n) if n.indent > indent => self.node(n.indent),
                _ => Ok(Node::null(line.no)),
            }
        } else if is_seq_item(rest) {
            Err(Bail)
        } else if let Some((key, value)) = split_key(rest)? {
            // `- key: value` opens a mapping whose keys sit at column `col`.
            self.mapping(col, Some((line, key, value)))
        } else {
            self.pos += 1;
            self.scalar_value(line, rest, indent)
        }
    }

    /// A block mapping at `indent`; `first` is an entry already split off a `- ` line.
    fn mapping(&mut self, indent: usize, first: Option<(Line<'a>, String, &'a str)>) -> R<Node> {
        let start = match &first {
            Some((l, _, _)) => l.no,
            None => self.peek().ok_or(Bail)?.no,
        };
        let mut entries: Vec<(String, Node)> = Vec::new();
        let mut pending = first;
        loop {
            let (line, key, value) = match pending.take() {
                Some(e) => e,
                None => {
                    let Some(line) = self.peek() else { break };
                    if line.indent != indent {
                        if line.indent > indent {
                            return Err(Bail);
                        }
                        break;
                    }
                    let Some((key, value)) = split_key(line.text)? else {
                        if is_seq_item(line.text) {
                            break;
                        }
                        return Err(Bail);
                    };
                    (line, key, value)
                }
            };
            self.pos += 1;
            if key == "<<" || entries.iter().any(|(k, _)| *k == key) {
                return Err(Bail); // merge keys and duplicates: leave to serde-saphyr
            }
            let node = if value.is_empty() {
                match self.peek() {
                    Some(n) if n.indent > indent => self.node(n.indent)?,
                    // kubectl style: a sequence at the key's own indentation.
                    Some(n) if n.indent == indent && is_seq_item(n.text) => {
                        self.big_or_plain_sequence(indent)?
                    }
                    _ => Node::null(line.no),
                }
            } else {
                self.scalar_value(line, value, indent)?
            };
            entries.push((key, node));
        }
        Ok(Node {
            line: start,
            value: Value::Map(entries),
        })
    }
}

fn is_seq_item(t: &str) -> bool {
    t == "-" || t.starts_with("- ")
}

/// `key: value` / `key:` → (key, value text). Quoted keys are allowed; `? ` is not.
fn split_key(t: &str) -> R<Option<(String, &str)>> {
    let b = t.as_bytes();
    if b.is_empty() {
        return Ok(None);
    }
    match b[0] {
        b'"' | b'\'' => {
            let (key, used) = quoted(t)?;
            let rest = &t[used..];
            if rest == ":" {
                return Ok(Some((key, "")));
            }
            if let Some(v) = rest.strip_prefix(": ") {
                return Ok(Some((key, v.trim_start_matches(' '))));
            }
            Ok(None)
        }
        b'?' if t == "?" || t.starts_with("? ") => Err(Bail),
        b'{' | b'[' | b'&' | b'*' | b'!' | b'|' | b'>' | b'@' | b'`' => Ok(None),
        _ => {
            for i in 0..b.len() {
                if b[i] == b':' && (i + 1 == b.len() || b[i + 1] == b' ') {
                    // `i` is the first `: ` (or final `:`), so the key holds no `: `.
                    let key = t[..i].trim_end();
                    if key.is_empty() || key.starts_with("- ") {
                        return Err(Bail);
                    }
                    let value = if i + 1 == b.len() {
                        ""
                    } else {
                        t[i + 2..].trim_start_matches(' ')
                    };
                    let k = resolve_key(key)?;
                    return Ok(Some((k, value)));
                }
            }
            Ok(None)
        }
    }
}

/// Plain keys are strings, except those serde-saphyr would read as null/bool/number: the
/// tree stores keys as text anyway, so only the spelling of numbers can differ.
///
/// The same typing as [`plain`] without building a node: one allocation per key (this runs
/// for every key of a 10^5-object inventory, and allocator time dominated reading).
fn resolve_key(k: &str) -> R<String> {
    reject_inf_nan(k)?;
    Ok(match k {
        "" | "~" | "null" | "Null" | "NULL" => "null".to_owned(),
        "true" | "True" | "TRUE" => "true".to_owned(),
        "false" | "False" | "FALSE" => "false".to_owned(),
        _ => match number(k) {
            Some(Value::Int(i)) => i.to_string(),
            Some(Value::Float(f)) => f.to_string(),
            _ => k.to_owned(),
        },
    })
}

/// `.inf` / `.nan` (any case, any sign) are left to the general reader.
fn reject_inf_nan(t: &str) -> R<()> {
    let s = t.trim_start_matches(['+', '-']);
    if s.eq_ignore_ascii_case(".inf") || s.eq_ignore_ascii_case(".nan") {
        Err(Bail)
    } else {
        Ok(())
    }
}

/// A value written on the key's line: quoted, flow, or plain scalar.
fn inline_value(t: &str, no: u32) -> R<Node> {
    match t.as_bytes().first() {
        Some(b'"' | b'\'') => {
            let (s, used) = quoted(t)?;
            if used != t.len() {
                return Err(Bail);
            }
            Ok(Node {
                line: no,
                value: Value::Str(s),
            })
        }
        Some(b'{' | b'[') => {
            let mut f = Flow {
                s: t.as_bytes(),
                text: t,
                i: 0,
                no,
                depth: 0,
            };
            let v = f.value()?;
            f.ws();
            if f.i != t.len() {
                return Err(Bail);
            }
            Ok(v)
        }
        Some(b'&' | b'*' | b'!' | b'|' | b'>' | b'%' | b'@' | b'`') => Err(Bail),
        _ => {
            if t.starts_with("- ")
                || t == "-"
                || t.contains(": ")
                || t.ends_with(':')
                || t.starts_with([',', '?', ']', '}'])
            {
                return Err(Bail);
            }
            plain(t, no)
        }
    }
}

/// A one-line quoted scalar at the start of `t`: (value, bytes used).
fn quoted(t: &str) -> R<(String, usize)> {
    let b = t.as_bytes();
    let q = b[0];
    let mut out = String::new();
    let mut i = 1;
    let mut run = 1;
    while i < b.len() {
        let c = b[i];
        if q == b'\'' && c == b'\'' {
            if b.get(i + 1) == Some(&b'\'') {
                out.push_str(&t[run..i + 1]);
                i += 2;
                run = i;
                continue;
            }
            out.push_str(&t[run..i]);
            return Ok((out, i + 1));
        }
        if q == b'"' && c == b'"' {
            out.push_str(&t[run..i]);
            return Ok((out, i + 1));
        }
        if q == b'"' && c == b'\\' {
            out.push_str(&t[run..i]);
            let e = *b.get(i + 1).ok_or(Bail)?;
            match e {
                b'"' => out.push('"'),
                b'\\' => out.push('\\'),
                b'/' => out.push('/'),
                b'n' => out.push('\n'),
                b't' => out.push('\t'),
                b'r' => out.push('\r'),
                b'0' => out.push('\0'),
                b'u' => {
                    let hex = t.get(i + 2..i + 6).ok_or(Bail)?;
                    let cp = u32::from_str_radix(hex, 16).map_err(|_| Bail)?;
                    out.push(char::from_u32(cp).ok_or(Bail)?);
                    i += 4;
                }
                _ => return Err(Bail),
            }
            i += 2;
            run = i;
            continue;
        }
        i += 1;
    }
    Err(Bail) // not closed on this line: multi-line quoted scalar
}

/// One-line flow collections (`{a: 1, b: [x, y]}`), as kubectl and people write them.
struct Flow<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
    no: u32,
    depth: usize,
}

impl Flow<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i] == b' ' {
            self.i += 1;
        }
    }

    fn value(&mut self) -> R<Node> {
        self.depth += 1;
        if self.depth > MAX_FLOW_DEPTH {
            return Err(Bail);
        }
        let v = self.value_inner();
        self.depth -= 1;
        v
    }

    fn value_inner(&mut self) -> R<Node> {
        self.ws();
        let no = self.no;
        match self.s.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut entries: Vec<(String, Node)> = Vec::new();
                loop {
                    self.ws();
                    if self.s.get(self.i) == Some(&b'}') {
                        self.i += 1;
                        break;
                    }
                    let key = self.scalar(true)?;
                    self.ws();
                    if self.s.get(self.i) != Some(&b':') {
                        return Err(Bail);
                    }
                    self.i += 1;
                    self.ws();
                    let v = match self.s.get(self.i) {
                        Some(b',' | b'}') => Node::null(no),
                        _ => self.value()?,
                    };
                    let key = match key.value {
                        Value::Str(s) => s,
                        Value::Null => "null".into(),
                        other => Node {
                            line: no,
                            value: other,
                        }
                        .scalar_text()
                        .ok_or(Bail)?,
                    };
                    if entries.iter().any(|(k, _)| *k == key) {
                        return Err(Bail);
                    }
                    entries.push((key, v));
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {}
                        _ => return Err(Bail),
                    }
                }
                Ok(Node {
                    line: no,
                    value: Value::Map(entries),
                })
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.ws();
                    if self.s.get(self.i) == Some(&b']') {
                        self.i += 1;
                        break;
                    }
                    items.push(self.value()?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {}
                        _ => return Err(Bail),
                    }
                }
                Ok(Node {
                    line: no,
                    value: Value::Seq(items),
                })
            }
            _ => self.scalar(false),
        }
    }

    /// A flow scalar: quoted, or plain up to `,` `]` `}` (and `: ` for keys).
    fn scalar(&mut self, key: bool) -> R<Node> {
        match self.s.get(self.i) {
            Some(b'"' | b'\'') => {
                let (v, used) = quoted(&self.text[self.i..])?;
                self.i += used;
                Ok(Node {
                    line: self.no,
                    value: Value::Str(v),
                })
            }
            Some(b'&' | b'*' | b'!' | b'{' | b'[' | b'?') => Err(Bail),
            _ => {
                let start = self.i;
                while self.i < self.s.len() {
                    let c = self.s[self.i];
                    if c == b',' || c == b']' || c == b'}' {
                        break;
                    }
                    if c == b':'
                        && (key
                            || self
                                .s
                                .get(self.i + 1)
                                .is_none_or(|n| *n == b' ' || *n == b','))
                    {
                        break;
                    }
                    self.i += 1;
                }
                let t = self.text[start..self.i].trim_end();
                plain(t, self.no)
            }
        }
    }
}

/// serde-saphyr rejects non-finite floats with our options; let it report them.
fn plain(t: &str, no: u32) -> R<Node> {
    reject_inf_nan(t)?;
    Ok(resolve_plain(t, no))
}

/// Plain scalar typing as serde-saphyr applies it with strict booleans and leading-zero
/// numbers kept as text.
pub(crate) fn resolve_plain(t: &str, no: u32) -> Node {
    let value = match t {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        _ => number(t).unwrap_or_else(|| Value::Str(t.to_owned())),
    };
    Node { line: no, value }
}

fn number(t: &str) -> Option<Value> {
    let b = t.as_bytes();
    let (neg, digits) = match b.first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let d = digits.as_bytes();
    if d.is_empty() {
        return None;
    }
    if let Some(hex) = digits.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16)
            .ok()
            .map(|v| Value::Int(if neg { -v } else { v }));
    }
    if let Some(oct) = digits.strip_prefix("0o") {
        return i64::from_str_radix(oct, 8)
            .ok()
            .map(|v| Value::Int(if neg { -v } else { v }));
    }
    if d.iter().all(u8::is_ascii_digit) {
        if d.len() > 1 && d[0] == b'0' {
            return None; // leading zeros stay text (leading_zero_numbers_as_strings)
        }
        return match t.parse::<i64>() {
            Ok(v) => Some(Value::Int(v)),
            Err(_) => t.parse::<f64>().ok().map(Value::Float),
        };
    }
    // Floats: digits with one dot and/or an exponent; nothing else.
    let mut seen_digit = false;
    let mut i = 0;
    while i < d.len() && d[i].is_ascii_digit() {
        seen_digit = true;
        i += 1;
    }
    if i < d.len() && d[i] == b'.' {
        i += 1;
        while i < d.len() && d[i].is_ascii_digit() {
            seen_digit = true;
            i += 1;
        }
    }
    if !seen_digit {
        return None;
    }
    if i < d.len() && (d[i] == b'e' || d[i] == b'E') {
        i += 1;
        if i < d.len() && (d[i] == b'+' || d[i] == b'-') {
            i += 1;
        }
        let s = i;
        while i < d.len() && d[i].is_ascii_digit() {
            i += 1;
        }
        if s == i {
            return None;
        }
    }
    if i != d.len() {
        return None;
    }
    t.parse::<f64>().ok().map(Value::Float)
}

/// A large `kind: ...List` file (`items:` at column 0 followed by `- ` items at column 0, one
/// document): the list without its items, and `f` applied to every item. Items are parsed
/// and handed to `f` on several threads, one at a time, so the whole tree never exists at
/// once. `Ok(None)`: not such a file; `Err(Bail)`: use the general path.
pub fn parse_list_items<T: Send>(
    text: &str,
    f: &(dyn Fn(Node) -> T + Sync),
) -> R<Option<(Node, Vec<T>)>> {
    let b = text.as_bytes();
    let mut items_line: Option<(usize, usize)> = None; // (byte offset, index of line)
    let mut starts: Vec<(usize, usize)> = Vec::new(); // item starts: (byte offset, line index)
    let mut end: Option<(usize, usize)> = None;
    let (mut pos, mut line) = (0usize, 0usize);
    while pos < b.len() {
        let next = b[pos..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(b.len(), |i| pos + i + 1);
        let c = b[pos];
        if c != b' ' && c != b'\n' && c != b'\r' && c != b'#' {
            let raw = &text[pos..next];
            if raw.starts_with("---") || raw.starts_with("...") || raw.starts_with('%') {
                return Ok(None);
            }
            match (items_line, end) {
                (None, _) if strip_comment(raw.trim_end_matches(['\n', '\r']))? == "items:" => {
                    items_line = Some((pos, line));
                }
                (Some(_), None) => {
                    if c == b'-' && (raw.starts_with("- ") || raw.trim_end() == "-") {
                        starts.push((pos, line));
                    } else {
                        end = Some((pos, line));
                    }
                }
                _ => {}
            }
        }
        pos = next;
        line += 1;
    }
    let Some((items_at, items_idx)) = items_line else {
        return Ok(None);
    };
    if starts.is_empty() {
        return Ok(None);
    }
    let (end_at, end_idx) = end.unwrap_or((b.len(), line));
    // The header keeps its line numbers: the items are replaced by as many empty lines.
    let mut header =
        String::with_capacity(items_at + (b.len() - end_at) + (end_idx - items_idx) + 16);
    header.push_str(&text[..items_at]);
    header.push_str("items: []");
    for _ in items_idx..end_idx {
        header.push('\n');
    }
    header.push_str(&text[end_at..]);
    let mut docs = parse(&header)?;
    if docs.len() != 1 {
        return Err(Bail);
    }
    let head = docs.pop().ok_or(Bail)?;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4);
    let per = starts.len().div_ceil(threads);
    let chunks: Vec<(usize, usize, usize)> = starts
        .chunks(per.max(1))
        .enumerate()
        .map(|(i, c)| {
            let (from, first_line) = c[0];
            let to = starts.get((i + 1) * per).map_or(end_at, |s| s.0);
            (from, to, first_line)
        })
        .collect();
    let results: Vec<R<Vec<T>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|&(from, to, first_line)| {
                scope.spawn(move || {
                    let docs = lines_from(&text[from..to], first_line + 1)?;
                    if docs.len() != 1 {
                        return Err(Bail);
                    }
                    let lines = &docs[0];
                    let raw: Vec<&str> = text[from..to].split('\n').collect();
                    let mut p = Parser {
                        lines,
                        pos: 0,
                        raw: &raw,
                        first_no: u32::try_from(first_line + 1).map_err(|_| Bail)?,
                    };
                    let mut out = Vec::new();
                    while p.pos < lines.len() {
                        let l = lines[p.pos];
                        if l.indent != 0 || !is_seq_item(l.text) {
                            return Err(Bail);
                        }
                        out.push(f(p.seq_item(0)?));
                    }
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(Err(Bail)))
            .collect()
    });
    let mut items = Vec::with_capacity(starts.len());
    for r in results {
        items.extend(r?);
    }
    Ok(Some((head, items)))
}
