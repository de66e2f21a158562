//! The grid parser: any bytes give a grid or a positioned error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = std::path::Path::new("/nonexistent/fuzz.toml");
    if let Err(e) = ragtune_grid::Grid::parse(path, text.to_string()) {
        let message = e.to_string();
        assert!(message.starts_with("/nonexistent/"), "{message}");
    }
});
