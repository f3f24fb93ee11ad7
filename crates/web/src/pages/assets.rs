//! The stylesheet, scripts and icon, embedded in the binary. Their URLs carry a hash of their
//! content, so they can be cached for a year and still change with every release.

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{web, HttpResponse};

const CSS: &str = include_str!("../../../../static/berth.css");
const JS: &str = include_str!("../../../../static/berth.js");
/// A build's live log: only its page loads it.
const BUILDS_JS: &str = include_str!("../../../../static/builds.js");
const ICON: &str = include_str!("../../../../static/berth.svg");

/// FNV-1a: short, stable, and enough to tell one release's file from the next.
fn fingerprint(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:012x}", h >> 16)
}

static CSS_URL: LazyLock<String> =
    LazyLock::new(|| format!("/static/berth.css?v={}", fingerprint(CSS.as_bytes())));
static JS_URL: LazyLock<String> =
    LazyLock::new(|| format!("/static/berth.js?v={}", fingerprint(JS.as_bytes())));
static BUILDS_JS_URL: LazyLock<String> =
    LazyLock::new(|| format!("/static/builds.js?v={}", fingerprint(BUILDS_JS.as_bytes())));
static ICON_URL: LazyLock<String> =
    LazyLock::new(|| format!("/static/berth.svg?v={}", fingerprint(ICON.as_bytes())));

pub fn css_url() -> &'static str {
    &CSS_URL
}

pub fn js_url() -> &'static str {
    &JS_URL
}

pub fn builds_js_url() -> &'static str {
    &BUILDS_JS_URL
}

pub fn icon_url() -> &'static str {
    &ICON_URL
}

pub async fn serve(file: web::Path<String>) -> HttpResponse {
    let (body, kind) = match file.as_str() {
        "berth.css" => (CSS, "text/css; charset=utf-8"),
        "berth.js" => (JS, "text/javascript; charset=utf-8"),
        "builds.js" => (BUILDS_JS, "text/javascript; charset=utf-8"),
        "berth.svg" => (ICON, "image/svg+xml"),
        _ => return HttpResponse::NotFound().finish(),
    };
    HttpResponse::Ok()
        .content_type(kind)
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body)
}
