//! JSON strings escaped the way Go's `encoding/json` escapes them (`<`, `>`, `&`, U+2028/9 as
//! `\u` escapes), so files we write match etcd's byte for byte.

pub fn go_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || matches!(c, '<' | '>' | '&' | '\u{2028}' | '\u{2029}') => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_like_go() {
        assert_eq!(
            super::go_string("a\"b<&>\u{1}"),
            r#""a\"b\u003c\u0026\u003e\u0001""#
        );
        assert_eq!(super::go_string("{\"x\":1}"), r#""{\"x\":1}""#);
    }
}
