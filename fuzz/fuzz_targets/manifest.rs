//! Manifest parsing as a manifest `PUT` does it. The input's first line is the `Content-Type`
//! header (none if the input has no newline or the line is empty); the rest is the body.

#![no_main]

use berth_registry::digest::Digest;
use berth_registry::manifest::{
    self, DOCKER_LIST, DOCKER_MANIFEST, OCI_ARTIFACT, OCI_INDEX, OCI_MANIFEST,
};
use libfuzzer_sys::fuzz_target;

fn round_trips(d: &Digest) {
    let shown = d.to_string();
    let again: Digest = shown
        .parse()
        .expect("a parsed digest parses again from its Display");
    assert_eq!(&again, d);
}

/// Strictly increasing by text: sorted and without duplicates.
fn sorted_unique(digests: &[Digest]) {
    for pair in digests.windows(2) {
        assert!(pair[0].to_string() < pair[1].to_string(), "{digests:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let (content_type, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (std::str::from_utf8(&data[..i]).ok(), &data[i + 1..]),
        None => (None, data),
    };
    let content_type = content_type.filter(|t| !t.is_empty());
    let Ok(parsed) = manifest::parse(content_type, body) else {
        return;
    };
    let kind = parsed.media_type.as_str();
    assert!(
        [
            DOCKER_MANIFEST,
            DOCKER_LIST,
            OCI_MANIFEST,
            OCI_INDEX,
            OCI_ARTIFACT
        ]
        .contains(&kind),
        "accepted an unsupported media type {kind:?}"
    );
    if let Some(header) = content_type {
        let bare = header.split(';').next().unwrap_or("").trim();
        if !bare.is_empty() {
            assert_eq!(
                bare, kind,
                "the stored media type differs from Content-Type"
            );
        }
    }
    match kind {
        DOCKER_LIST | OCI_INDEX => assert!(parsed.config.is_none() && parsed.layers.is_empty()),
        _ => assert!(parsed.children.is_empty()),
    }
    assert_eq!(
        parsed.config.is_some(),
        matches!(kind, DOCKER_MANIFEST | OCI_MANIFEST),
        "an image manifest, and only one, has a config"
    );
    assert!(
        !parsed.layers.iter().any(|l| Some(l) == parsed.config.as_ref()),
        "the config is not listed again as a layer"
    );
    if kind == OCI_ARTIFACT {
        assert!(parsed.artifact_type.is_some());
    }
    if let Some(t) = &parsed.artifact_type {
        assert!(t.contains('/') && t.len() <= 255 && t.is_ascii(), "{t:?}");
    }
    sorted_unique(&parsed.layers);
    sorted_unique(&parsed.children);
    parsed
        .layers
        .iter()
        .chain(&parsed.config)
        .chain(&parsed.children)
        .chain(&parsed.subject)
        .for_each(round_trips);
    if let Some(a) = &parsed.annotations {
        let value: std::collections::BTreeMap<String, String> =
            serde_json::from_str(a).expect("annotations are stored as a JSON object of strings");
        assert!(!value.is_empty());
    }
});
