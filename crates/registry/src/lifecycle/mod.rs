//! Storage lifecycle: what frees, keeps and limits what the registry stores. Each part keeps
//! its own tables and SQL here, beside the core metadata of [`crate::meta`]; the scopes and tag
//! patterns that immutable tags and retention rules share are here.

pub mod gc;
pub mod immutable;
pub mod quota;
pub mod retention;

/// Most tag patterns one repository or namespace may have, for any rule.
pub const MAX_PATTERNS: usize = 50;
/// Longest tag pattern, in characters: the longest tag the grammar allows.
pub const MAX_PATTERN_LEN: usize = 128;

/// What a rule belongs to: one repository (its full name), or every repository of a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    Repository(&'a str),
    Namespace(&'a str),
}

impl<'a> Scope<'a> {
    /// `repository` or `namespace`, as stored.
    pub fn kind(self) -> &'static str {
        match self {
            Scope::Repository(_) => "repository",
            Scope::Namespace(_) => "namespace",
        }
    }

    pub fn name(self) -> &'a str {
        match self {
            Scope::Repository(n) | Scope::Namespace(n) => n,
        }
    }

    /// The namespace the rule goes away with (a one-component name belongs to none).
    pub fn namespace(self) -> &'a str {
        match self {
            Scope::Repository(n) => crate::names::namespace_of(n).unwrap_or(""),
            Scope::Namespace(n) => n,
        }
    }
}

/// Why a tag pattern is refused, if it is: each is 1 to [`MAX_PATTERN_LEN`] characters of
/// letters, digits, `_`, `.`, `-`, `*` (any run of characters) and `?` (one character).
pub fn pattern_problem(pattern: &str) -> Option<String> {
    let shown = || format!("{:?}", pattern.chars().take(40).collect::<String>());
    if pattern.is_empty() {
        return Some("a pattern cannot be empty".into());
    }
    if pattern.chars().count() > MAX_PATTERN_LEN {
        return Some(format!(
            "pattern {}… is longer than {MAX_PATTERN_LEN} characters",
            shown()
        ));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '*' | '?');
    if !pattern.chars().all(allowed) {
        return Some(format!(
            "pattern {} may only hold letters, digits, '_', '.', '-', '*' (any run of \
             characters) and '?' (one character)",
            shown()
        ));
    }
    None
}

/// Whether `text` matches all of `pattern`, where `*` matches any run of characters (none
/// included) and `?` exactly one; everything else matches itself, case and all.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    // The last `*` seen and where in the text its run ends so far: on a mismatch the run
    // grows by one and matching resumes after the star. Linear in practice, never exponential.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == b'?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    star = Some((sp, st + 1));
                    pi = sp + 1;
                    ti = st + 1;
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}
