//! The `Content-Range` header of a chunked blob upload (`PATCH /v2/<name>/blobs/uploads/<id>`).

#![no_main]

use berth_registry::parse_content_range;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok((start, end)) = parse_content_range(s) {
        assert!(start <= end, "{s:?} parsed as {start}-{end}");
        for canonical in [format!("{start}-{end}"), format!("bytes {start}-{end}/*")] {
            assert_eq!(
                parse_content_range(&canonical).ok(),
                Some((start, end)),
                "{canonical:?} does not round-trip"
            );
        }
    }
});
