//! migrations/sqlite and migrations/postgres build the same schema: a fresh database of each,
//! migrated the way `berth serve` migrates it, has the same tables, columns and indexes by
//! name. Needs PostgreSQL, so it runs when `BERTH_TEST_POSTGRES_URL` is set (scripts/test sets
//! it on its PostgreSQL pass).

use crate::common;

use std::collections::BTreeSet;

use sqlx::AnyPool;

/// What a schema is made of, by name: `table`, `table.column` and `index on table`.
#[derive(Debug, Default)]
struct Schema {
    tables: BTreeSet<String>,
    columns: BTreeSet<String>,
    indexes: BTreeSet<String>,
}

/// Search is the one place the backends differ by design (see the two 0005_community.sql):
/// SQLite searches an FTS5 virtual table, PostgreSQL a generated tsvector column with a GIN
/// index, plus a trigram index on the name. Nothing else may differ, and these must.
const SQLITE_ONLY_TABLES: &[&str] = &["repository_search"];
const POSTGRES_ONLY_COLUMNS: &[&str] = &["repository_settings.search"];
const POSTGRES_ONLY_INDEXES: &[&str] = &[
    "repository_settings_name_trgm on repository_settings",
    "repository_settings_search on repository_settings",
];

/// sqlx's own bookkeeping, not Berth's schema.
const SQLX_TABLE: &str = "_sqlx_migrations";

async fn names(pool: &AnyPool, sql: &str) -> Vec<(String, String)> {
    sqlx::query_as::<_, (String, String)>(sql)
        .fetch_all(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn sqlite_schema(pool: &AnyPool) -> Schema {
    let mut schema = Schema::default();
    // `pragma_table_list` tells ordinary tables from virtual ones and from the shadow tables
    // FTS5 keeps for itself; `sqlite_` names are SQLite's own.
    let listed = names(
        pool,
        "SELECT name, type FROM pragma_table_list WHERE schema = 'main' \
         AND type IN ('table', 'virtual') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
    )
    .await;
    for (table, _) in listed {
        if table == SQLX_TABLE {
            continue;
        }
        let columns = names(
            pool,
            &format!("SELECT name, type FROM pragma_table_info('{table}')"),
        )
        .await;
        for (column, _) in columns {
            schema.columns.insert(format!("{table}.{column}"));
        }
        schema.tables.insert(table);
    }
    // Indexes a CREATE INDEX named; UNIQUE and PRIMARY KEY constraints make nameless
    // `sqlite_autoindex_…` ones, the counterparts of PostgreSQL's constraint indexes.
    let indexes = names(
        pool,
        "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' \
         AND name NOT LIKE 'sqlite\\_autoindex\\_%' ESCAPE '\\'",
    )
    .await;
    for (index, table) in indexes {
        if table != SQLX_TABLE {
            schema.indexes.insert(format!("{index} on {table}"));
        }
    }
    schema
}

async fn postgres_schema(pool: &AnyPool) -> Schema {
    let mut schema = Schema::default();
    let tables = names(
        pool,
        "SELECT table_name::text, table_type::text FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
    )
    .await;
    for (table, _) in tables {
        if table != SQLX_TABLE {
            schema.tables.insert(table);
        }
    }
    let columns = names(
        pool,
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = 'public'",
    )
    .await;
    for (table, column) in columns {
        if schema.tables.contains(&table) {
            schema.columns.insert(format!("{table}.{column}"));
        }
    }
    // Indexes that back a PRIMARY KEY or UNIQUE constraint are named by PostgreSQL, not by the
    // migrations (SQLite's autoindexes are left out for the same reason).
    let indexes = names(
        pool,
        "SELECT i.relname::text, t.relname::text FROM pg_index x \
         JOIN pg_class i ON i.oid = x.indexrelid \
         JOIN pg_class t ON t.oid = x.indrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname = 'public' \
         AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
    )
    .await;
    for (index, table) in indexes {
        if table != SQLX_TABLE {
            schema.indexes.insert(format!("{index} on {table}"));
        }
    }
    schema
}

/// Every way `a` (named `a_name`) and `b` differ in one kind of thing, less the differences
/// `a_only` allows, and every allowed difference that is not there any more.
fn differences(
    kind: &str,
    (a_name, a): (&str, &BTreeSet<String>),
    (b_name, b): (&str, &BTreeSet<String>),
    a_only: &[&str],
) -> Vec<String> {
    let mut out = Vec::new();
    for x in a.difference(b) {
        if !a_only.contains(&x.as_str()) {
            out.push(format!("{kind} {x} only in {a_name}"));
        }
    }
    for x in b.difference(a) {
        out.push(format!("{kind} {x} only in {b_name}"));
    }
    for x in a_only {
        if !a.contains(*x) || b.contains(*x) {
            out.push(format!(
                "{kind} {x} was expected in {a_name} alone: update this test's list of intended differences"
            ));
        }
    }
    out
}

#[tokio::test]
async fn sqlite_and_postgres_migrations_build_the_same_schema() {
    let Ok(admin) = std::env::var("BERTH_TEST_POSTGRES_URL") else {
        eprintln!(
            "skipped: comparing the SQLite and PostgreSQL migrations needs BERTH_TEST_POSTGRES_URL"
        );
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite_url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("schema.db").display()
    );
    let sqlite = berth::db::open(&sqlite_url).await.expect("migrate SQLite");
    let postgres_url = common::new_postgres_database(&admin).await;
    let postgres = berth::db::open(&postgres_url)
        .await
        .expect("migrate PostgreSQL");

    let lite = sqlite_schema(&sqlite).await;
    let pg = postgres_schema(&postgres).await;
    assert!(
        lite.tables.len() >= 20 && lite.indexes.len() >= 20,
        "the SQLite schema was read: {lite:?}"
    );
    let mut diff = differences(
        "table",
        ("SQLite", &lite.tables),
        ("PostgreSQL", &pg.tables),
        SQLITE_ONLY_TABLES,
    );
    // A table only one side has is reported once, not once more for each of its columns.
    let on_both_sides = |c: &String| {
        let table = c.split_once('.').map_or(c.as_str(), |(t, _)| t);
        lite.tables.contains(table) && pg.tables.contains(table)
    };
    let lite_columns = lite
        .columns
        .iter()
        .filter(|c| on_both_sides(c))
        .cloned()
        .collect();
    let pg_columns = pg
        .columns
        .iter()
        .filter(|c| on_both_sides(c))
        .cloned()
        .collect();
    diff.extend(differences(
        "column",
        ("PostgreSQL", &pg_columns),
        ("SQLite", &lite_columns),
        POSTGRES_ONLY_COLUMNS,
    ));
    diff.extend(differences(
        "index",
        ("PostgreSQL", &pg.indexes),
        ("SQLite", &lite.indexes),
        POSTGRES_ONLY_INDEXES,
    ));
    assert!(
        diff.is_empty(),
        "migrations/sqlite and migrations/postgres differ:\n  {}",
        diff.join("\n  ")
    );
}
