//! The build-status badge a README embeds: a shields.io-style flat SVG, `build | <status>`.

/// Left-hand grey, shields' default label colour.
const LABEL_COLOUR: &str = "#555";
const GREEN: &str = "#4c1";
const RED: &str = "#e05d44";
const GREY: &str = "#9f9f9f";
const BLUE: &str = "#007ec6";
/// Horizontal padding on each side of each text, in pixels.
const PAD: u32 = 6;
/// Longest status shown, in characters; a longer one is cut with `…`.
const MAX_STATUS_CHARS: usize = 32;

/// The colour of a status: green success, red failure, grey cancelled or never built, blue for
/// anything still on its way (queued, cloning, building, pushing, …).
fn colour(status: Option<&str>) -> &'static str {
    let Some(status) = status else {
        return GREY;
    };
    match status.to_ascii_lowercase().as_str() {
        "success" | "succeeded" | "passed" | "passing" => GREEN,
        "failed" | "failure" | "error" | "errored" | "timed_out" | "timeout" => RED,
        "cancelled" | "canceled" => GREY,
        _ => BLUE,
    }
}

/// Approximate advance of one character of 11px Verdana, in pixels: enough to size a badge
/// without shipping font metrics.
fn char_width(c: char) -> f32 {
    match c {
        'i' | 'j' | 'l' | '!' | '|' | '.' | ',' | ':' | ';' | '\'' => 3.1,
        ' ' | 'f' | 'r' | 't' | 'I' | '(' | ')' | '[' | ']' | '/' | '-' => 4.6,
        'm' | 'w' => 10.7,
        'M' | 'W' => 11.5,
        c if c.is_ascii_uppercase() => 7.7,
        c if c.is_ascii() => 7.0,
        // Wide scripts and symbols: better too wide than clipped.
        _ => 11.0,
    }
}

fn text_width(text: &str) -> u32 {
    text.chars().map(char_width).sum::<f32>().ceil() as u32
}

/// `text` safe inside XML text and attribute values.
fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Not allowed in XML 1.0 at all.
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A shields-style flat SVG badge: left "build", right the status text with a colour
/// (success green #4c1, failed red #e05d44, cancelled grey #9f9f9f, running states blue #007ec6,
/// none "never built" grey). Text XML-escaped, widths from a simple per-char estimate. Include
/// <title> and aria-label for accessibility.
pub fn svg(status: Option<&str>) -> String {
    let label = "build";
    let mut value: String = status
        .unwrap_or("never built")
        .chars()
        .take(MAX_STATUS_CHARS)
        .collect();
    if status.is_some_and(|s| s.chars().count() > MAX_STATUS_CHARS) {
        value.pop();
        value.push('…');
    }
    let colour = colour(status);
    let left = text_width(label) + 2 * PAD;
    let right = text_width(&value) + 2 * PAD;
    let total = left + right;
    // Text centres in tenths of a pixel, so odd widths stay centred.
    let (left_x, right_x) = (left * 5, left * 10 + right * 5);
    let title = xml_escape(&format!("{label}: {value}"));
    let label = xml_escape(label);
    let value = xml_escape(&value);
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" aria-label="{title}"><title>{title}</title><linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient><clipPath id="r"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath><g clip-path="url(#r)"><rect width="{left}" height="20" fill="{LABEL_COLOUR}"/><rect x="{left}" width="{right}" height="20" fill="{colour}"/><rect width="{total}" height="20" fill="url(#s)"/></g><g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" text-rendering="geometricPrecision" font-size="110"><text aria-hidden="true" x="{left_x}" y="150" fill="#010101" fill-opacity=".3" transform="scale(.1)">{label}</text><text x="{left_x}" y="140" transform="scale(.1)">{label}</text><text aria-hidden="true" x="{right_x}" y="150" fill="#010101" fill-opacity=".3" transform="scale(.1)">{value}</text><text x="{right_x}" y="140" transform="scale(.1)">{value}</text></g></svg>"##
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr<'a>(svg: &'a str, name: &str) -> &'a str {
        let start = svg.find(&format!(" {name}=\"")).expect("attribute") + name.len() + 3;
        let len = svg[start..].find('"').expect("closing quote");
        &svg[start..start + len]
    }

    #[test]
    fn each_outcome_has_its_colour_and_text() {
        for (status, colour, text) in [
            (Some("success"), "#4c1", "success"),
            (Some("failed"), "#e05d44", "failed"),
            (Some("cancelled"), "#9f9f9f", "cancelled"),
            (Some("queued"), "#007ec6", "queued"),
            (Some("building"), "#007ec6", "building"),
            (Some("pushing"), "#007ec6", "pushing"),
            (None, "#9f9f9f", "never built"),
        ] {
            let svg = svg(status);
            assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
            assert!(svg.ends_with("</svg>"));
            assert!(
                svg.contains(&format!("fill=\"{colour}\"")),
                "{status:?}: {svg}"
            );
            assert!(svg.contains(&format!(">{text}</text>")), "{status:?}");
            assert_eq!(attr(&svg, "aria-label"), format!("build: {text}"));
            assert!(svg.contains(&format!("<title>build: {text}</title>")));
            assert!(svg.contains(">build</text>"));
        }
    }

    #[test]
    fn the_badge_grows_with_its_text() {
        let short = svg(Some("ok"));
        let long = svg(Some("waiting for a builder"));
        let width = |s: &str| attr(s, "width").parse::<u32>().expect("number");
        assert!(width(&long) > width(&short) + 60, "{short}\n{long}");
        // Wide letters take more room than narrow ones.
        assert!(width(&svg(Some("mmmm"))) > width(&svg(Some("iiii"))));
        // A huge status is cut rather than making a huge badge.
        let huge = svg(Some(&"x".repeat(10_000)));
        assert!(width(&huge) < 400, "{}", width(&huge));
        assert!(huge.contains("…</text>"));
    }

    #[test]
    fn status_text_is_escaped() {
        let svg = svg(Some("<script>&\"'\u{1}"));
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(
            svg.contains("&lt;script&gt;&amp;&quot;&apos;\u{fffd}</text>"),
            "{svg}"
        );
        assert_eq!(
            attr(&svg, "aria-label"),
            "build: &lt;script&gt;&amp;&quot;&apos;\u{fffd}"
        );
    }
}
