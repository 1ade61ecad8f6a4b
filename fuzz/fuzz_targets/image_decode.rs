//! `easel::imaging::sniff` and `easel::imaging::decode` on arbitrary bytes.
//!
//! Asserts that neither panics and that what they return is consistent with the module's
//! promises: `decode` refuses exactly what `sniff` refuses; a decoded image is non-empty,
//! within `MAX_DIMENSION` per side, and has the header's size (`probe`), with width and
//! height swapped when an EXIF orientation rotates it. Memory is checked by libFuzzer, not
//! here: run with `-malloc_limit_mb` just above `MAX_ALLOC` (see RELIABILITY.md), so a
//! decoder that allocates past the cap is reported as a failure.
#![no_main]

use easel::imaging::{ImageError, MAX_DIMENSION, decode, probe, sniff};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let sniffed = sniff(bytes);
    let decoded = decode(bytes);
    match (&sniffed, &decoded) {
        (Err(e), _) => {
            assert_eq!(*e, ImageError::UnsupportedFormat);
            assert_eq!(decoded, Err(ImageError::UnsupportedFormat));
        }
        (Ok(format), Ok(image)) => {
            let (w, h) = image.dimensions();
            assert!(w > 0 && h > 0 && w <= MAX_DIMENSION && h <= MAX_DIMENSION, "{w}×{h}");
            let (probed_format, pw, ph) = probe(bytes).expect("a decodable image has a readable header");
            assert_eq!(probed_format, *format);
            assert!((w, h) == (pw, ph) || (w, h) == (ph, pw), "decoded {w}×{h}, header says {pw}×{ph}");
        }
        (Ok(_), Err(e)) => {
            assert_ne!(*e, ImageError::UnsupportedFormat, "sniffed but refused as unsupported")
        }
    }
});
