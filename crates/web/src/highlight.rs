//! Server-side highlighting of fenced code blocks in user Markdown: a small lexer that knows the
//! comments, strings, numbers and keywords of the languages READMEs show most (Rust, Go,
//! Python, shell, Dockerfile, YAML, JSON, TOML, JavaScript, C, SQL). It marks tokens with CSS
//! classes (`hl-k`, `hl-s`, `hl-c`, `hl-n`), never inline style, so the strict CSP holds and the
//! colours follow the light and dark themes in `berth.css`.

/// How one language is lexed.
struct Lang {
    line_comments: &'static [&'static str],
    block_comment: Option<(&'static str, &'static str)>,
    quotes: &'static [char],
    keywords: &'static [&'static str],
    /// Whether keywords match regardless of case (Dockerfile, SQL).
    fold_case: bool,
}

static RUST: Lang = Lang {
    line_comments: &["//"],
    block_comment: Some(("/*", "*/")),
    quotes: &['"'],
    keywords: &[
        "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum",
        "extern", "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move",
        "mut", "pub", "ref", "return", "self", "Self", "static", "struct", "super", "trait",
        "true", "type", "unsafe", "use", "where", "while",
    ],
    fold_case: false,
};

static GO: Lang = Lang {
    line_comments: &["//"],
    block_comment: Some(("/*", "*/")),
    quotes: &['"', '`', '\''],
    keywords: &[
        "break",
        "case",
        "chan",
        "const",
        "continue",
        "default",
        "defer",
        "else",
        "false",
        "for",
        "func",
        "go",
        "goto",
        "if",
        "import",
        "interface",
        "map",
        "nil",
        "package",
        "range",
        "return",
        "select",
        "struct",
        "switch",
        "true",
        "type",
        "var",
    ],
    fold_case: false,
};

static PYTHON: Lang = Lang {
    line_comments: &["#"],
    block_comment: None,
    quotes: &['"', '\''],
    keywords: &[
        "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class",
        "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global",
        "if", "import", "in", "is", "lambda", "not", "or", "pass", "raise", "return", "try",
        "while", "with", "yield",
    ],
    fold_case: false,
};

static SHELL: Lang = Lang {
    line_comments: &["#"],
    block_comment: None,
    quotes: &['"', '\''],
    keywords: &[
        "case", "do", "done", "elif", "else", "esac", "export", "fi", "for", "function", "if",
        "in", "local", "then", "until", "while", "docker", "podman", "skopeo", "curl",
    ],
    fold_case: false,
};

static DOCKERFILE: Lang = Lang {
    line_comments: &["#"],
    block_comment: None,
    quotes: &['"', '\''],
    keywords: &[
        "add",
        "arg",
        "as",
        "cmd",
        "copy",
        "entrypoint",
        "env",
        "expose",
        "from",
        "healthcheck",
        "label",
        "maintainer",
        "onbuild",
        "run",
        "shell",
        "stopsignal",
        "user",
        "volume",
        "workdir",
    ],
    fold_case: true,
};

static DATA: Lang = Lang {
    line_comments: &["#"],
    block_comment: None,
    quotes: &['"', '\''],
    keywords: &["true", "false", "null", "yes", "no", "on", "off"],
    fold_case: false,
};

static JSON: Lang = Lang {
    line_comments: &[],
    block_comment: None,
    quotes: &['"'],
    keywords: &["true", "false", "null"],
    fold_case: false,
};

static JAVASCRIPT: Lang = Lang {
    line_comments: &["//"],
    block_comment: Some(("/*", "*/")),
    quotes: &['"', '\'', '`'],
    keywords: &[
        "async",
        "await",
        "break",
        "case",
        "catch",
        "class",
        "const",
        "continue",
        "default",
        "delete",
        "do",
        "else",
        "export",
        "extends",
        "false",
        "finally",
        "for",
        "from",
        "function",
        "if",
        "import",
        "in",
        "instanceof",
        "interface",
        "let",
        "new",
        "null",
        "return",
        "switch",
        "this",
        "throw",
        "true",
        "try",
        "type",
        "typeof",
        "undefined",
        "var",
        "while",
        "yield",
    ],
    fold_case: false,
};

static C: Lang = Lang {
    line_comments: &["//"],
    block_comment: Some(("/*", "*/")),
    quotes: &['"', '\''],
    keywords: &[
        "auto",
        "break",
        "case",
        "char",
        "class",
        "const",
        "continue",
        "default",
        "do",
        "double",
        "else",
        "enum",
        "extern",
        "float",
        "for",
        "if",
        "include",
        "int",
        "long",
        "namespace",
        "return",
        "short",
        "signed",
        "sizeof",
        "static",
        "struct",
        "switch",
        "template",
        "typedef",
        "union",
        "unsigned",
        "void",
        "volatile",
        "while",
    ],
    fold_case: false,
};

static SQL: Lang = Lang {
    line_comments: &["--"],
    block_comment: Some(("/*", "*/")),
    quotes: &['\''],
    keywords: &[
        "alter", "and", "as", "by", "create", "delete", "from", "group", "index", "insert", "into",
        "join", "key", "limit", "not", "null", "on", "or", "order", "primary", "select", "set",
        "table", "update", "values", "where",
    ],
    fold_case: true,
};

fn lang(name: &str) -> Option<&'static Lang> {
    let name = name.trim().to_ascii_lowercase();
    Some(match name.as_str() {
        "rust" | "rs" => &RUST,
        "go" | "golang" => &GO,
        "python" | "py" => &PYTHON,
        "sh" | "bash" | "shell" | "console" | "zsh" => &SHELL,
        "dockerfile" | "docker" | "containerfile" => &DOCKERFILE,
        "yaml" | "yml" | "toml" | "ini" => &DATA,
        "json" => &JSON,
        "js" | "javascript" | "ts" | "typescript" => &JAVASCRIPT,
        "c" | "cpp" | "c++" | "h" => &C,
        "sql" => &SQL,
        _ => return None,
    })
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

fn span(out: &mut String, class: &str, text: &str) {
    out.push_str("<span class=\"");
    out.push_str(class);
    out.push_str("\">");
    escape_into(out, text);
    out.push_str("</span>");
}

/// The block `code` in `language` (the fence's info string) as escaped HTML, a whole
/// `<pre><code>` element; unknown languages are escaped and left plain.
pub fn code_block(language: &str, code: &str) -> String {
    let mut out = String::with_capacity(code.len() * 2 + 32);
    out.push_str("<pre><code class=\"hl\">");
    match lang(language.split([',', ' ']).next().unwrap_or_default()) {
        Some(lang) => lex(&mut out, lang, code),
        None => escape_into(&mut out, code),
    }
    out.push_str("</code></pre>\n");
    out
}

fn lex(out: &mut String, lang: &Lang, code: &str) {
    let mut rest = code;
    while let Some(c) = rest.chars().next() {
        // Comments run to the end of the line, or of the block.
        if let Some(marker) = lang.line_comments.iter().find(|m| rest.starts_with(**m)) {
            // `#` starts a comment only at a word's start (not `a#b`, nor `$#`).
            let at_word_start = out.is_empty()
                || out.ends_with(|p: char| p.is_whitespace() || p == '>' || p == ';');
            if *marker != "#" || at_word_start {
                let end = rest.find('\n').unwrap_or(rest.len());
                span(out, "hl-c", &rest[..end]);
                rest = &rest[end..];
                continue;
            }
        }
        if let Some((open, close)) = lang.block_comment {
            if rest.starts_with(open) {
                let end = rest[open.len()..]
                    .find(close)
                    .map_or(rest.len(), |i| open.len() + i + close.len());
                span(out, "hl-c", &rest[..end]);
                rest = &rest[end..];
                continue;
            }
        }
        if lang.quotes.contains(&c) {
            let mut end = rest.len();
            let mut escaped = false;
            for (i, ch) in rest.char_indices().skip(1) {
                if escaped {
                    escaped = false;
                } else if ch == '\\' && c != '`' {
                    escaped = true;
                } else if ch == c {
                    end = i + ch.len_utf8();
                    break;
                } else if ch == '\n' && c != '`' && c != '"' {
                    end = i;
                    break;
                }
            }
            span(out, "hl-s", &rest[..end]);
            rest = &rest[end..];
            continue;
        }
        if c.is_ascii_digit() {
            let end = rest
                .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '.' || ch == '_'))
                .unwrap_or(rest.len());
            span(out, "hl-n", &rest[..end]);
            rest = &rest[end..];
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let end = rest
                .find(|ch: char| !(ch.is_alphanumeric() || ch == '_'))
                .unwrap_or(rest.len());
            let word = &rest[..end];
            let keyword = if lang.fold_case {
                lang.keywords.iter().any(|k| k.eq_ignore_ascii_case(word))
            } else {
                lang.keywords.contains(&word)
            };
            if keyword {
                span(out, "hl-k", word);
            } else {
                escape_into(out, word);
            }
            rest = &rest[end..];
            continue;
        }
        let mut buf = [0u8; 4];
        escape_into(out, c.encode_utf8(&mut buf));
        rest = &rest[c.len_utf8()..];
    }
}

#[cfg(test)]
mod tests {
    use super::code_block;

    #[test]
    fn marks_keywords_strings_comments_and_numbers() {
        let html = code_block("rust", "fn main() { let s = \"<b>\"; // hi\n 42 }");
        assert!(html.contains("<span class=\"hl-k\">fn</span>"), "{html}");
        assert!(
            html.contains("<span class=\"hl-s\">&quot;&lt;b&gt;&quot;</span>"),
            "{html}"
        );
        assert!(html.contains("<span class=\"hl-c\">// hi</span>"), "{html}");
        assert!(html.contains("<span class=\"hl-n\">42</span>"), "{html}");
        assert!(!html.contains("style="), "{html}");
    }

    #[test]
    fn unknown_languages_are_escaped_plain() {
        let html = code_block("brainfuck", "<script>alert(1)</script>");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("<span"), "{html}");
    }

    #[test]
    fn dockerfile_keywords_ignore_case() {
        let html = code_block("Dockerfile", "FROM scratch\n# base\nCOPY a /b");
        assert!(html.contains("<span class=\"hl-k\">FROM</span>"), "{html}");
        assert!(
            html.contains("<span class=\"hl-c\"># base</span>"),
            "{html}"
        );
    }
}
