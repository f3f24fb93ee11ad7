//! Build rules, as Docker Hub's automated builds have them: which pushed branches or tags build,
//! the Docker tag each gives, and where the Dockerfile and build context are.
//!
//! A rule's source is a branch or tag name matched exactly, or a regular expression between
//! slashes (`/^v([0-9.]+)$/`) matched anywhere in the name unless anchored, as on Docker Hub.
//! The tag template is literal text with `{sourceref}` (the pushed branch or tag name) and
//! `{\N}` (capture group N of the source regex, `{\0}` the whole match). A `/` in an expanded
//! value becomes `-`, as on Docker Hub (`feature/login` with `{sourceref}` builds
//! `feature-login`); a ref whose expansion is still not a valid Docker tag builds nothing.

use std::collections::BTreeMap;

use berth_registry::names::{self, MAX_TAG_LEN};
use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

/// Most rules one repository may have.
pub const MAX_RULES: usize = 50;
/// Longest source (a ref name or a regex with its slashes), in characters.
pub const MAX_SOURCE_LEN: usize = 255;
/// Longest tag template, in characters (placeholders included).
pub const MAX_TEMPLATE_LEN: usize = 255;
/// Longest Dockerfile or context path, in characters.
pub const MAX_PATH_LEN: usize = 512;
/// Most build arguments one rule may pass.
pub const MAX_BUILD_ARGS: usize = 64;
/// Longest build-argument name, in characters.
pub const MAX_BUILD_ARG_NAME_LEN: usize = 128;
/// Longest build-argument value, in characters.
pub const MAX_BUILD_ARG_VALUE_LEN: usize = 4096;
/// Compiled-size cap for a source regex: a rule is user input run on every push, so a
/// pattern like `(a{100}){100}` must be refused instead of growing without bound.
const REGEX_SIZE_LIMIT: usize = 256 * 1024;

/// Whether a rule watches branches or tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RefKind {
    Branch,
    Tag,
}

impl RefKind {
    /// `branch` or `tag`, as stored and as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            RefKind::Branch => "branch",
            RefKind::Tag => "tag",
        }
    }

    pub fn parse(s: &str) -> Option<RefKind> {
        match s {
            "branch" => Some(RefKind::Branch),
            "tag" => Some(RefKind::Tag),
            _ => None,
        }
    }
}

fn default_dockerfile() -> String {
    "Dockerfile".into()
}

fn default_context() -> String {
    ".".into()
}

fn default_true() -> bool {
    true
}

/// One build rule. Unknown fields are refused when read from JSON, so that a misspelt field
/// (`dockerFile`) is an error instead of a silently ignored setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub source_type: RefKind,
    /// A branch/tag name, or a regex between slashes: `/^v([0-9.]+)$/`.
    pub source: String,
    /// The Docker tag template: `latest`, `{sourceref}`, `release-{\1}` (`{\N}` = capture N).
    pub tag: String,
    /// The Dockerfile, relative to the build context (as on Docker Hub).
    #[serde(default = "default_dockerfile")]
    pub dockerfile: String,
    /// The build context, a directory relative to the repository root (`.` for the root).
    #[serde(default = "default_context")]
    pub context: String,
    #[serde(default)]
    pub build_args: BTreeMap<String, String>,
    /// Whether a push builds this rule by itself; off, it builds only on "Build now".
    #[serde(default = "default_true")]
    pub autobuild: bool,
}

/// A piece of a tag template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part<'a> {
    Text(&'a str),
    SourceRef,
    Group(usize),
}

/// Splits a tag template into text and placeholders.
fn template_parts(template: &str) -> Result<Vec<Part<'_>>, String> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return Err(format!(
                "tag {template:?} has a '}}' without its '{{'; placeholders are {{sourceref}} \
                 and {{\\1}}, {{\\2}}, …"
            ));
        }
        if open > 0 {
            parts.push(Part::Text(&rest[..open]));
        }
        let Some(close) = rest[open..].find('}') else {
            return Err(format!(
                "tag {template:?} has a '{{' without its '}}'; placeholders are {{sourceref}} \
                 and {{\\1}}, {{\\2}}, …"
            ));
        };
        let inner = &rest[open + 1..open + close];
        let part = if inner == "sourceref" {
            Part::SourceRef
        } else if let Some(n) = inner
            .strip_prefix('\\')
            .filter(|d| !d.is_empty() && d.len() <= 3 && d.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|d| d.parse().ok())
        {
            Part::Group(n)
        } else {
            return Err(format!(
                "tag {template:?} has an unknown placeholder {{{inner}}}; placeholders are \
                 {{sourceref}} (the branch or tag name) and {{\\1}}, {{\\2}}, … (the source \
                 regex's capture groups)"
            ));
        };
        parts.push(part);
        rest = &rest[open + close + 1..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest));
    }
    Ok(parts)
}

/// The regex of a `/…/` source, without its slashes; `None` for a literal name.
fn regex_source(source: &str) -> Option<&str> {
    source.strip_prefix('/').and_then(|s| s.strip_suffix('/'))
}

fn compile(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(_) => {
                format!("source regex /{pattern}/ is too large; simplify it")
            }
            e => format!("source regex /{pattern}/ does not compile: {e}"),
        })
}

/// Why a literal branch or tag name can never be a pushed ref, by git's own rules for ref
/// names (`git check-ref-format`), if it cannot.
fn ref_name_problem(name: &str) -> Option<&'static str> {
    let bad_char = |c: char| {
        c.is_control() || c.is_whitespace() || matches!(c, '~' | '^' | ':' | '?' | '*' | '[' | '\\')
    };
    if name.chars().any(bad_char) {
        Some("may not hold spaces, control characters or any of ~ ^ : ? * [ \\")
    } else if name.starts_with('-') {
        Some("may not start with '-'")
    } else if name.contains("..") || name.contains("@{") || name.contains("//") {
        Some("may not hold '..', '@{' or '//'")
    } else if name.ends_with('/') || name.ends_with('.') || name.ends_with(".lock") {
        Some("may not end with '/', '.' or '.lock'")
    } else if name.split('/').any(|c| c.starts_with('.')) {
        Some("may not have a component starting with '.'")
    } else {
        None
    }
}

/// Why a Dockerfile or context path is refused, if it is.
fn path_problem(what: &str, path: &str) -> Option<String> {
    if path.is_empty() {
        return Some(format!(
            "{what} cannot be empty (use \".\" for the repository root)"
        ));
    }
    if path.chars().count() > MAX_PATH_LEN {
        return Some(format!("{what} is longer than {MAX_PATH_LEN} characters"));
    }
    if path.chars().any(|c| c.is_control()) {
        return Some(format!("{what} {path:?} may not hold control characters"));
    }
    if path.starts_with('/') {
        return Some(format!(
            "{what} {path:?} must be a relative path, not absolute"
        ));
    }
    if path.split('/').any(|c| c == "..") {
        return Some(format!(
            "{what} {path:?} may not leave the repository ('..')"
        ));
    }
    None
}

fn build_arg_name_ok(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A value put into a tag: Docker Hub's one substitution, `/` to `-`.
fn tag_safe(value: &str) -> String {
    value.replace('/', "-")
}

impl Rule {
    /// Checks one rule: regex compiles (size-limited), template placeholders exist (`{\3}` with
    /// 2 groups is an error; `{\N}` on a non-regex source is an error), a literal tag is a
    /// valid Docker tag (`[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`), dockerfile/context are relative
    /// paths inside the repository (no `..` component, not absolute, no NUL, ≤ 512 chars),
    /// build-arg names are `[A-Za-z_][A-Za-z0-9_]*`, ≤ 64 args, values ≤ 4096 chars.
    pub fn validate(&self) -> Result<(), String> {
        let kind = self.source_type.as_str();
        if self.source.is_empty() {
            return Err(format!(
                "the source {kind} cannot be empty; give a {kind} name or a regex between \
                 slashes, like /^v([0-9.]+)$/"
            ));
        }
        if self.source.chars().count() > MAX_SOURCE_LEN {
            return Err(format!(
                "the source is longer than {MAX_SOURCE_LEN} characters"
            ));
        }
        // Capture groups the template may use: none for a literal name.
        let groups = match regex_source(&self.source) {
            Some("") => {
                return Err(
                    "the source regex // is empty; write a pattern between the slashes".into(),
                )
            }
            Some(pattern) => compile(pattern)?.captures_len(),
            None => {
                if let Some(problem) = ref_name_problem(&self.source) {
                    return Err(format!(
                        "the source {kind} {:?} {problem} (a regex goes between slashes: /…/)",
                        self.source
                    ));
                }
                0
            }
        };

        if self.tag.is_empty() {
            return Err(
                "the Docker tag cannot be empty; use latest, {sourceref} or a template like \
                 release-{\\1}"
                    .into(),
            );
        }
        if self.tag.chars().count() > MAX_TEMPLATE_LEN {
            return Err(format!(
                "the Docker tag template is longer than {MAX_TEMPLATE_LEN} characters"
            ));
        }
        let parts = template_parts(&self.tag)?;
        let mut sample = String::new();
        for part in &parts {
            match *part {
                Part::Text(t) => sample.push_str(t),
                Part::SourceRef => sample.push('x'),
                Part::Group(n) if groups == 0 => {
                    return Err(format!(
                        "tag {:?} uses {{\\{n}}}, but the source {:?} is not a regex; capture \
                         groups need a source between slashes, like /^v([0-9.]+)$/",
                        self.tag, self.source
                    ));
                }
                Part::Group(n) if n >= groups => {
                    return Err(format!(
                        "tag {:?} uses {{\\{n}}}, but the source regex has {} capture group{}",
                        self.tag,
                        groups - 1,
                        if groups == 2 { "" } else { "s" }
                    ));
                }
                Part::Group(_) => sample.push('x'),
            }
        }
        // Placeholders stand in as one letter: the literal text must be tag characters, in a
        // place a tag allows them.
        if !names::is_tag(&sample) {
            return Err(if sample == self.tag {
                format!(
                    "tag {:?} is not a valid Docker tag: 1 to {MAX_TAG_LEN} letters, digits, \
                     '_', '.' and '-', not starting with '.' or '-'",
                    self.tag
                )
            } else {
                format!(
                    "tag template {:?} cannot give a valid Docker tag: its text may only hold \
                     letters, digits, '_', '.' and '-', not at the start '.' or '-', up to \
                     {MAX_TAG_LEN} characters",
                    self.tag
                )
            });
        }

        if let Some(problem) = path_problem("the Dockerfile path", &self.dockerfile) {
            return Err(problem);
        }
        if self.dockerfile.ends_with('/') || self.dockerfile == "." {
            return Err(format!(
                "the Dockerfile path {:?} names a directory; name the file, like Dockerfile or \
                 docker/app.Dockerfile",
                self.dockerfile
            ));
        }
        if let Some(problem) = path_problem("the build context", &self.context) {
            return Err(problem);
        }

        if self.build_args.len() > MAX_BUILD_ARGS {
            return Err(format!(
                "a rule may pass at most {MAX_BUILD_ARGS} build arguments, not {}",
                self.build_args.len()
            ));
        }
        for (name, value) in &self.build_args {
            if name.len() > MAX_BUILD_ARG_NAME_LEN || !build_arg_name_ok(name) {
                return Err(format!(
                    "build argument name {:?} must be a letter or '_' then letters, digits or \
                     '_' (at most {MAX_BUILD_ARG_NAME_LEN})",
                    name.chars().take(40).collect::<String>()
                ));
            }
            if value.chars().count() > MAX_BUILD_ARG_VALUE_LEN {
                return Err(format!(
                    "build argument {name} is longer than {MAX_BUILD_ARG_VALUE_LEN} characters"
                ));
            }
            if value.contains('\0') {
                return Err(format!(
                    "build argument {name} may not hold a NUL character"
                ));
            }
        }
        Ok(())
    }

    /// The Docker tag this rule gives a pushed ref, if it matches. A literal source matches the
    /// exact name; a regex source matches per the regex (anywhere in the name unless
    /// anchored). `{sourceref}` expands to the ref name, `{\N}` to capture N (empty when the
    /// group took no part), and a `/` in either to `-`. `None` when the rule does not match,
    /// is invalid, or the expansion is not a valid Docker tag.
    pub fn tag_for(&self, kind: RefKind, name: &str) -> Option<String> {
        if kind != self.source_type || name.is_empty() {
            return None;
        }
        let parts = template_parts(&self.tag).ok()?;
        let captures: Vec<Option<String>> = match regex_source(&self.source) {
            Some("") => return None,
            Some(pattern) => {
                let re = compile(pattern).ok()?;
                let caps = re.captures(name)?;
                (0..caps.len())
                    .map(|i| caps.get(i).map(|m| m.as_str().to_owned()))
                    .collect()
            }
            None if self.source == name => Vec::new(),
            None => return None,
        };
        let mut tag = String::new();
        for part in parts {
            match part {
                Part::Text(t) => tag.push_str(t),
                Part::SourceRef => tag.push_str(&tag_safe(name)),
                Part::Group(n) => {
                    // A group beyond the regex's is an invalid rule, which builds nothing.
                    let value = captures.get(n)?;
                    tag.push_str(&tag_safe(value.as_deref().unwrap_or("")));
                }
            }
        }
        names::is_tag(&tag).then_some(tag)
    }
}

/// Validates a whole rule list (at most [`MAX_RULES`] rules), naming the failing rule:
/// "rule 2: …" (counting from 1).
pub fn validate_rules(rules: &[Rule]) -> Result<(), String> {
    if rules.len() > MAX_RULES {
        return Err(format!(
            "a repository may have at most {MAX_RULES} build rules, not {}",
            rules.len()
        ));
    }
    for (i, rule) in rules.iter().enumerate() {
        rule.validate()
            .map_err(|e| format!("rule {}: {e}", i + 1))?;
    }
    Ok(())
}

/// Every rule that matches the pushed ref with the tag it gives, in rule order; only rules
/// with autobuild on when `autobuild_only`. Two rules giving the same tag are both returned:
/// which to build is the caller's choice.
pub fn matching<'a>(
    rules: &'a [Rule],
    kind: RefKind,
    name: &str,
    autobuild_only: bool,
) -> Vec<(&'a Rule, String)> {
    rules
        .iter()
        .filter(|r| r.autobuild || !autobuild_only)
        .filter_map(|r| r.tag_for(kind, name).map(|tag| (r, tag)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(kind: RefKind, source: &str, tag: &str) -> Rule {
        Rule {
            source_type: kind,
            source: source.into(),
            tag: tag.into(),
            dockerfile: default_dockerfile(),
            context: default_context(),
            build_args: BTreeMap::new(),
            autobuild: true,
        }
    }

    fn branch(source: &str, tag: &str) -> Rule {
        rule(RefKind::Branch, source, tag)
    }

    fn tag(source: &str, tag: &str) -> Rule {
        rule(RefKind::Tag, source, tag)
    }

    #[test]
    fn ref_kinds_round_trip() {
        for kind in [RefKind::Branch, RefKind::Tag] {
            assert_eq!(RefKind::parse(kind.as_str()), Some(kind));
            assert_eq!(
                serde_json::to_string(&kind).unwrap(),
                format!("\"{}\"", kind.as_str())
            );
        }
        assert_eq!(RefKind::parse("Branch"), None);
        assert_eq!(RefKind::parse("commit"), None);
    }

    #[test]
    fn docker_hubs_default_rules_build_latest_from_main_and_each_tag_by_name() {
        let rules = [branch("main", "latest"), tag("/.*/", "{sourceref}")];
        validate_rules(&rules).unwrap();
        let on_main = matching(&rules, RefKind::Branch, "main", true);
        assert_eq!(on_main.len(), 1);
        assert_eq!(on_main[0].1, "latest");
        assert!(std::ptr::eq(on_main[0].0, &rules[0]));
        let on_tag = matching(&rules, RefKind::Tag, "v1.2.3", true);
        assert_eq!(on_tag.len(), 1);
        assert_eq!(on_tag[0].1, "v1.2.3");
        // A literal source is the exact name, of the rule's kind only.
        assert!(matching(&rules, RefKind::Branch, "main2", true).is_empty());
        assert!(matching(&rules, RefKind::Branch, "mai", true).is_empty());
        assert_eq!(branch("main", "latest").tag_for(RefKind::Tag, "main"), None);
        assert_eq!(
            tag("/.*/", "{sourceref}").tag_for(RefKind::Branch, "x"),
            None
        );
    }

    #[test]
    fn regex_captures_fill_the_template() {
        let r = tag(r"/^v([0-9]+)\.([0-9]+)\.[0-9]+$/", r"{\1}.{\2}");
        r.validate().unwrap();
        assert_eq!(r.tag_for(RefKind::Tag, "v1.24.3").as_deref(), Some("1.24"));
        assert_eq!(r.tag_for(RefKind::Tag, "v1.24"), None);
        assert_eq!(r.tag_for(RefKind::Tag, "xv1.2.3"), None);

        let r = tag(r"/^v([0-9.]+)$/", r"release-{\1}");
        assert_eq!(
            r.tag_for(RefKind::Tag, "v2.0.1").as_deref(),
            Some("release-2.0.1")
        );
        // {\0} is the whole match; an unanchored regex matches anywhere in the name.
        let r = branch("/rc[0-9]+/", r"{sourceref}-{\0}");
        r.validate().unwrap();
        assert_eq!(
            r.tag_for(RefKind::Branch, "release-rc7-final").as_deref(),
            Some("release-rc7-final-rc7")
        );
        // A group that took no part expands to nothing.
        let r = tag("/^v([0-9]+)(-beta)?$/", r"{\1}{\2}");
        assert_eq!(r.tag_for(RefKind::Tag, "v3").as_deref(), Some("3"));
        assert_eq!(
            r.tag_for(RefKind::Tag, "v3-beta").as_deref(),
            Some("3-beta")
        );
    }

    #[test]
    fn slashes_in_a_ref_become_dashes_and_other_invalid_expansions_build_nothing() {
        let r = branch("/.*/", "{sourceref}");
        assert_eq!(
            r.tag_for(RefKind::Branch, "feature/login").as_deref(),
            Some("feature-login")
        );
        let r = branch("/^feature/(.+)$/", r"dev-{\1}");
        r.validate().unwrap();
        // Docker Hub users often escape the slash; Rust's regex accepts that as well.
        let escaped = branch(r"/^feature\/(.+)$/", r"dev-{\1}");
        escaped.validate().unwrap();
        assert_eq!(
            escaped.tag_for(RefKind::Branch, "feature/ui").as_deref(),
            Some("dev-ui")
        );
        assert_eq!(
            r.tag_for(RefKind::Branch, "feature/ui/dark").as_deref(),
            Some("dev-ui-dark")
        );
        let literal = branch("feat/x", "{sourceref}");
        literal.validate().unwrap();
        assert_eq!(
            literal.tag_for(RefKind::Branch, "feat/x").as_deref(),
            Some("feat-x")
        );
        // `+` is valid in a git tag but not in a Docker tag; a leading '.' neither.
        let any = tag("/.*/", "{sourceref}");
        assert_eq!(any.tag_for(RefKind::Tag, "v1.0+build5"), None);
        assert_eq!(
            tag("/^x(.*)$/", r"{\1}").tag_for(RefKind::Tag, "x.hidden"),
            None
        );
        // Too long once expanded.
        let long = "a".repeat(125);
        assert_eq!(
            branch("/.*/", "build-{sourceref}").tag_for(RefKind::Branch, &long),
            None
        );
        assert_eq!(
            branch("/.*/", "{sourceref}")
                .tag_for(RefKind::Branch, &long)
                .as_deref(),
            Some(long.as_str())
        );
        // An empty group as the whole tag is no tag.
        assert_eq!(
            tag("/^v([0-9]*)$/", r"{\1}").tag_for(RefKind::Tag, "v"),
            None
        );
    }

    #[test]
    fn matching_honours_autobuild_only_when_asked() {
        let mut manual = branch("main", "manual");
        manual.autobuild = false;
        let rules = vec![
            branch("main", "latest"),
            manual,
            branch("/^ma/", "{sourceref}"),
        ];
        let auto: Vec<String> = matching(&rules, RefKind::Branch, "main", true)
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        assert_eq!(auto, ["latest", "main"]);
        let all: Vec<String> = matching(&rules, RefKind::Branch, "main", false)
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        assert_eq!(all, ["latest", "manual", "main"]);
        assert!(matching(&rules, RefKind::Branch, "dev", false).is_empty());
        assert!(matching(&[], RefKind::Branch, "main", false).is_empty());
    }

    #[test]
    fn templates_may_only_use_placeholders_that_exist() {
        let two_groups = r"/^v([0-9]+)\.([0-9]+)$/";
        tag(two_groups, r"{\2}").validate().unwrap();
        let e = tag(two_groups, r"{\3}").validate().unwrap_err();
        assert!(e.contains(r"{\3}") && e.contains("2 capture groups"), "{e}");
        let e = tag("/^v(.*)$/", r"{\2}").validate().unwrap_err();
        assert!(e.ends_with("has 1 capture group"), "{e}");
        let e = branch("main", r"{\1}").validate().unwrap_err();
        assert!(e.contains("not a regex"), "{e}");
        let e = branch("main", "{branch}").validate().unwrap_err();
        assert!(e.contains("unknown placeholder {branch}"), "{e}");
        let e = branch("main", "v{sourceref").validate().unwrap_err();
        assert!(e.contains("without its '}'"), "{e}");
        let e = branch("main", "v}").validate().unwrap_err();
        assert!(e.contains("without its '{'"), "{e}");
        let e = branch("/x/", r"{\}").validate().unwrap_err();
        assert!(e.contains("unknown placeholder"), "{e}");
        // The bad rule builds nothing rather than a wrong tag.
        assert_eq!(tag(two_groups, r"{\3}").tag_for(RefKind::Tag, "v1.2"), None);
        assert_eq!(
            branch("main", "{branch}").tag_for(RefKind::Branch, "main"),
            None
        );
    }

    #[test]
    fn literal_tags_and_template_text_follow_the_tag_grammar() {
        for ok in ["latest", "_x", "v1.0", "A-b_c.d", &"t".repeat(128)] {
            branch("main", ok).validate().unwrap();
        }
        for bad in ["", ".x", "-x", "a/b", "a:b", "a b", "é", &"t".repeat(129)] {
            assert!(branch("main", bad).validate().is_err(), "{bad:?}");
        }
        let e = branch("main", "a:b").validate().unwrap_err();
        assert!(e.contains("not a valid Docker tag"), "{e}");
        let e = branch("main", "{sourceref}:x").validate().unwrap_err();
        assert!(e.contains("cannot give a valid Docker tag"), "{e}");
        assert!(branch("main", "-{sourceref}").validate().is_err());
        branch("main", "{sourceref}-dev").validate().unwrap();
    }

    #[test]
    fn source_regexes_must_compile_within_a_size_limit() {
        let e = tag("/^v([0-9/", "x").validate().unwrap_err();
        assert!(e.contains("does not compile"), "{e}");
        let e = tag("//", "x").validate().unwrap_err();
        assert!(e.contains("empty"), "{e}");
        let e = tag("/(a{1000}){1000}/", "x").validate().unwrap_err();
        assert!(e.contains("too large"), "{e}");
        // Lookaround is not in Rust's regex dialect: refused at save time, not at push.
        assert!(tag("/^(?!v)/", "x").validate().is_err());
        assert_eq!(
            tag("/(a{1000}){1000}/", "x").tag_for(RefKind::Tag, "a"),
            None
        );
        let e = branch("", "x").validate().unwrap_err();
        assert!(e.contains("cannot be empty"), "{e}");
        assert!(branch(&"a".repeat(256), "x").validate().is_err());
    }

    #[test]
    fn literal_sources_are_names_git_allows() {
        for ok in ["main", "feat/x", "release-1.0", "v1.0.0", "UPPER"] {
            branch(ok, "latest").validate().unwrap();
        }
        for bad in [
            "a b", "a..b", "-main", "a~1", "a^", "a:b", "a?", "a*", "a[", "a\\b", "x/", "x.",
            "x.lock", ".x", "a/.b", "a//b", "a@{1}", "a\u{7}",
        ] {
            let e = branch(bad, "latest").validate().unwrap_err();
            assert!(e.contains("between slashes"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn paths_stay_inside_the_repository() {
        let with = |dockerfile: &str, context: &str| Rule {
            dockerfile: dockerfile.into(),
            context: context.into(),
            ..branch("main", "latest")
        };
        for (d, c) in [
            ("Dockerfile", "."),
            ("docker/app.Dockerfile", "services/app"),
            ("./Dockerfile", "./"),
            ("a..b/Dockerfile", "x..y"),
        ] {
            with(d, c).validate().unwrap();
        }
        for (d, c, needle) in [
            ("../Dockerfile", ".", "leave the repository"),
            ("a/../../Dockerfile", ".", "leave the repository"),
            ("Dockerfile", "..", "leave the repository"),
            ("Dockerfile", "a/..", "leave the repository"),
            ("/etc/passwd", ".", "not absolute"),
            ("Dockerfile", "/", "not absolute"),
            ("Docker\0file", ".", "control characters"),
            ("", ".", "cannot be empty"),
            ("Dockerfile", "", "cannot be empty"),
            ("docker/", ".", "names a directory"),
            (".", ".", "names a directory"),
        ] {
            let e = with(d, c).validate().unwrap_err();
            assert!(e.contains(needle), "{d:?} {c:?}: {e}");
        }
        with(&format!("{}D", "d/".repeat(255)), ".")
            .validate()
            .unwrap();
        assert!(with(&"d".repeat(513), ".").validate().is_err());
    }

    #[test]
    fn build_args_are_bounded_and_named_like_variables() {
        let with = |args: &[(&str, &str)]| Rule {
            build_args: args
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..branch("main", "latest")
        };
        with(&[("GO_VERSION", "1.22"), ("_x", ""), ("a1", "v")])
            .validate()
            .unwrap();
        for bad in ["1A", "A-B", "A B", "", "É"] {
            let e = with(&[(bad, "v")]).validate().unwrap_err();
            assert!(e.contains("build argument name"), "{bad:?}: {e}");
        }
        let long = "v".repeat(4097);
        let e = with(&[("A", &long)]).validate().unwrap_err();
        assert!(e.contains("longer than 4096"), "{e}");
        with(&[("A", &"v".repeat(4096))]).validate().unwrap();
        assert!(with(&[("A", "a\0b")]).validate().is_err());
        let many: Vec<(String, String)> = (0..65).map(|i| (format!("A{i}"), "v".into())).collect();
        let refs: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let e = with(&refs).validate().unwrap_err();
        assert!(e.contains("at most 64"), "{e}");
        with(&refs[..64]).validate().unwrap();
    }

    #[test]
    fn a_rule_list_names_the_rule_that_fails_and_is_bounded() {
        let rules = [branch("main", "latest"), tag("/(/", "x")];
        let e = validate_rules(&rules).unwrap_err();
        assert!(e.starts_with("rule 2: "), "{e}");
        let many = vec![branch("main", "latest"); 51];
        let e = validate_rules(&many).unwrap_err();
        assert!(e.contains("at most 50"), "{e}");
        validate_rules(&many[..50]).unwrap();
        validate_rules(&[]).unwrap();
    }

    #[test]
    fn rules_read_from_json_take_docker_hubs_defaults_and_refuse_unknown_fields() {
        let r: Rule =
            serde_json::from_str(r#"{"source_type":"tag","source":"/.*/","tag":"{sourceref}"}"#)
                .unwrap();
        assert_eq!(r.dockerfile, "Dockerfile");
        assert_eq!(r.context, ".");
        assert!(r.autobuild);
        assert!(r.build_args.is_empty());
        let back: Rule = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
        assert!(serde_json::from_str::<Rule>(
            r#"{"source_type":"tag","source":"x","tag":"y","dockerFile":"D"}"#
        )
        .is_err());
        assert!(
            serde_json::from_str::<Rule>(r#"{"source_type":"commit","source":"x","tag":"y"}"#)
                .is_err()
        );
    }
}
