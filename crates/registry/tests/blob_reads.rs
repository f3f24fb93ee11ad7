//! Blob reads through the registry API over a real database and a filesystem store: ranges,
//! and a blob whose bytes went missing from storage behind the database's back.
//!
//! SQLite in a temporary directory, or a fresh PostgreSQL database when
//! `BERTH_TEST_BACKEND=postgres` (with `BERTH_TEST_POSTGRES_URL` naming the server).

use std::sync::Arc;

use actix_web::http::{header, StatusCode};
use actix_web::{test, web, App};
use berth_registry::auth::AllowAll;
use berth_registry::digest::{Algorithm, Digest};
use berth_registry::events::LogSink;
use berth_registry::meta::Meta;
use berth_registry::storage::FsStore;
use berth_registry::{Registry, RegistryConfig};

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

async fn database(dir: &std::path::Path) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    if std::env::var("BERTH_TEST_BACKEND").is_ok_and(|b| b == "postgres") {
        let admin = std::env::var("BERTH_TEST_POSTGRES_URL")
            .expect("BERTH_TEST_BACKEND=postgres needs BERTH_TEST_POSTGRES_URL");
        let name = format!("berth_test_{}", uuid::Uuid::new_v4().simple());
        let server = sqlx::AnyPool::connect(&admin)
            .await
            .expect("connect to the test PostgreSQL");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&server)
            .await
            .expect("create a test database");
        server.close().await;
        let (base, _) = admin.rsplit_once('/').expect("a URL with a database");
        let pool = sqlx::AnyPool::connect(&format!("{base}/{name}"))
            .await
            .expect("connect to the test database");
        POSTGRES.run(&pool).await.expect("migrate");
        pool
    } else {
        let url = format!("sqlite://{}?mode=rwc", dir.join("berth.db").display());
        let pool = sqlx::AnyPool::connect(&url).await.expect("open SQLite");
        SQLITE.run(&pool).await.expect("migrate");
        pool
    }
}

#[actix_web::test]
async fn ranges_read_back_and_a_blob_missing_from_storage_is_unknown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pool = database(dir.path()).await;
    let store = FsStore::open(dir.path().join("blobs")).expect("open the store");
    let registry = web::Data::new(Registry::new(
        Meta::new(pool),
        Arc::new(store),
        Arc::new(AllowAll),
        Arc::new(LogSink),
        RegistryConfig::default(),
    ));
    let app =
        test::init_service(App::new().configure(berth_registry::configure(registry.clone()))).await;

    let blob: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let digest = Digest::of(Algorithm::Sha256, &blob);
    let push = test::TestRequest::post()
        .uri(&format!("/v2/lib/blobs/uploads/?digest={digest}"))
        .set_payload(blob.clone())
        .to_request();
    let resp = test::call_service(&app, push).await;
    assert_eq!(resp.status(), StatusCode::CREATED);

    let whole = test::TestRequest::get()
        .uri(&format!("/v2/lib/blobs/{digest}"))
        .to_request();
    let resp = test::call_service(&app, whole).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(test::read_body(resp).await == blob[..], "the whole blob");

    // Across the store's 1 MiB read pieces.
    let ranged = test::TestRequest::get()
        .uri(&format!("/v2/lib/blobs/{digest}"))
        .insert_header((header::RANGE, "bytes=1048570-2097160"))
        .to_request();
    let resp = test::call_service(&app, ranged).await;
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        resp.headers()
            .get(header::CONTENT_RANGE)
            .and_then(|v| v.to_str().ok()),
        Some("bytes 1048570-2097160/3000000")
    );
    assert!(
        test::read_body(resp).await == blob[1_048_570..=2_097_160],
        "the range"
    );

    assert_eq!(
        registry
            .small_blob(&digest, 4 << 20)
            .await
            .expect("small_blob")
            .as_deref(),
        Some(&blob[..]),
        "a small blob is read whole"
    );

    // The bytes go; the database still links the blob.
    let hex = digest.hex();
    std::fs::remove_file(
        dir.path()
            .join("blobs/blobs/sha256")
            .join(&hex[..2])
            .join(hex),
    )
    .expect("remove the blob's file");
    let get = test::TestRequest::get()
        .uri(&format!("/v2/lib/blobs/{digest}"))
        .to_request();
    let resp = test::call_service(&app, get).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value =
        serde_json::from_slice(&test::read_body(resp).await).expect("a JSON error");
    assert_eq!(body["errors"][0]["code"], "BLOB_UNKNOWN");
    assert_eq!(
        body["errors"][0]["detail"],
        format!("blob {digest} is unknown")
    );
    assert_eq!(
        registry
            .small_blob(&digest, 4 << 20)
            .await
            .expect("small_blob"),
        None,
        "a blob missing from storage is no small blob"
    );
}
