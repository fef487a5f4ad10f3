//! Arbitrary bytes never panic the decoder: they decode, or come back as a note.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

use proptest::prelude::*;
use registry::{ViewOptions, decode_object, schema};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_value_decodes_or_explains(bytes in proptest::collection::vec(any::<u8>(), 0..512), magic in 0u8..3) {
        let mut value = match magic {
            0 => b"k8s\0".to_vec(),
            1 => b"{".to_vec(),
            _ => Vec::new(),
        };
        value.extend(bytes);
        let (object, note) = decode_object(&value, 1, ViewOptions::default());
        prop_assert!(object.is_some() || note.is_some());
    }

    #[test]
    fn any_message_body_decodes_or_errors(bytes in proptest::collection::vec(any::<u8>(), 0..512), which in 0usize..1257) {
        let msg = &schema::MESSAGES[which % schema::MESSAGES.len()];
        let _ = registry::decode::message_to_json(&bytes, msg, registry::decode::Options { exact: true });
    }
}
