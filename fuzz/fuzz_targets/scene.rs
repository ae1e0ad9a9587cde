//! `cargo +nightly fuzz run scene` (from the repository root): arbitrary bytes into the scene
//! loader. It must never panic, and every rejection must name a key or a line.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use zoomgen::Scene;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Err(e) = Scene::from_toml_str(&text, Path::new("fuzz.toml")) {
        assert!(
            e.line.is_some() || e.message.contains("key") || e.message.contains('.'),
            "no key or line in: {e}"
        );
    }
});
