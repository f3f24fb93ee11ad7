//! Parsing and validating manifests: Docker schema 2 manifests and manifest lists, OCI image
//! manifests and indexes (with `artifactType` and `subject`), and OCI artifact manifests.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::digest::Digest;
use crate::error::{Code, Error, Result};

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_ARTIFACT: &str = "application/vnd.oci.artifact.manifest.v1+json";

/// Layers whose bytes are not to be distributed by registries (Windows base layers, say): a
/// client downloads them from the descriptor's `urls`, so they are never pushed here.
const NON_DISTRIBUTABLE_LAYERS: [&str; 5] = [
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.foreign.diff.tar",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
];

/// Whether a layer lives outside the registry: a non-distributable media type with somewhere to
/// fetch it from. Without `urls` the registry is the only source, so such a layer must have
/// been pushed like any other.
fn is_external(layer: &RawDescriptor) -> bool {
    layer
        .media_type
        .as_deref()
        .is_some_and(|t| NON_DISTRIBUTABLE_LAYERS.contains(&t))
        && layer.urls.as_ref().is_some_and(|u| !u.is_empty())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDescriptor {
    media_type: Option<String>,
    digest: String,
    size: i64,
    urls: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    schema_version: Option<i64>,
    media_type: Option<String>,
    artifact_type: Option<String>,
    config: Option<RawDescriptor>,
    layers: Option<Vec<RawDescriptor>>,
    manifests: Option<Vec<RawDescriptor>>,
    blobs: Option<Vec<RawDescriptor>>,
    subject: Option<RawDescriptor>,
    annotations: Option<BTreeMap<String, String>>,
}

/// What the registry needs to know about a manifest to store and serve it.
#[derive(Debug)]
pub struct Parsed {
    pub media_type: String,
    /// The artifact type reported by the referrers API: `artifactType`, or for an image
    /// manifest without one, its config's media type.
    pub artifact_type: Option<String>,
    pub subject: Option<Digest>,
    /// The manifest's annotations as JSON, for the referrers API.
    pub annotations: Option<String>,
    /// An image manifest's config blob.
    pub config: Option<Digest>,
    /// An image manifest's layers, or an artifact manifest's blobs, other than the config and
    /// external layers (which clients fetch from their `urls`, so the registry never holds).
    pub layers: Vec<Digest>,
    /// An index's child manifests.
    pub children: Vec<Digest>,
}

fn invalid(detail: impl Into<String>) -> Error {
    Error::new(Code::ManifestInvalid, detail)
}

fn descriptor_digest(d: &RawDescriptor) -> Result<Digest> {
    if d.size < 0 {
        return Err(invalid("descriptor size must not be negative"));
    }
    d.digest
        .parse()
        .map_err(|_| invalid(format!("invalid descriptor digest {:?}", d.digest)))
}

/// Is this a media type by RFC 6838's grammar (`type/subtype`, each a restricted name of at
/// most 127 characters), as the image spec requires of descriptors and `artifactType`? What is
/// stored and served back by the referrers API stays short and printable.
pub(crate) fn is_media_type(t: &str) -> bool {
    let name = |n: &str| {
        let b = n.as_bytes();
        !b.is_empty()
            && b.len() <= 127
            && b[0].is_ascii_alphanumeric()
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(c))
    };
    matches!(t.split_once('/'), Some((a, b)) if name(a) && name(b))
}

/// The media type a `Content-Type` header names, without parameters.
fn bare(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or("").trim()
}

/// Parses and validates a manifest body sent with the given `Content-Type`.
pub fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Parsed> {
    let raw: RawManifest = serde_json::from_slice(body)
        .map_err(|e| invalid(format!("manifest is not valid JSON: {e}")))?;
    let header = content_type.map(bare).filter(|t| !t.is_empty());
    let media_type = match (raw.media_type.as_deref(), header) {
        (Some(body_type), Some(h)) if body_type != h => {
            return Err(invalid(format!(
                "mediaType {body_type:?} does not match Content-Type {h:?}"
            )))
        }
        (Some(t), _) => t.to_owned(),
        (None, Some(h)) => h.to_owned(),
        // Neither says: infer from the shape, as OCI allows mediaType to be absent.
        (None, None) if raw.manifests.is_some() => OCI_INDEX.to_owned(),
        (None, None) => OCI_MANIFEST.to_owned(),
    };

    let mut config_digest = None;
    let mut blobs = Vec::new();
    let mut children = Vec::new();
    let mut artifact_type = raw.artifact_type.clone();
    match media_type.as_str() {
        DOCKER_MANIFEST | OCI_MANIFEST => {
            if raw.schema_version != Some(2) {
                return Err(invalid("schemaVersion must be 2"));
            }
            if raw.manifests.is_some() {
                return Err(invalid("an image manifest has no `manifests`"));
            }
            let config = raw
                .config
                .as_ref()
                .ok_or_else(|| invalid("image manifest without config"))?;
            config_digest = Some(descriptor_digest(config)?);
            if artifact_type.is_none() {
                artifact_type = config.media_type.clone();
            }
            let layers = raw
                .layers
                .as_ref()
                .ok_or_else(|| invalid("image manifest without layers"))?;
            for layer in layers {
                let digest = descriptor_digest(layer)?;
                if !is_external(layer) {
                    blobs.push(digest);
                }
            }
        }
        DOCKER_LIST | OCI_INDEX => {
            if raw.schema_version != Some(2) {
                return Err(invalid("schemaVersion must be 2"));
            }
            if raw.config.is_some() || raw.layers.is_some() {
                return Err(invalid("an index has no config or layers"));
            }
            let manifests = raw
                .manifests
                .as_ref()
                .ok_or_else(|| invalid("index without manifests"))?;
            for m in manifests {
                children.push(descriptor_digest(m)?);
            }
        }
        OCI_ARTIFACT => {
            if artifact_type.is_none() {
                return Err(invalid("artifact manifest without artifactType"));
            }
            for b in raw.blobs.as_deref().unwrap_or_default() {
                blobs.push(descriptor_digest(b)?);
            }
        }
        other => {
            return Err(invalid(format!(
                "unsupported manifest media type {other:?}"
            )));
        }
    }
    if let Some(t) = artifact_type.as_deref().filter(|t| !is_media_type(t)) {
        return Err(invalid(format!(
            "artifact type {:?} is not a media type",
            t.chars().take(64).collect::<String>()
        )));
    }
    let subject = raw.subject.as_ref().map(descriptor_digest).transpose()?;
    let annotations = match &raw.annotations {
        Some(a) if !a.is_empty() => {
            Some(serde_json::to_string(a).map_err(|e| invalid(e.to_string()))?)
        }
        _ => None,
    };
    blobs.sort_by_key(|d| d.to_string());
    blobs.dedup();
    // A layer that is also the config (an empty JSON object, say) is the config.
    blobs.retain(|d| Some(d) != config_digest.as_ref());
    children.sort_by_key(|d| d.to_string());
    children.dedup();
    Ok(Parsed {
        media_type,
        artifact_type,
        subject,
        annotations,
        config: config_digest,
        layers: blobs,
        children,
    })
}

/// Does an `Accept` header list allow a stored manifest of `media_type` to be served?
/// No header, or `*/*`, accepts everything; Docker schema 2 manifests are always served since
/// every client that speaks schema 2 understands them.
pub fn accepted(accept: &[&str], media_type: &str) -> bool {
    if accept.is_empty() || media_type == DOCKER_MANIFEST {
        return true;
    }
    accept
        .iter()
        .flat_map(|h| h.split(','))
        .map(bare)
        .any(|t| t == media_type || t == "*/*" || t == "application/*")
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
    const LAYER: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn image(extra: &str) -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}",
                "config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{CONFIG}","size":2}},
                "layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{LAYER}","size":0}}]{extra}}}"#
        )
    }

    #[test]
    fn image_manifest_references() {
        let p = parse(Some(OCI_MANIFEST), image("").as_bytes()).expect("valid");
        assert_eq!(p.media_type, OCI_MANIFEST);
        assert_eq!(p.config.map(|d| d.to_string()).as_deref(), Some(CONFIG));
        assert_eq!(p.layers.len(), 1);
        assert_eq!(
            p.artifact_type.as_deref(),
            Some("application/vnd.oci.image.config.v1+json")
        );
        let with_subject = image(&format!(
            r#","artifactType":"application/x-sig","subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{LAYER}","size":1}},"annotations":{{"a":"b"}}"#
        ));
        let p = parse(None, with_subject.as_bytes()).expect("valid");
        assert_eq!(p.artifact_type.as_deref(), Some("application/x-sig"));
        assert_eq!(p.subject.map(|d| d.to_string()).as_deref(), Some(LAYER));
        assert_eq!(p.annotations.as_deref(), Some(r#"{"a":"b"}"#));
    }

    #[test]
    fn non_distributable_layers_with_urls_are_not_references() {
        for media_type in NON_DISTRIBUTABLE_LAYERS {
            let layer = |urls: &str| {
                format!(
                    r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}",
                        "config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{CONFIG}","size":2}},
                        "layers":[{{"mediaType":"{media_type}","digest":"{LAYER}","size":9{urls}}}]}}"#
                )
            };
            let external = parse(
                None,
                layer(r#","urls":["https://example.com/l"]"#).as_bytes(),
            )
            .expect("valid");
            assert!(external.layers.is_empty(), "{media_type}");
            // Nowhere else to fetch it from: the registry must hold it.
            for urls in ["", r#","urls":[]"#] {
                let pushed = parse(None, layer(urls).as_bytes()).expect("valid");
                assert_eq!(pushed.layers.len(), 1, "{media_type} {urls}");
            }
        }
    }

    #[test]
    fn rejects_bad_manifests() {
        for (ct, body) in [
            (Some(OCI_MANIFEST), "not json".to_owned()),
            (Some(OCI_INDEX), image("")),
            (Some("text/plain"), r#"{"schemaVersion":2}"#.to_owned()),
            (Some(OCI_MANIFEST), r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}"#.to_owned()),
            (Some(OCI_MANIFEST), image("").replace(CONFIG, "sha256:nothex")),
            (Some(OCI_INDEX), r#"{"schemaVersion":1,"manifests":[]}"#.to_owned()),
            (None, image(r#","artifactType":"a/b\u0000""#)),
            (None, image(r#","artifactType":"no-slash""#)),
            (None, image(&format!(r#","artifactType":"a/{}""#, "b".repeat(128)))),
            (None, image("").replace("application/vnd.oci.image.config.v1+json", "x y/z")),
        ] {
            assert!(parse(ct, body.as_bytes()).is_err(), "{ct:?} {body} should fail");
        }
    }

    #[test]
    fn accept_negotiation() {
        assert!(accepted(&[], OCI_INDEX));
        assert!(accepted(&["application/json, */*"], OCI_INDEX));
        assert!(accepted(&[OCI_MANIFEST, OCI_INDEX], OCI_INDEX));
        assert!(!accepted(&[DOCKER_MANIFEST], OCI_INDEX));
        assert!(accepted(&[OCI_INDEX], DOCKER_MANIFEST));
    }
}
