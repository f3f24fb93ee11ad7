//! The pages' own template filters (askama finds them as `filters::…` where a template is
//! derived, so each page module that counts things imports this module).

use std::fmt::Display;

/// `{{ n|count("pull") }}`: the count with its noun, which is singular for exactly one
/// ("1 pull", "0 pulls", "3 repositories", "1,000+ repositories").
pub fn count<T: Display>(n: T, _: &dyn askama::Values, singular: &str) -> askama::Result<String> {
    Ok(counted(&n.to_string(), singular))
}

pub fn counted(n: &str, singular: &str) -> String {
    if n == "1" {
        format!("1 {singular}")
    } else {
        format!("{n} {}", plural(singular))
    }
}

/// `{{ ts|moment }}`: a time in Unix seconds as a `<time>` element, "3 hours ago" with the
/// exact UTC time in its `title` (see [`super::time::element`]; digits and fixed words only).
pub fn moment<T: Seconds>(
    ts: T,
    _: &dyn askama::Values,
) -> askama::Result<askama::filters::Safe<String>> {
    Ok(askama::filters::Safe(super::time::element(
        ts.seconds(),
        berth_accounts::now(),
    )))
}

/// Unix seconds, however many references a template holds them through.
pub trait Seconds {
    fn seconds(&self) -> i64;
}

impl Seconds for i64 {
    fn seconds(&self) -> i64 {
        *self
    }
}

impl<T: Seconds + ?Sized> Seconds for &T {
    fn seconds(&self) -> i64 {
        (**self).seconds()
    }
}

/// English plurals of the nouns the pages count.
fn plural(noun: &str) -> String {
    let consonant_y = noun.strip_suffix('y').filter(|stem| {
        stem.chars()
            .last()
            .is_some_and(|c| !"aeiou".contains(c.to_ascii_lowercase()))
    });
    if let Some(stem) = consonant_y {
        format!("{stem}ies")
    } else if ["s", "x", "z", "ch", "sh"]
        .iter()
        .any(|e| noun.ends_with(e))
    {
        format!("{noun}es")
    } else {
        format!("{noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::counted;

    #[test]
    fn one_is_singular_and_everything_else_plural() {
        assert_eq!(counted("1", "pull"), "1 pull");
        assert_eq!(counted("0", "pull"), "0 pulls");
        assert_eq!(counted("2", "star"), "2 stars");
        assert_eq!(counted("1", "repository"), "1 repository");
        assert_eq!(counted("12", "repository"), "12 repositories");
        assert_eq!(counted("1000+", "repository"), "1000+ repositories");
        assert_eq!(counted("3", "key"), "3 keys");
        assert_eq!(counted("2", "match"), "2 matches");
        assert_eq!(counted("11", "member"), "11 members");
    }
}
