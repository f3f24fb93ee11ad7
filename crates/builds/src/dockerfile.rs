//! The base images of a Dockerfile, for "rebuild when the base image is pushed": the images
//! its stages build `FROM`, read the way Docker's parser reads them, without running a build.
//!
//! Only what decides a `FROM` line is followed: parser directives (`# escape=`` ` changes the
//! line-continuation character), comments, line continuations, heredocs (whose bodies are not
//! instructions), and the `ARG`s declared before the first `FROM`, which are the only variables
//! a `FROM` can use. As in Docker, a build argument only sets an `ARG` the Dockerfile declares.

use std::collections::{BTreeMap, HashMap};

use berth_registry::names;

/// The global `ARG`s: a name maps to its value, or to `None` when declared without a default
/// and given no build argument (Docker then expands it to nothing, which never makes a usable
/// image name, so such a `FROM` is left out).
type Args = HashMap<String, Option<String>>;

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Expands `$NAME`, `${NAME}`, `${NAME:-default}` and `${NAME:+alternative}` in `text`.
/// `None` when a variable is unresolved or the syntax is one this reader does not follow.
fn expand(text: &str, args: &Args, escape: char) -> Option<String> {
    let value = |name: &str| args.get(name).and_then(|v| v.as_deref());
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == escape && chars.peek() == Some(&'$') {
            out.push('$');
            chars.next();
            continue;
        }
        if c != '$' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some('{') => {
                chars.next();
                // The body up to the matching brace (a default may hold `${…}` itself).
                let mut body = String::new();
                let mut depth = 1;
                for c in chars.by_ref() {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    if depth == 0 {
                        break;
                    }
                    body.push(c);
                }
                if depth != 0 {
                    return None;
                }
                let name_len = body
                    .char_indices()
                    .find(|&(_, c)| !is_name_char(c))
                    .map_or(body.len(), |(i, _)| i);
                let (name, modifier) = body.split_at(name_len);
                if !name.starts_with(is_name_start) {
                    return None;
                }
                let set = value(name).filter(|v| !v.is_empty());
                if modifier.is_empty() {
                    out.push_str(value(name)?);
                } else if let Some(default) = modifier.strip_prefix(":-") {
                    match set {
                        Some(v) => out.push_str(v),
                        None => out.push_str(&expand(default, args, escape)?),
                    }
                } else if let Some(alternative) = modifier.strip_prefix(":+") {
                    if set.is_some() {
                        out.push_str(&expand(alternative, args, escape)?);
                    }
                } else {
                    return None;
                }
            }
            Some(&c) if is_name_start(c) => {
                let mut name = String::new();
                while let Some(&c) = chars.peek() {
                    if !is_name_char(c) {
                        break;
                    }
                    name.push(c);
                    chars.next();
                }
                out.push_str(value(&name)?);
            }
            _ => out.push('$'),
        }
    }
    Some(out)
}

/// Splits an instruction's arguments into words as Docker does for `ARG`: whitespace
/// separates, quotes group and are removed, the escape character keeps the next character.
fn words(text: &str, escape: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => word.push(c),
            (_, c) if c == escape => {
                // Kept for `expand`, which reads an escaped `$` as a literal one.
                if let Some(next) = chars.next() {
                    if next == '$' {
                        word.push(escape);
                    }
                    word.push(next);
                }
                in_word = true;
            }
            (_, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(word);
    }
    out
}

/// The terminators of the heredocs an instruction opens (`<<EOF`, `<<-EOF`, `<<"EOF"`), in
/// order, with whether leading tabs are stripped before comparing (`<<-`).
fn heredocs(instruction: &str) -> Vec<(String, bool)> {
    let mut found = Vec::new();
    let mut rest = instruction;
    while let Some(at) = rest.find("<<") {
        let mut after = &rest[at + 2..];
        let strip_tabs = after.starts_with('-');
        if strip_tabs {
            after = &after[1..];
        }
        let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'');
        if let Some(q) = quote {
            after = &after[q.len_utf8()..];
        }
        let len = after
            .char_indices()
            .find(|&(_, c)| !is_name_char(c))
            .map_or(after.len(), |(i, _)| i);
        let word = &after[..len];
        let closed = quote.is_none_or(|q| after[len..].starts_with(q));
        if word.starts_with(is_name_start) && closed {
            found.push((word.to_owned(), strip_tabs));
        }
        rest = &rest[at + 2..];
    }
    found
}

/// The escape character the parser directives at the top of a Dockerfile choose.
fn escape_directive(dockerfile: &str) -> char {
    for line in dockerfile.lines() {
        let Some(directive) = line.trim().strip_prefix('#') else {
            break;
        };
        let Some((key, value)) = directive.split_once('=') else {
            break;
        };
        let key = key.trim();
        if key.is_empty() || !key.chars().all(is_name_char) {
            break;
        }
        if key.eq_ignore_ascii_case("escape") {
            match value.trim() {
                "`" => return '`',
                "\\" => return '\\',
                _ => {}
            }
        }
    }
    '\\'
}

/// The logical instructions of a Dockerfile: continuations joined, comments, blank lines and
/// heredoc bodies dropped.
fn instructions(dockerfile: &str, escape: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut lines = dockerfile.lines();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        // Blank lines inside a continuation are skipped too, as Docker still accepts them.
        if trimmed.starts_with('#') || trimmed.is_empty() {
            continue;
        }
        let line = line.trim_end();
        if let Some(continued) = line.strip_suffix(escape) {
            current.push_str(continued);
            current.push(' ');
            continue;
        }
        current.push_str(line);
        let instruction = std::mem::take(&mut current);
        for (terminator, strip_tabs) in heredocs(&instruction) {
            for body in lines.by_ref() {
                let body = if strip_tabs {
                    body.trim_start_matches('\t')
                } else {
                    body
                };
                if body == terminator {
                    break;
                }
            }
        }
        out.push(instruction);
    }
    if !current.trim().is_empty() {
        out.push(current);
    }
    out
}

/// The images a Dockerfile builds FROM, in order, without `scratch`, without earlier stages'
/// names (`FROM builder`), with `--platform=…` flags skipped, line continuations (`\`) joined,
/// comments and parser directives ignored, and `ARG` defaults before the first FROM plus
/// `build_args` substituted for `$NAME` / `${NAME}` / `${NAME:-default}`. A FROM whose image
/// still holds an unresolved variable is left out. An image named twice is listed once.
pub fn base_images(dockerfile: &str, build_args: &BTreeMap<String, String>) -> Vec<String> {
    let escape = escape_directive(dockerfile);
    let mut args = Args::new();
    let mut stages: Vec<String> = Vec::new();
    let mut images: Vec<String> = Vec::new();
    let mut seen_from = false;
    for instruction in instructions(dockerfile, escape) {
        let instruction = instruction.trim();
        let (keyword, rest) = instruction
            .split_once(char::is_whitespace)
            .unwrap_or((instruction, ""));
        if keyword.eq_ignore_ascii_case("ARG") && !seen_from {
            for word in words(rest, escape) {
                let (name, default) = match word.split_once('=') {
                    Some((name, default)) => (name, Some(default)),
                    None => (word.as_str(), None),
                };
                let value = match build_args.get(name) {
                    Some(given) => Some(given.clone()),
                    None => default.and_then(|d| expand(d, &args, escape)),
                };
                args.insert(name.to_owned(), value);
            }
        } else if keyword.eq_ignore_ascii_case("FROM") {
            seen_from = true;
            let mut parts = rest.split_whitespace().filter(|w| !w.starts_with("--"));
            let Some(image) = parts.next() else {
                continue;
            };
            let stage = match (parts.next(), parts.next()) {
                (Some(as_), Some(name)) if as_.eq_ignore_ascii_case("as") => {
                    expand(name, &args, escape)
                }
                _ => None,
            };
            let image = expand(image, &args, escape)
                .filter(|i| !i.is_empty() && !i.contains(char::is_whitespace));
            if let Some(image) = image {
                let is_stage = stages.iter().any(|s| s.eq_ignore_ascii_case(&image));
                if !is_stage && !image.eq_ignore_ascii_case("scratch") && !images.contains(&image) {
                    images.push(image);
                }
            }
            stages.extend(stage);
        }
    }
    images
}

/// If `image` (as written in FROM) names an image in this Berth — its host part equals
/// `registry_host` (e.g. `127.0.0.1:5000`, `registry.example`; compared without regard to
/// case) — its repository and tag (`latest` when none; `None` for digest references
/// `@sha256:…`, which a push never changes, and for names that are not valid repositories).
pub fn in_registry(image: &str, registry_host: &str) -> Option<(String, String)> {
    let (host, rest) = image.split_once('/')?;
    if registry_host.is_empty() || !host.eq_ignore_ascii_case(registry_host) || rest.contains('@') {
        return None;
    }
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (repository, tag) = match rest[last_slash..].rfind(':') {
        Some(colon) => rest.split_at(last_slash + colon),
        None => (rest, ":latest"),
    };
    let tag = &tag[1..];
    (names::validate_name(repository).is_ok() && names::is_tag(tag))
        .then(|| (repository.to_owned(), tag.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images(dockerfile: &str) -> Vec<String> {
        base_images(dockerfile, &BTreeMap::new())
    }

    fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_multi_stage_build_lists_its_external_bases_in_order() {
        let dockerfile = "\
# syntax=docker/dockerfile:1
FROM --platform=$BUILDPLATFORM golang:1.22 AS builder
WORKDIR /src
COPY . .
RUN go build -o /app ./cmd/app

from   Builder as tested
RUN go test ./...

FROM registry.example/base/runtime:3 AS runtime
COPY --from=builder /app /app

FROM scratch
COPY --from=runtime /app /app
FROM tested
";
        assert_eq!(
            images(dockerfile),
            ["golang:1.22", "registry.example/base/runtime:3"]
        );
    }

    #[test]
    fn global_args_and_build_args_fill_variables() {
        let dockerfile = "\
ARG REGISTRY=127.0.0.1:5000
ARG VARIANT=alpine IMAGE=\"${REGISTRY}/team/base\"
ARG TAG
FROM ${IMAGE}:${VARIANT}
FROM $REGISTRY/team/tools:${TAG:-stable}
FROM debian:${TAG}
FROM ubuntu:${MISSING}
FROM node:${VARIANT:+lts}-${VARIANT}
";
        assert_eq!(
            images(dockerfile),
            [
                "127.0.0.1:5000/team/base:alpine",
                "127.0.0.1:5000/team/tools:stable",
                "node:lts-alpine",
            ]
        );
        // A build argument sets a declared ARG, default or not.
        assert_eq!(
            base_images(
                dockerfile,
                &args(&[
                    ("TAG", "bookworm"),
                    ("VARIANT", "slim"),
                    ("MISSING", "22.04")
                ])
            ),
            [
                "127.0.0.1:5000/team/base:slim",
                "127.0.0.1:5000/team/tools:bookworm",
                "debian:bookworm",
                "node:lts-slim",
            ]
        );
    }

    #[test]
    fn args_after_the_first_from_do_not_reach_later_froms() {
        let dockerfile = "\
ARG BASE=alpine:3.19
FROM $BASE
ARG BASE=debian:12
ARG OTHER=busybox
FROM $BASE AS second
FROM $OTHER
";
        assert_eq!(images(dockerfile), ["alpine:3.19"]);
        // Nor does a build argument the Dockerfile never declares, as in Docker.
        assert_eq!(
            base_images("FROM $IMG\n", &args(&[("IMG", "alpine")])),
            Vec::<String>::new()
        );
    }

    #[test]
    fn continuations_comments_and_blank_lines() {
        let dockerfile = "\
ARG A=one \\
    B=two
FROM \\
  # a comment inside a continuation is dropped
  --platform=linux/amd64 \\

  example.org/${A}/${B}:1 \\
  AS base
   # indented comment
RUN echo FROM not-an-image
FROM base
\tFROM\talpine:3\r
";
        assert_eq!(images(dockerfile), ["example.org/one/two:1", "alpine:3"]);
    }

    #[test]
    fn the_escape_directive_changes_the_continuation_character() {
        let dockerfile = "\
# escape=`

FROM mcr.microsoft.com/windows/servercore:ltsc2022 `
  AS build
RUN dir C:\\
FROM build
FROM mcr.microsoft.com/windows/nanoserver:ltsc2022
";
        assert_eq!(
            images(dockerfile),
            [
                "mcr.microsoft.com/windows/servercore:ltsc2022",
                "mcr.microsoft.com/windows/nanoserver:ltsc2022",
            ]
        );
        // A directive after an instruction or blank line is just a comment.
        let late = "FROM a:1\n# escape=`\nFROM b:1 `\nFROM c:1\n";
        assert_eq!(images(late), ["a:1", "b:1", "c:1"]);
    }

    #[test]
    fn heredoc_bodies_are_not_instructions() {
        let dockerfile = "\
FROM alpine:3
RUN <<EOF
FROM evil:1
echo hi
EOF
COPY <<-\"CONF\" /etc/app.conf
\tFROM also-not:2
\tCONF
RUN cat <<'A' > /a && cat <<B > /b
FROM not-a:1
A
FROM not-b:1
B
FROM busybox:1
";
        assert_eq!(images(dockerfile), ["alpine:3", "busybox:1"]);
    }

    #[test]
    fn repeated_and_odd_froms() {
        assert_eq!(
            images("FROM alpine\nFROM alpine\nFROM SCRATCH\nFROM\nFROM --platform=x\n"),
            ["alpine"]
        );
        // A digest-pinned image is still a base image (the in-registry check drops it).
        assert_eq!(
            images("FROM alpine@sha256:0123 AS a\n"),
            ["alpine@sha256:0123"]
        );
        // An escaped `$` is a literal one, and an unterminated `${` resolves nothing.
        assert_eq!(images("ARG X=1\nFROM a:${X\nFROM b:$X\n"), ["b:1"]);
        // Unsupported expansions are left out rather than guessed.
        assert_eq!(images("ARG X=1\nFROM a:${X#1}\n"), Vec::<String>::new());
        // Declared empty, a variable expands to nothing, as in Docker.
        assert_eq!(images("ARG T=\nFROM alpine${T}\n"), ["alpine"]);
        assert!(images("").is_empty());
        assert!(images("# only a comment\n\n").is_empty());
    }

    #[test]
    fn images_in_this_registry_give_repository_and_tag() {
        let host = "127.0.0.1:5000";
        assert_eq!(
            in_registry("127.0.0.1:5000/team/base:3.1", host),
            Some(("team/base".into(), "3.1".into()))
        );
        assert_eq!(
            in_registry("127.0.0.1:5000/team/base", host),
            Some(("team/base".into(), "latest".into()))
        );
        assert_eq!(
            in_registry("REGISTRY.example/a/b/c:v1", "registry.example"),
            Some(("a/b/c".into(), "v1".into()))
        );
        for other in [
            "127.0.0.1:5000/team/base@sha256:abcd",
            "127.0.0.1:5000/team/base:3@sha256:abcd",
            "127.0.0.1:5001/team/base:3",
            "127.0.0.1/team/base:3",
            "team/base:3",
            "alpine",
            "docker.io/library/alpine:3",
            "127.0.0.1:5000/Team/Base:3",
            "127.0.0.1:5000/team/base:",
            "127.0.0.1:5000/team/base:-x",
            "127.0.0.1:5000/",
            "127.0.0.1:5000",
        ] {
            assert_eq!(in_registry(other, host), None, "{other}");
        }
        assert_eq!(in_registry("x/a:1", ""), None);
        // A port-looking colon in a later path component is not a tag.
        assert_eq!(
            in_registry("registry.example/a/b", "registry.example"),
            Some(("a/b".into(), "latest".into()))
        );
    }

    #[test]
    fn variable_expansion() {
        let mut vars = Args::new();
        vars.insert("SET".into(), Some("v".into()));
        vars.insert("EMPTY".into(), Some(String::new()));
        vars.insert("DECLARED".into(), None);
        let e = |s: &str| expand(s, &vars, '\\');
        assert_eq!(e("a-$SET-${SET}").as_deref(), Some("a-v-v"));
        assert_eq!(e("${EMPTY:-d}${UNSET:-x${SET}}").as_deref(), Some("dxv"));
        assert_eq!(e("${SET:+alt}${EMPTY:+no}").as_deref(), Some("alt"));
        assert_eq!(e("$EMPTY").as_deref(), Some(""));
        assert_eq!(e("$DECLARED"), None);
        assert_eq!(e("${DECLARED:-fallback}").as_deref(), Some("fallback"));
        assert_eq!(e("$UNSET"), None);
        assert_eq!(e("\\$SET $ $1").as_deref(), Some("$SET $ $1"));
        assert_eq!(e("${1X}"), None);
    }
}
