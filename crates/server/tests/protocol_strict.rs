//! The corners of the distribution protocol where a registry is easily almost right:
//! unsatisfiable ranges, cross-repository mounts decided by who may pull the source, external
//! (non-distributable) layers, tags pushed with a manifest, and sparse manifests for mirrors.

mod common;

use common::*;
use reqwest::{Method, StatusCode};

#[tokio::test]
async fn unsatisfiable_ranges_answer_416_and_valid_ones_206() {
    let app = TestApp::start().await;
    let blob: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    let digest = app.push_blob("ranges", &blob).await;
    let path = format!("/v2/ranges/blobs/{digest}");
    for method in [Method::GET, Method::HEAD] {
        for spec in [
            "bytes=500-0",
            "bytes=1-0",
            "bytes=1000-",
            "bytes=5000-6000",
            "bytes=99999999999999999999-",
            "bytes=-0",
        ] {
            let r = app
                .request(method.clone(), &path)
                .header("Range", spec)
                .send()
                .await
                .expect("range");
            assert_eq!(
                r.status(),
                StatusCode::RANGE_NOT_SATISFIABLE,
                "{method} {spec}"
            );
            assert_eq!(
                header(&r, "content-range"),
                "bytes */1000",
                "{method} {spec}"
            );
        }
    }
    for (spec, first, last) in [
        ("bytes=0-0", 0, 0),
        ("bytes=999-999", 999, 999),
        ("bytes=500-", 500, 999),
        ("bytes=990-5000", 990, 999),
        ("bytes=-10", 990, 999),
    ] {
        let r = app
            .request(Method::GET, &path)
            .header("Range", spec)
            .send()
            .await
            .expect("range");
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT, "{spec}");
        assert_eq!(
            header(&r, "content-range"),
            format!("bytes {first}-{last}/1000"),
            "{spec}"
        );
        assert_eq!(
            r.bytes().await.expect("body").as_ref(),
            &blob[first..=last],
            "{spec}"
        );
    }
}
