//! The fast kubectl-YAML reader must give exactly serde-saphyr's tree whenever it accepts an
//! input (it bails to serde-saphyr otherwise): checked on the corpus, the fixtures, tricky
//! snippets and generated inputs.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

use std::path::Path;

use policy::yaml::{fast, json, parse_documents_saphyr};
use proptest::prelude::*;

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/netpol-analyzer"
);

fn same(text: &str) -> bool {
    match fast::parse(text) {
        Ok(f) => {
            let s = parse_documents_saphyr(text)
                .unwrap_or_else(|e| panic!("fast accepted what saphyr rejects ({e:?}):\n{text}"));
            assert_eq!(f, s, "trees differ for:\n{text}");
            true
        }
        Err(_) => false,
    }
}

fn same_json(text: &str) -> bool {
    match json::parse(text) {
        Ok(j) => {
            let s = parse_documents_saphyr(text)
                .unwrap_or_else(|e| panic!("json accepted what saphyr rejects ({e:?})"));
            assert_eq!(j, s, "JSON trees differ");
            true
        }
        Err(_) => false,
    }
}

#[test]
fn json_snippets_agree_with_saphyr() {
    let cases = [
        "{\"a\": 1, \"b\": [true, false, null, -2, 1.5, 1e3], \"c\": {\"d\": \"x\\\"y\\u00e9\\ud83d\\ude00\"}}",
        "[\n {\"kind\": \"Pod\",\n  \"spec\": {}\n }\n]\n",
        "{\"a\": 1, \"a\": 2}",
        "{\"a\": 01}",
        "{\"a\": [1, 2}",
        "{}",
    ];
    for c in cases {
        same_json(c);
    }
}

fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).expect("dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p
            .extension()
            .is_some_and(|x| x == "yaml" || x == "yml" || x == "json")
        {
            out.push(p);
        }
    }
}

#[test]
fn corpus_and_fixtures_parse_identically() {
    let mut files = Vec::new();
    walk(Path::new(CORPUS), &mut files);
    walk(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures")),
        &mut files,
    );
    let mut fast_ok = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read");
        if same(&text) || same_json(&text) {
            fast_ok += 1;
        }
    }
    assert!(
        fast_ok * 2 >= files.len(),
        "fast path took only {fast_ok} of {} files",
        files.len()
    );
}

#[test]
fn tricky_scalars_and_shapes() {
    let cases = [
        "a: 1\nb: -2\nc: 0755\nd: 0x1F\ne: 1.5\nf: 1e3\ng: .5\nh: true\ni: False\nj: yes\nk: on\nl: ~\nm: null\nn:\no: 'x''y'\np: \"a\\\"b\\u00e9\"\nq: 12abc\nr: +3\ns: 1.\nt: -.inf\n",
        "list:\n- a\n- 1\n-\n- - nested\n",
        "items:\n- name: x\n  ports:\n  - containerPort: 80\n    protocol: TCP\n  - {name: y, containerPort: 81}\n- name: z\n",
        "a:\n  b:\n    c: [1, 'two', {x: y}]\n  d: {}\n  e: []\n",
        "url: http://example.com:8080/x # comment\nkey with spaces: v\n\"quoted key\": 1\n'k2': v#notcomment\n",
        "---\n# only a comment\n---\na: 1\n...\n",
        "a: b\n  c: d\n",
        "a: &x 1\nb: *x\n",
        "a: |\n  text\n",
        "a: |-\n  line 1\n\n    more # not a comment\n  end\n\nb: 1\n",
        "s: |\n  x\n- y\n",
        "a: 'one\n\n  '\nb: 'x\n  y ''q'' z'\nc: 'p\n  '\n",
        "cmd:\n- chown -R a:b /x; chown\n  /var/log\n\n  tail\n- next\n",
        "a: b\n  # comment\n  c\n",
        "a: 1\n  2\n",
        "a: 'multi\n  line'\n",
        "a: 1\na: 2\n",
        "a:\n\tb: 1\n",
        "- a: 1\n  b: 2\n- c: 3\n",
        "k: v: w\n",
        "plain\n",
        "a: [1, 2\n",
        "a: {b: }\n",
        "a: b\nc\n",
    ];
    for c in cases {
        same(c);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn generated_kubectl_like_yaml_agrees(lines in proptest::collection::vec(
        (0usize..4, prop_oneof![
            Just("- ".to_owned()), Just(String::new()), Just("  ".to_owned())
        ], prop_oneof![
            Just("k".to_owned()), Just("name".to_owned()), Just("a b".to_owned()), Just("'q'".to_owned())
        ], prop_oneof![
            Just(String::new()), Just(" 1".to_owned()), Just(" 0755".to_owned()), Just(" true".to_owned()),
            Just(" x y".to_owned()), Just(" 'a''b'".to_owned()), Just(" [1, b]".to_owned()), Just(" {a: 1}".to_owned()),
            Just(" ~".to_owned()), Just(" 1.5".to_owned()), Just(" \"s\"".to_owned()), Just(" # c".to_owned()),
        ]), 1..12)) {
        let mut text = String::new();
        for (depth, dash, key, value) in &lines {
            text.push_str(&"  ".repeat(*depth));
            text.push_str(dash);
            text.push_str(key);
            text.push(':');
            text.push_str(value);
            text.push('\n');
        }
        // Whatever the outcome, it must agree with serde-saphyr or bail.
        if let Ok(f) = fast::parse(&text) {
            match parse_documents_saphyr(&text) {
                Ok(s) => prop_assert_eq!(f, s, "{}", text),
                Err(e) => prop_assert!(false, "fast accepted, saphyr rejected {:?}:\n{}", e, text),
            }
        }
    }

    #[test]
    fn arbitrary_text_never_panics(s in "[ a-z:#'\"\\[\\]{},\\-\n]{0,120}") {
        let _ = fast::parse(&s);
    }
}
