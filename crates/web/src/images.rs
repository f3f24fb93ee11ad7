//! What a tag is, for people: its compressed size, platforms, layers and configuration, read
//! from the stored manifest (and, for an image, its config blob). Lenient by design: the
//! registry accepted the manifest, so whatever it lacks is shown as absent, never as an error.

use berth_registry::digest::Digest;
use berth_registry::meta::TagDetail;
use berth_registry::Registry;
use berth_trust::signatures::{self, Signature, TrustedKey};
use berth_trust::tuf::SignedTag;
use berth_trust::Trust;
use serde::Serialize;
use serde_json::Value;

/// Largest config blob read to describe an image.
const MAX_CONFIG: u64 = 4 << 20;

#[derive(Debug, Clone, Serialize)]
pub struct Layer {
    pub digest: String,
    pub media_type: String,
    pub size: i64,
}

/// One platform of a multi-platform index.
#[derive(Debug, Clone, Serialize)]
pub struct PlatformImage {
    pub platform: String,
    pub digest: String,
    /// Compressed size of that image (config and layers), when its manifest is here.
    pub size: Option<i64>,
}

/// A tag as the tags list shows it.
#[derive(Debug, Clone, Serialize)]
pub struct TagSummary {
    pub name: String,
    pub digest: String,
    pub media_type: String,
    /// Compressed size: config plus layers (for an index, the sum over its platforms).
    pub size: i64,
    pub platforms: Vec<String>,
    /// For an index, each platform's own size (config plus layers) whose manifest is here, in
    /// the index's order; empty for a single image.
    pub platform_sizes: Vec<i64>,
    pub pushed_at: i64,
    pub pushed_by: Option<String>,
    /// When it was last pulled, by name or digest.
    pub last_pulled_at: Option<i64>,
    /// Signatures stored for the manifest, each checked against the namespace's keys.
    pub signatures: Vec<Signature>,
    /// Whether one of them verifies.
    pub signed: bool,
}

/// An image's configuration, as `docker inspect` would show the interesting parts.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ImageConfig {
    pub os: String,
    pub architecture: String,
    pub created: Option<String>,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub exposed_ports: Vec<String>,
    pub labels: Vec<(String, String)>,
    pub working_dir: String,
    pub user: String,
    pub history: Vec<HistoryStep>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HistoryStep {
    pub created: Option<String>,
    pub created_by: String,
    pub empty_layer: bool,
}

/// Everything the tag page shows.
#[derive(Debug, Clone, Serialize)]
pub struct TagView {
    pub summary: TagSummary,
    pub layers: Vec<Layer>,
    pub config_digest: Option<String>,
    pub config: Option<ImageConfig>,
    pub images: Vec<PlatformImage>,
    /// The manifest as stored, pretty-printed.
    pub manifest: String,
}

fn parse(content: &[u8]) -> Value {
    serde_json::from_slice(content).unwrap_or(Value::Null)
}

fn is_index(doc: &Value) -> bool {
    doc.get("manifests").is_some_and(Value::is_array)
}

fn layers(doc: &Value) -> Vec<Layer> {
    doc.get("layers")
        .and_then(Value::as_array)
        .map(|ls| {
            ls.iter()
                .map(|l| Layer {
                    digest: str_of(l, "digest"),
                    media_type: str_of(l, "mediaType"),
                    size: l.get("size").and_then(Value::as_i64).unwrap_or(0),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn str_of(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_owned()
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Config plus layers of an image manifest.
fn image_size(doc: &Value) -> i64 {
    let config = doc
        .get("config")
        .and_then(|c| c.get("size"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    config + layers(doc).iter().map(|l| l.size).sum::<i64>()
}

fn platform_name(p: &Value) -> String {
    let mut s = format!("{}/{}", str_of(p, "os"), str_of(p, "architecture"));
    let variant = str_of(p, "variant");
    if !variant.is_empty() {
        s.push('/');
        s.push_str(&variant);
    }
    s
}

/// The platforms an index lists, skipping attestation manifests (`unknown/unknown`).
fn index_entries(doc: &Value) -> Vec<(String, String)> {
    doc.get("manifests")
        .and_then(Value::as_array)
        .map(|ms| {
            ms.iter()
                .filter_map(|m| {
                    let platform = m.get("platform").map(platform_name)?;
                    (platform != "unknown/unknown").then(|| (platform, str_of(m, "digest")))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn config_digest(doc: &Value) -> Option<Digest> {
    doc.get("config")
        .and_then(|c| c.get("digest"))
        .and_then(Value::as_str)
        .and_then(|d| d.parse().ok())
}

async fn config_json(registry: &Registry, doc: &Value) -> Option<Value> {
    let digest = config_digest(doc)?;
    match registry.image_config(&digest, MAX_CONFIG).await {
        Ok(Some(bytes)) => serde_json::from_slice(&bytes).ok(),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(error = %e, "reading an image config");
            None
        }
    }
}

/// The signatures stored for tags' manifests (cosign artifacts and referrers), each checked
/// against `keys`: one database query for all of them.
async fn stored_signatures(
    registry: &Registry,
    repository: &str,
    tags: &[&TagDetail],
    keys: &[TrustedKey],
) -> berth_registry::Result<Vec<Vec<Signature>>> {
    // A digest that does not parse has no stored signatures (and is never stored).
    let digests: Vec<Option<Digest>> = tags.iter().map(|t| t.digest.parse().ok()).collect();
    let parsed: Vec<Digest> = digests.iter().flatten().cloned().collect();
    let mut found = signatures::signatures_of_each(registry, repository, &parsed, keys)
        .await?
        .into_iter();
    Ok(digests
        .iter()
        .map(|d| match d {
            Some(_) => found.next().unwrap_or_default(),
            None => Vec::new(),
        })
        .collect())
}

/// Each tag's stored signatures with its entries in the repository's Docker Content Trust
/// collections, and whether one of them verifies.
fn with_trust(
    tags: &[&TagDetail],
    stored: Vec<Vec<Signature>>,
    trust: &[SignedTag],
) -> Vec<(Vec<Signature>, bool)> {
    tags.iter()
        .zip(stored)
        .map(|(tag, mut found)| {
            found.extend(
                trust
                    .iter()
                    .filter(|t| t.tag == tag.name)
                    .map(|t| t.signature_of(&tag.digest)),
            );
            let signed = found.iter().any(|s| s.verified);
            (found, signed)
        })
        .collect()
}

/// The platform a config names, if it names one.
fn known_platform(config: &Value) -> Option<String> {
    Some(platform_name(config)).filter(|p| p != "/")
}

/// The platform of a single image, from its (small) config blob.
async fn platform_of(registry: &Registry, doc: &Value) -> Option<String> {
    config_json(registry, doc)
        .await
        .as_ref()
        .and_then(known_platform)
}

/// Summaries of a page of tags: children of indexes are loaded in one query, signatures in
/// another, and single images' platforms are read from their config blobs (kept in memory).
pub async fn summarize(
    registry: &Registry,
    trust: &Trust,
    repository: &str,
    tags: &[TagDetail],
    keys: &[TrustedKey],
) -> berth_registry::Result<Vec<TagSummary>> {
    let docs: Vec<Value> = tags.iter().map(|t| parse(&t.content)).collect();
    let children: Vec<String> = docs
        .iter()
        .filter(|d| is_index(d))
        .flat_map(index_entries)
        .map(|(_, d)| d)
        .collect();
    // Three independent reads, made at once.
    let all: Vec<&TagDetail> = tags.iter().collect();
    let (child_rows, signed_tags, stored) = futures_util::future::try_join3(
        registry.meta().manifests_by_digest(repository, &children),
        trust.signed_tags(registry, repository),
        stored_signatures(registry, repository, &all, keys),
    )
    .await?;
    let child_size = |digest: &str| {
        child_rows
            .iter()
            .find(|r| r.digest == digest)
            .map(|r| image_size(&parse(&r.content)))
    };
    let signatures = with_trust(&all, stored, &signed_tags);
    let mut out = Vec::with_capacity(tags.len());
    for ((tag, doc), (signatures, signed)) in tags.iter().zip(&docs).zip(signatures) {
        let (size, platforms, platform_sizes) = if is_index(doc) {
            let entries = index_entries(doc);
            let sizes: Vec<i64> = entries.iter().filter_map(|(_, d)| child_size(d)).collect();
            let size = sizes.iter().sum();
            (size, entries.into_iter().map(|(p, _)| p).collect(), sizes)
        } else {
            let platform = platform_of(registry, doc).await;
            (image_size(doc), platform.into_iter().collect(), Vec::new())
        };
        out.push(TagSummary {
            name: tag.name.clone(),
            digest: tag.digest.clone(),
            media_type: tag.media_type.clone(),
            size,
            platforms,
            platform_sizes,
            pushed_at: tag.updated_at,
            pushed_by: tag.pushed_by.clone(),
            last_pulled_at: tag.last_pulled_at,
            signatures,
            signed,
        });
    }
    Ok(out)
}

fn image_config(config: &Value) -> ImageConfig {
    let c = config.get("config").unwrap_or(&Value::Null);
    let mut exposed_ports: Vec<String> = c
        .get("ExposedPorts")
        .and_then(Value::as_object)
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    exposed_ports.sort();
    let mut labels: Vec<(String, String)> = c
        .get("Labels")
        .and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                .collect()
        })
        .unwrap_or_default();
    labels.sort();
    let history = config
        .get("history")
        .and_then(Value::as_array)
        .map(|h| {
            h.iter()
                .map(|s| HistoryStep {
                    created: s.get("created").and_then(Value::as_str).map(str::to_owned),
                    created_by: str_of(s, "created_by"),
                    empty_layer: s
                        .get("empty_layer")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                })
                .collect()
        })
        .unwrap_or_default();
    ImageConfig {
        os: str_of(config, "os"),
        architecture: str_of(config, "architecture"),
        created: config
            .get("created")
            .and_then(Value::as_str)
            .map(str::to_owned),
        entrypoint: strings(c.get("Entrypoint")),
        cmd: strings(c.get("Cmd")),
        env: strings(c.get("Env")),
        exposed_ports,
        labels,
        working_dir: str_of(c, "WorkingDir"),
        user: str_of(c, "User"),
        history,
    }
}

/// Everything about one tag.
pub async fn view(
    registry: &Registry,
    trust: &Trust,
    repository: &str,
    tag: &TagDetail,
    keys: &[TrustedKey],
) -> berth_registry::Result<TagView> {
    let doc = parse(&tag.content);
    let manifest = serde_json::to_string_pretty(&doc)
        .unwrap_or_else(|_| String::from_utf8_lossy(&tag.content).into_owned());
    // The summary comes from the same reads as the details: children or config, once.
    let (size, platforms, platform_sizes, layers, config_digest, config, images) = if is_index(&doc)
    {
        let entries = index_entries(&doc);
        let digests: Vec<String> = entries.iter().map(|(_, d)| d.clone()).collect();
        let rows = registry
            .meta()
            .manifests_by_digest(repository, &digests)
            .await?;
        let images: Vec<PlatformImage> = entries
            .into_iter()
            .map(|(platform, digest)| PlatformImage {
                size: rows
                    .iter()
                    .find(|r| r.digest == digest)
                    .map(|r| image_size(&parse(&r.content))),
                platform,
                digest,
            })
            .collect();
        let size = images.iter().filter_map(|i| i.size).sum();
        let platforms = images.iter().map(|i| i.platform.clone()).collect();
        let sizes = images.iter().filter_map(|i| i.size).collect();
        (size, platforms, sizes, Vec::new(), None, None, images)
    } else {
        let config_doc = config_json(registry, &doc).await;
        let platforms = config_doc
            .as_ref()
            .and_then(known_platform)
            .into_iter()
            .collect();
        (
            image_size(&doc),
            platforms,
            Vec::new(),
            layers(&doc),
            config_digest(&doc).map(|d| d.to_string()),
            config_doc.as_ref().map(image_config),
            Vec::new(),
        )
    };
    let signed_tags = trust.signed_tags(registry, repository).await?;
    let stored = stored_signatures(registry, repository, &[tag], keys).await?;
    let (signatures, signed) = with_trust(&[tag], stored, &signed_tags)
        .pop()
        .unwrap_or_default();
    Ok(TagView {
        summary: TagSummary {
            name: tag.name.clone(),
            digest: tag.digest.clone(),
            media_type: tag.media_type.clone(),
            size,
            platforms,
            platform_sizes,
            pushed_at: tag.updated_at,
            pushed_by: tag.pushed_by.clone(),
            last_pulled_at: tag.last_pulled_at,
            signatures,
            signed,
        },
        layers,
        config_digest,
        config,
        images,
        manifest,
    })
}

/// One platform's image of an index, for its own page.
#[derive(Debug, Clone, Serialize)]
pub struct PlatformView {
    pub platform: String,
    pub digest: String,
    pub media_type: String,
    /// Config plus layers, compressed.
    pub size: i64,
    pub layers: Vec<Layer>,
    pub config: Option<ImageConfig>,
    /// Its manifest as stored, pretty-printed.
    pub manifest: String,
}

/// The image an index (`index`, a tag's manifest) lists for the platform at `digest`; `None`
/// when the index does not list it (an attestation is no platform) or it is not here.
pub async fn platform(
    registry: &Registry,
    repository: &str,
    index: &[u8],
    digest: &str,
) -> berth_registry::Result<Option<PlatformView>> {
    let doc = parse(index);
    let Some((platform, digest)) = index_entries(&doc).into_iter().find(|(_, d)| d == digest)
    else {
        return Ok(None);
    };
    let rows = registry
        .meta()
        .manifests_by_digest(repository, std::slice::from_ref(&digest))
        .await?;
    let Some(row) = rows.into_iter().find(|r| r.digest == digest) else {
        return Ok(None);
    };
    let image = parse(&row.content);
    let manifest = serde_json::to_string_pretty(&image)
        .unwrap_or_else(|_| String::from_utf8_lossy(&row.content).into_owned());
    let config = config_json(registry, &image).await;
    Ok(Some(PlatformView {
        platform,
        digest,
        media_type: row.media_type,
        size: image_size(&image),
        layers: layers(&image),
        config: config.as_ref().map(image_config),
        manifest,
    }))
}

/// A line of an image's build history beside the layer it made.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// The history entry (`None`: a layer the history does not account for).
    pub history: Option<HistoryStep>,
    /// Its layer (`None`: an entry that made no layer, `empty_layer: true`, or one whose
    /// layer the manifest lacks).
    pub layer: Option<Layer>,
}

/// Pairs the history with the layers as the image config defines them: each entry without
/// `empty_layer: true` made the next layer, in order. Layers left over (a history that is
/// short or absent) are listed on their own.
pub fn steps(layers: &[Layer], history: &[HistoryStep]) -> Vec<Step> {
    let mut layers = layers.iter();
    let mut out: Vec<Step> = history
        .iter()
        .map(|h| Step {
            layer: if h.empty_layer {
                None
            } else {
                layers.next().cloned()
            },
            history: Some(h.clone()),
        })
        .collect();
    out.extend(layers.map(|l| Step {
        history: None,
        layer: Some(l.clone()),
    }));
    out
}

/// `1.2 MB`-style sizes (decimal units, as registries show them).
pub fn human_size(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes.max(0) as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_docker_hub() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1_500), "1.5 kB");
        assert_eq!(human_size(28_400_000), "28.4 MB");
    }

    #[test]
    fn an_index_lists_its_platforms_but_not_attestations() {
        let doc = serde_json::json!({"manifests": [
            {"digest": "sha256:a", "platform": {"os": "linux", "architecture": "amd64"}},
            {"digest": "sha256:b", "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
            {"digest": "sha256:c", "platform": {"os": "unknown", "architecture": "unknown"}}
        ]});
        let names: Vec<String> = index_entries(&doc).into_iter().map(|(p, _)| p).collect();
        assert_eq!(names, ["linux/amd64", "linux/arm64/v8"]);
    }

    #[test]
    fn history_lines_sit_beside_the_layers_they_made() {
        let layer = |d: &str| Layer {
            digest: d.to_owned(),
            media_type: String::new(),
            size: 1,
        };
        let step = |by: &str, empty: bool| HistoryStep {
            created: None,
            created_by: by.to_owned(),
            empty_layer: empty,
        };
        let s = steps(
            &[layer("a"), layer("b"), layer("c")],
            &[
                step("ADD x", false),
                step("ENV y", true),
                step("RUN z", false),
            ],
        );
        let pairs: Vec<(Option<&str>, Option<&str>)> = s
            .iter()
            .map(|s| {
                (
                    s.history.as_ref().map(|h| h.created_by.as_str()),
                    s.layer.as_ref().map(|l| l.digest.as_str()),
                )
            })
            .collect();
        assert_eq!(
            pairs,
            [
                (Some("ADD x"), Some("a")),
                (Some("ENV y"), None),
                (Some("RUN z"), Some("b")),
                (None, Some("c")),
            ]
        );
    }

    #[test]
    fn an_image_config_is_read_leniently() {
        let cfg = serde_json::json!({
            "os": "linux", "architecture": "amd64",
            "config": {"Entrypoint": ["/app"], "Cmd": null, "Env": ["A=1"],
                       "ExposedPorts": {"8080/tcp": {}}, "Labels": {"b": "2", "a": "1"}},
            "history": [{"created_by": "COPY app /app"}, {"created_by": "CMD", "empty_layer": true}]
        });
        let c = image_config(&cfg);
        assert_eq!(c.entrypoint, ["/app"]);
        assert!(c.cmd.is_empty());
        assert_eq!(c.exposed_ports, ["8080/tcp"]);
        assert_eq!(c.labels[0], ("a".to_owned(), "1".to_owned()));
        assert_eq!(c.history.len(), 2);
        assert!(c.history[1].empty_layer);
    }
}
