//! Generated avatars (identicons): a symmetric 5×5 pattern in one colour, both taken from a hash
//! of the account's name, served as SVG at `/avatars/{name}.svg`. The same name always gets the
//! same picture, so it is cached for a day; any well-formed name gets one, so the address says
//! nothing about whether an account exists.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

/// FNV-1a over `name` with `seed`, to draw bits from.
fn hash(name: &str, seed: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // FNV's low bits mix poorly for short inputs: fold the high half in.
    h ^ (h >> 29)
}

/// The identicon of `name`, as an SVG document.
pub fn identicon(name: &str) -> String {
    let bits = hash(name, 0);
    let hue = hash(name, 0x9e37_79b9) % 360;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 70 70\" width=\"70\" height=\"70\">\
         <rect width=\"70\" height=\"70\" fill=\"hsl({hue}, 30%, 93%)\"/>\
         <g fill=\"hsl({hue}, 55%, 45%)\">"
    );
    // Columns 0–2 from the hash, mirrored to 3–4; at least one cell is always drawn.
    let mut drawn = 0;
    for col in 0..3u64 {
        for row in 0..5u64 {
            if (bits >> (col * 5 + row)) & 1 == 1 {
                drawn += 1;
                for c in [col, 4 - col] {
                    svg.push_str(&format!(
                        "<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\"/>",
                        5 + c * 12,
                        5 + row * 12
                    ));
                    if c == 2 {
                        break;
                    }
                }
            }
        }
    }
    if drawn == 0 {
        svg.push_str("<rect x=\"29\" y=\"29\" width=\"12\" height=\"12\"/>");
    }
    svg.push_str("</g></svg>");
    svg
}

/// Whether `name` could be an account's name (the check that keeps odd paths out).
fn plausible(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

/// `GET /avatars/{name}.svg`.
pub async fn serve(file: web::Path<String>) -> HttpResponse {
    let Some(name) = file.strip_suffix(".svg").filter(|n| plausible(n)) else {
        return HttpResponse::NotFound().finish();
    };
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; sandbox",
        ))
        .body(identicon(name))
}

#[cfg(test)]
mod tests {
    use super::identicon;

    #[test]
    fn same_name_same_picture_other_name_other_picture() {
        assert_eq!(identicon("acme"), identicon("acme"));
        assert_ne!(identicon("acme"), identicon("acne"));
        assert!(identicon("acme").starts_with("<svg"));
    }
}
