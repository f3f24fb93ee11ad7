//! Trust collections' TUF files and the keys Berth holds for them.

use sqlx::Row;

use super::Meta;
use crate::clock::now;
use crate::error::Result;

/// Which version of a role's file to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Which {
    Latest,
    Version(i64),
    Sha256(String),
}

/// A file about to be stored.
pub struct NewTufFile<'a> {
    pub role: &'a str,
    pub version: i64,
    pub sha256: String,
    pub expires: i64,
    pub data: &'a [u8],
}

/// The latest root or targets file of one of a repository's collections.
pub struct SigningFile {
    pub gun: String,
    pub role: String,
    pub data: Vec<u8>,
    pub created_at: i64,
}

impl Meta {
    /// The latest file of every role of a collection: `(role, data)`.
    pub async fn tuf_latest(&self, gun: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let rows = sqlx::query(
            "SELECT f.role, f.data FROM tuf_files f
             WHERE f.gun = $1 AND f.version =
                 (SELECT MAX(l.version) FROM tuf_files l WHERE l.gun = f.gun AND l.role = f.role)",
        )
        .bind(gun)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// One file of a role, with its expiry.
    pub async fn tuf_file(
        &self,
        gun: &str,
        role: &str,
        which: &Which,
    ) -> Result<Option<(Vec<u8>, i64)>> {
        const SELECT: &str = "SELECT data, expires FROM tuf_files WHERE gun = $1 AND role = $2";
        let sql = match which {
            Which::Latest => format!("{SELECT} ORDER BY version DESC LIMIT 1"),
            Which::Version(_) => format!("{SELECT} AND version = $3"),
            Which::Sha256(_) => format!("{SELECT} AND sha256 = $3 ORDER BY version DESC LIMIT 1"),
        };
        let query = sqlx::query_as(&sql).bind(gun).bind(role);
        let query = match which {
            Which::Latest => query,
            Which::Version(v) => query.bind(*v),
            Which::Sha256(sha) => query.bind(sha.as_str()),
        };
        Ok(query.fetch_optional(&self.pool).await?)
    }

    /// Stores the files of one update together. `false` when another update stored one of
    /// these versions first: nothing of this one is kept.
    ///
    /// `root` is the version of root.json the files rest on: should the collection's latest
    /// root differ once they are in (it was deleted meanwhile, say), nothing is kept either.
    pub async fn tuf_store(
        &self,
        gun: &str,
        repository: &str,
        files: &[NewTufFile<'_>],
        root: i64,
    ) -> Result<bool> {
        let _fresh = self.cache.on_write();
        let mut tx = self.pool.begin().await?;
        let created_at = now();
        for f in files {
            let inserted = sqlx::query(
                "INSERT INTO tuf_files (gun, repository, role, version, sha256, expires, data, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(gun)
            .bind(repository)
            .bind(f.role)
            .bind(f.version)
            .bind(&f.sha256)
            .bind(f.expires)
            .bind(f.data)
            .bind(created_at)
            .execute(&mut *tx)
            .await;
            match inserted {
                Ok(_) => {}
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Ok(false),
                Err(e) => return Err(e.into()),
            }
        }
        let latest: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(version) FROM tuf_files WHERE gun = $1 AND role = 'root'",
        )
        .bind(gun)
        .fetch_one(&mut *tx)
        .await?;
        if latest != Some(root) {
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The sealed keys Berth holds for a collection's role, newest first: `(version, sealed)`.
    pub async fn tuf_keys(&self, gun: &str, role: &str) -> Result<Vec<(i64, Vec<u8>)>> {
        let rows = sqlx::query(
            "SELECT version, sealed FROM tuf_keys WHERE gun = $1 AND role = $2
             ORDER BY version DESC",
        )
        .bind(gun)
        .bind(role)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// Keeps a sealed key as `version` of the role's key. `false` when another request kept
    /// that version first.
    pub async fn tuf_add_key(
        &self,
        gun: &str,
        repository: &str,
        role: &str,
        version: i64,
        sealed: &[u8],
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO tuf_keys (gun, repository, role, version, sealed, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (gun, role, version) DO NOTHING",
        )
        .bind(gun)
        .bind(repository)
        .bind(role)
        .bind(version)
        .bind(sealed)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes a collection's files and keys. `false` when it had none.
    pub async fn tuf_delete(&self, gun: &str) -> Result<bool> {
        let _fresh = self.cache.on_write();
        let mut tx = self.pool.begin().await?;
        let files = sqlx::query("DELETE FROM tuf_files WHERE gun = $1")
            .bind(gun)
            .execute(&mut *tx)
            .await?;
        let keys = sqlx::query("DELETE FROM tuf_keys WHERE gun = $1")
            .bind(gun)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(files.rows_affected() + keys.rows_affected() > 0)
    }

    /// The latest root, targets and delegation files of each collection of a repository.
    pub async fn tuf_signing_files(&self, repository: &str) -> Result<Vec<SigningFile>> {
        let rows = sqlx::query(
            "SELECT f.gun, f.role, f.data, f.created_at FROM tuf_files f
             WHERE f.repository = $1 AND f.role NOT IN ('snapshot', 'timestamp') AND f.version =
                 (SELECT MAX(l.version) FROM tuf_files l WHERE l.gun = f.gun AND l.role = f.role)",
        )
        .bind(repository)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SigningFile {
                    gun: r.try_get(0)?,
                    role: r.try_get(1)?,
                    data: r.try_get(2)?,
                    created_at: r.try_get(3)?,
                })
            })
            .collect()
    }
}
