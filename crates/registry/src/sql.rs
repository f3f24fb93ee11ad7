//! Small pieces of SQL that every module of this crate writes the same way.

use crate::backend::Backend;

/// `$first, $first+1, …` for an `IN (…)` list.
pub fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rows of `select` whose key is any of `count` parameters from `$first` on, where `select`
/// asks for one (`… = {key}`), each found through the key's index.
///
/// Empty when `count` is 0. SQLite plans `IN (…)` that way. PostgreSQL plans a cached statement once for every
/// repository, and for the few rows a repository usually has, walking all of them looks
/// cheaper than looking each key up: where one holds 10,000 tags, it is not. So there the
/// lookups are separate `SELECT`s joined by `UNION ALL`, which no plan can turn into a walk.
pub fn any_of(backend: Backend, select: &str, first: usize, count: usize) -> String {
    if count == 0 {
        return String::new();
    }
    match backend {
        Backend::Sqlite => {
            select.replace("= {key}", &format!("IN ({})", placeholders(first, count)))
        }
        Backend::Postgres => (first..first + count)
            .map(|i| select.replace("{key}", &format!("${i}")))
            .collect::<Vec<_>>()
            .join(" UNION ALL "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_lookups_number_their_parameters() {
        assert_eq!(placeholders(3, 2), "$3, $4");
        let select = "SELECT a FROM t WHERE k = {key}";
        assert_eq!(
            any_of(Backend::Postgres, select, 2, 2),
            "SELECT a FROM t WHERE k = $2 UNION ALL SELECT a FROM t WHERE k = $3"
        );
        assert_eq!(
            any_of(Backend::Sqlite, select, 2, 2),
            "SELECT a FROM t WHERE k IN ($2, $3)"
        );
        assert_eq!(any_of(Backend::Sqlite, select, 2, 0), "");
    }
}
