//! Markdown from users (READMEs, comments) rendered to HTML that is safe to embed: CommonMark
//! with tables and strikethrough, then cleaned by `ammonia`, which keeps only harmless tags and
//! attributes and only `http`, `https` and `mailto` links, so a `<script>` or a `javascript:`
//! link comes out inert.
//!
//! On top of CommonMark: task lists (disabled checkboxes), GitHub's `> [!NOTE]` alerts, bare
//! `https://` addresses made links, and fenced code highlighted on the server with classes
//! (`highlight`). Images from other hosts are kept when they are `https:` (the CSP allows those,
//! so badges show) and are loaded lazily with no referrer; `http:` images are dropped.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::OnceLock;

use pulldown_cmark::{html, CodeBlockKind, CowStr, Event, LinkType, Options, Parser, Tag, TagEnd};

use crate::highlight;

/// Classes the renderer itself writes; ammonia drops any other class a user types.
const HIGHLIGHT_CLASSES: [&str; 4] = ["hl-k", "hl-s", "hl-c", "hl-n"];
const ALERT_CLASSES: [&str; 5] = [
    "markdown-alert-note",
    "markdown-alert-tip",
    "markdown-alert-important",
    "markdown-alert-warning",
    "markdown-alert-caution",
];

fn cleaner() -> &'static ammonia::Builder<'static> {
    static CLEANER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    CLEANER.get_or_init(|| {
        let mut b = ammonia::Builder::default();
        b.url_schemes(HashSet::from(["http", "https", "mailto"]))
            .link_rel(Some("nofollow noopener noreferrer"))
            // Task lists: every input is a disabled checkbox, whatever the source says.
            .add_tags(["input"])
            .add_tag_attributes("input", ["checked"])
            .set_tag_attribute_value("input", "type", "checkbox")
            .set_tag_attribute_value("input", "disabled", "")
            // Images from other hosts load without telling them which page showed them.
            .set_tag_attribute_value("img", "referrerpolicy", "no-referrer")
            .set_tag_attribute_value("img", "loading", "lazy")
            .add_allowed_classes("span", HIGHLIGHT_CLASSES)
            .add_allowed_classes("code", ["hl"])
            .add_allowed_classes("blockquote", ALERT_CLASSES)
            .attribute_filter(|element, attribute, value| {
                // The CSP allows images from `https:` only (and Berth's own), so an `http:`
                // image would only be a broken one.
                if element == "img" && attribute == "src" {
                    let lower = value.trim_start().to_ascii_lowercase();
                    if lower.starts_with("http:") || lower.starts_with("//") {
                        return None;
                    }
                }
                Some(Cow::Borrowed(value))
            });
        b
    })
}

/// Renders user Markdown to sanitized HTML.
pub fn render(source: &str) -> String {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    options.insert(Options::ENABLE_TASKLISTS);
    options.insert(Options::ENABLE_GFM);
    let mut raw = String::with_capacity(source.len() * 3 / 2);
    html::push_html(&mut raw, Enrich::new(Parser::new_ext(source, options)));
    cleaner().clean(&raw).to_string()
}

/// Turns fenced code blocks into highlighted HTML and bare `http(s)://` addresses in text into
/// links.
struct Enrich<'a, I> {
    inner: I,
    /// Inside a link (no links within links), an image's description or indented code.
    in_link: usize,
    /// The fenced block being collected: its language and its text.
    code: Option<(CowStr<'a>, String)>,
    queue: std::collections::VecDeque<Event<'a>>,
}

impl<'a, I: Iterator<Item = Event<'a>>> Enrich<'a, I> {
    fn new(inner: I) -> Self {
        Enrich {
            inner,
            in_link: 0,
            code: None,
            queue: Default::default(),
        }
    }

    /// Queues `text` as text and links.
    fn linkify(&mut self, text: CowStr<'a>) {
        let mut rest: &str = &text;
        let mut found = false;
        while let Some(start) = find_url(rest) {
            found = true;
            let candidate = &rest[start..];
            let mut end = candidate
                .find(|c: char| c.is_whitespace() || c == '<' || c == '>' || c == '"')
                .unwrap_or(candidate.len());
            // Sentence punctuation after an address is not part of it.
            while end > 0 && candidate[..end].ends_with(['.', ',', ';', ':', '!', '?', '\'', ')']) {
                if candidate[..end].ends_with(')')
                    && candidate[..end].matches('(').count()
                        >= candidate[..end].matches(')').count()
                {
                    break;
                }
                end -= 1;
            }
            let url = &candidate[..end];
            if url.len() <= "https://".len() {
                self.queue
                    .push_back(Event::Text(rest[..start + end.max(1)].to_owned().into()));
                rest = &rest[start + end.max(1)..];
                continue;
            }
            if start > 0 {
                self.queue
                    .push_back(Event::Text(rest[..start].to_owned().into()));
            }
            self.queue.push_back(Event::Start(Tag::Link {
                link_type: LinkType::Autolink,
                dest_url: url.to_owned().into(),
                title: "".into(),
                id: "".into(),
            }));
            self.queue.push_back(Event::Text(url.to_owned().into()));
            self.queue.push_back(Event::End(TagEnd::Link));
            rest = &candidate[end..];
        }
        if !found {
            self.queue.push_back(Event::Text(text));
        } else if !rest.is_empty() {
            self.queue.push_back(Event::Text(rest.to_owned().into()));
        }
    }
}

/// Where the next `http://` or `https://` address starts.
fn find_url(text: &str) -> Option<usize> {
    let lower = text.to_ascii_lowercase();
    let https = lower.find("https://");
    let http = lower.find("http://");
    match (https, http) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl<'a, I: Iterator<Item = Event<'a>>> Iterator for Enrich<'a, I> {
    type Item = Event<'a>;

    fn next(&mut self) -> Option<Event<'a>> {
        loop {
            if let Some(e) = self.queue.pop_front() {
                return Some(e);
            }
            let event = self.inner.next()?;
            match event {
                Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(lang))) => {
                    self.code = Some((lang, String::new()));
                }
                Event::Text(text) if self.code.is_some() => {
                    if let Some((_, body)) = self.code.as_mut() {
                        body.push_str(&text);
                    }
                }
                Event::End(TagEnd::CodeBlock) if self.code.is_some() => {
                    if let Some((lang, body)) = self.code.take() {
                        return Some(Event::Html(highlight::code_block(&lang, &body).into()));
                    }
                }
                // Addresses in indented code stay text, as in links and image descriptions.
                Event::Start(Tag::Link { .. } | Tag::Image { .. } | Tag::CodeBlock(_)) => {
                    self.in_link += 1;
                    return Some(event);
                }
                Event::End(TagEnd::Link | TagEnd::Image | TagEnd::CodeBlock) => {
                    self.in_link = self.in_link.saturating_sub(1);
                    return Some(event);
                }
                Event::Text(text) if self.in_link == 0 && find_url(&text).is_some() => {
                    self.linkify(text);
                }
                other => return Some(other),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn formats_markdown() {
        let html =
            render("# Title\n\nSome *text* and `code`.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n");
        assert!(html.contains("<h1>Title</h1>"), "{html}");
        assert!(html.contains("<em>text</em>"), "{html}");
        assert!(html.contains("<table>"), "{html}");
    }

    #[test]
    fn scripts_and_javascript_links_are_inert() {
        let html = render(
            "<script>alert(1)</script>\n\n[click](javascript:alert(2)) <img src=x onerror=alert(3)>\n\n<a href=\"javascript:alert(4)\">x</a>",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(!html.contains("onerror"), "{html}");
    }

    #[test]
    fn keeps_ordinary_links_with_safe_rel() {
        let html = render("[docs](https://example.com/docs)");
        assert!(html.contains("href=\"https://example.com/docs\""), "{html}");
        assert!(
            html.contains("rel=\"nofollow noopener noreferrer\""),
            "{html}"
        );
    }
}
