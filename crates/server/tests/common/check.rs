//! The consistency checker run after every fault: what is on disk and what the database says
//! must agree, on both backends.
//!
//! - every blob file under `<storage>/blobs/<algorithm>/<xx>/<hex>` hashes to its name, and sits
//!   in the directory named by its first two hex digits;
//! - every `blobs` row has its file, of the recorded size;
//! - every manifest's stored bytes hash to its digest and have its recorded size;
//! - no tag points at a manifest that is not in its repository;
//! - no manifest references a blob whose file is missing, or that is not linked into the
//!   manifest's repository (a pull of it would fail). A manifest's references are the blobs its
//!   repository held when it was pushed: an external layer (fetched from its `urls`) or a layer
//!   a sparse manifest's mirror did not copy has none, and is no problem;
//! - every `repository_blobs` link has its file.

use std::collections::BTreeSet;
use std::path::Path;

use sha2::{Digest as _, Sha256, Sha512};
use sqlx::Row;

/// Panics with every inconsistency found between `database_url` and the blob storage under
/// `data_dir` (`<data_dir>/storage`).
pub async fn assert_consistent(database_url: &str, data_dir: &Path) {
    let problems = inconsistencies(database_url, data_dir).await;
    assert!(
        problems.is_empty(),
        "storage and database disagree:\n  {}",
        problems.join("\n  ")
    );
}

/// Everything [`assert_consistent`] would complain about.
pub async fn inconsistencies(database_url: &str, data_dir: &Path) -> Vec<String> {
    let blobs_dir = data_dir.join("storage/blobs");
    let mut problems = Vec::new();
    let files = blob_files(&blobs_dir, &mut problems);

    let pool = connect(database_url).await;

    let has_file = |digest: &str| files.contains(digest);
    let rows = sqlx::query("SELECT digest, size FROM blobs")
        .fetch_all(&pool)
        .await
        .expect("blobs");
    for row in rows {
        let digest: String = row.get(0);
        let size: i64 = row.get(1);
        match file_of(&blobs_dir, &digest).and_then(|p| std::fs::metadata(p).ok()) {
            None => problems.push(format!("blob {digest} has a row but no file")),
            Some(m) if m.len() as i64 != size => problems.push(format!(
                "blob {digest} is recorded as {size} bytes but its file has {}",
                m.len()
            )),
            Some(_) => {}
        }
    }

    let rows = sqlx::query(
        "SELECT r.name, m.digest, m.size, m.content FROM manifests m
         JOIN repositories r ON r.id = m.repository_id",
    )
    .fetch_all(&pool)
    .await
    .expect("manifests");
    for row in rows {
        let repo: String = row.get(0);
        let digest: String = row.get(1);
        let size: i64 = row.get(2);
        let content: Vec<u8> = row.get(3);
        if hash_of(&digest, &content).as_deref() != Some(digest.as_str()) {
            problems.push(format!(
                "manifest {repo}@{digest}: its bytes do not hash to it"
            ));
        }
        if content.len() as i64 != size {
            problems.push(format!(
                "manifest {repo}@{digest}: {size} bytes recorded, {} stored",
                content.len()
            ));
        }
    }

    let rows = sqlx::query(
        "SELECT r.name, t.name, t.manifest_digest FROM tags t
         JOIN repositories r ON r.id = t.repository_id
         LEFT JOIN manifests m
           ON m.repository_id = t.repository_id AND m.digest = t.manifest_digest
         WHERE m.id IS NULL",
    )
    .fetch_all(&pool)
    .await
    .expect("tags");
    for row in rows {
        let (repo, tag, digest): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        problems.push(format!(
            "tag {repo}:{tag} points at a missing manifest {digest}"
        ));
    }

    let rows = sqlx::query(
        "SELECT r.name, m.digest, mb.digest,
                CAST(CASE WHEN rb.digest IS NULL THEN 0 ELSE 1 END AS BIGINT)
         FROM manifest_blobs mb
         JOIN manifests m ON m.id = mb.manifest_id
         JOIN repositories r ON r.id = m.repository_id
         LEFT JOIN repository_blobs rb
           ON rb.repository_id = m.repository_id AND rb.digest = mb.digest",
    )
    .fetch_all(&pool)
    .await
    .expect("manifest_blobs");
    for row in rows {
        let repo: String = row.get(0);
        let manifest: String = row.get(1);
        let blob: String = row.get(2);
        let linked: i64 = row.get(3);
        if !has_file(&blob) {
            problems.push(format!(
                "manifest {repo}@{manifest} references blob {blob}, which has no file"
            ));
        }
        if linked == 0 {
            problems.push(format!(
                "manifest {repo}@{manifest} references blob {blob}, which is not in {repo}"
            ));
        }
    }

    let rows = sqlx::query(
        "SELECT r.name, rb.digest FROM repository_blobs rb
         JOIN repositories r ON r.id = rb.repository_id",
    )
    .fetch_all(&pool)
    .await
    .expect("repository_blobs");
    for row in rows {
        let (repo, blob): (String, String) = (row.get(0), row.get(1));
        if !has_file(&blob) {
            problems.push(format!("blob {blob} is linked into {repo} but has no file"));
        }
    }
    pool.close().await;
    problems
}

/// Garbage older than `cutoff` (Unix seconds) that a collection should have freed: blobs no
/// link or manifest references, links no manifest of their repository references, and blob
/// files no row names.
pub async fn garbage(database_url: &str, data_dir: &Path, cutoff: i64) -> Vec<String> {
    let pool = connect(database_url).await;
    let mut found = Vec::new();
    let rows = sqlx::query(
        "SELECT digest FROM blobs b WHERE last_linked < $1
         AND NOT EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.digest = b.digest)
         AND NOT EXISTS (SELECT 1 FROM manifest_blobs mb WHERE mb.digest = b.digest)",
    )
    .bind(cutoff)
    .fetch_all(&pool)
    .await
    .expect("blobs");
    for row in rows {
        let digest: String = row.get(0);
        found.push(format!("blob {digest} is unreferenced"));
    }
    let rows = sqlx::query(
        "SELECT r.name, rb.digest FROM repository_blobs rb
         JOIN repositories r ON r.id = rb.repository_id
         WHERE rb.linked_at < $1 AND NOT EXISTS (
             SELECT 1 FROM manifest_blobs mb JOIN manifests m ON m.id = mb.manifest_id
             WHERE mb.digest = rb.digest AND m.repository_id = rb.repository_id)",
    )
    .bind(cutoff)
    .fetch_all(&pool)
    .await
    .expect("links");
    for row in rows {
        let (repo, digest): (String, String) = (row.get(0), row.get(1));
        found.push(format!("the link of {digest} into {repo} is unreferenced"));
    }
    let rows: BTreeSet<String> = sqlx::query_scalar("SELECT digest FROM blobs")
        .fetch_all(&pool)
        .await
        .expect("blob rows")
        .into_iter()
        .collect();
    let mut ignored = Vec::new();
    for file in blob_files(&data_dir.join("storage/blobs"), &mut ignored) {
        if !rows.contains(&file) {
            found.push(format!("blob file {file} has no row"));
        }
    }
    pool.close().await;
    found
}

async fn connect(database_url: &str) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(database_url)
        .await
        .expect("connect to the database to check it")
}

/// The digests of the blob files whose bytes hash to their names; the others are problems.
fn blob_files(blobs_dir: &Path, problems: &mut Vec<String>) -> BTreeSet<String> {
    let mut good = BTreeSet::new();
    let Ok(algorithms) = std::fs::read_dir(blobs_dir) else {
        return good;
    };
    for alg in algorithms {
        let alg = alg.expect("read blobs dir").path();
        let alg_name = alg
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_owned();
        for prefix in std::fs::read_dir(&alg).expect("read algorithm dir") {
            let prefix = prefix.expect("read algorithm dir").path();
            let prefix_name = prefix
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("?")
                .to_owned();
            for file in std::fs::read_dir(&prefix).expect("read prefix dir") {
                let file = file.expect("read prefix dir").path();
                let hex = file
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("?")
                    .to_owned();
                let digest = format!("{alg_name}:{hex}");
                let bytes = std::fs::read(&file).expect("read blob file");
                if !hex.starts_with(&prefix_name) || prefix_name.len() != 2 {
                    problems.push(format!("{} is in the wrong directory", file.display()));
                } else if hash_of(&digest, &bytes).as_deref() != Some(digest.as_str()) {
                    problems.push(format!("{} does not hash to its name", file.display()));
                } else {
                    good.insert(digest);
                }
            }
        }
    }
    good
}

fn file_of(blobs_dir: &Path, digest: &str) -> Option<std::path::PathBuf> {
    let (alg, hex) = digest.split_once(':')?;
    Some(blobs_dir.join(alg).join(hex.get(..2)?).join(hex))
}

/// `bytes` hashed with the algorithm `digest` names, as a digest string.
fn hash_of(digest: &str, bytes: &[u8]) -> Option<String> {
    match digest.split_once(':')?.0 {
        "sha256" => Some(format!("sha256:{}", hex::encode(Sha256::digest(bytes)))),
        "sha512" => Some(format!("sha512:{}", hex::encode(Sha512::digest(bytes)))),
        _ => None,
    }
}

/// How many blob files there are under `data_dir`'s storage.
pub fn blob_file_count(data_dir: &Path) -> usize {
    let Ok(algorithms) = std::fs::read_dir(data_dir.join("storage/blobs")) else {
        return 0;
    };
    algorithms
        .flatten()
        .flat_map(|a| std::fs::read_dir(a.path()).into_iter().flatten().flatten())
        .flat_map(|p| std::fs::read_dir(p.path()).into_iter().flatten().flatten())
        .count()
}

/// How many upload files (sessions in progress, or left behind) there are.
pub fn upload_file_count(data_dir: &Path) -> usize {
    std::fs::read_dir(data_dir.join("storage/uploads"))
        .map(|d| d.flatten().count())
        .unwrap_or(0)
}
