//! `ButtonAction::parse`, the decoder of button custom_ids, on arbitrary UTF-8.
//!
//! Asserts that it never panics and that the codec accepts canonical form only: anything
//! that parses re-encodes (`Display`) to exactly the string it came from, and so fits
//! Discord's 100-character limit.
#![no_main]

use easel::discord::custom_id::ButtonAction;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|custom_id: &str| {
    if let Ok(action) = ButtonAction::parse(custom_id) {
        let encoded = action.to_string();
        assert_eq!(encoded, custom_id, "{action:?} re-encodes differently");
        assert!(encoded.len() <= 100, "{encoded}");
    }
});
