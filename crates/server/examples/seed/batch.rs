//! Multi-row `INSERT`s with bound parameters, split into statements of a few thousand binds:
//! well under either backend's limit (SQLite 32766, PostgreSQL 65535), and SQLite's driver
//! slows down sharply (worse than linearly) on statements with tens of thousands of them.

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

/// One bound value.
pub enum Val {
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
    NullText,
}

const MAX_BINDS: usize = 2_000;

/// `INSERT INTO <into> VALUES (…), (…) <suffix>` for every row, in as few statements as the
/// bind limit allows; returns the rows a `RETURNING` suffix produced.
pub async fn insert(
    conn: &mut AnyConnection,
    into: &str,
    rows: Vec<Vec<Val>>,
    suffix: &str,
) -> anyhow::Result<Vec<AnyRow>> {
    let Some(width) = rows.first().map(Vec::len) else {
        return Ok(Vec::new());
    };
    let per_statement = (MAX_BINDS / width).max(1);
    let mut returned = Vec::new();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Val>> = rows.by_ref().take(per_statement).collect();
        let sql = format!(
            "INSERT INTO {into} VALUES {} {suffix}",
            values(chunk.len(), width)
        );
        let mut query = sqlx::query(&sql);
        for value in chunk.into_iter().flatten() {
            query = match value {
                Val::Int(v) => query.bind(v),
                Val::Text(v) => query.bind(v),
                Val::Bytes(v) => query.bind(v),
                Val::NullText => query.bind(None::<String>),
            };
        }
        returned.extend(query.fetch_all(&mut *conn).await?);
    }
    Ok(returned)
}

/// `($1, $2), ($3, $4)` for two rows of two.
fn values(rows: usize, width: usize) -> String {
    let mut out = String::with_capacity(rows * width * 7);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..width {
            if c > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(r * width + c + 1).to_string());
        }
        out.push(')');
    }
    out
}
