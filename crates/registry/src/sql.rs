//! Small pieces of SQL that every module of this crate writes the same way.

/// `$first, $first+1, …` for an `IN (…)` list.
pub fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}
