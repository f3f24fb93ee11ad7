//! Canonical JSON as Notary and TUF sign it: object keys in byte order, no whitespace, and
//! only `"` and `\` escaped in strings. Signatures cover the canonical form of `signed`, so
//! Berth must produce exactly the bytes a Notary client does.

use serde_json::Value;

/// The canonical bytes of `value`. Fails on floating-point numbers, which have no canonical
/// form.
pub fn encode(value: &Value) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    write(value, &mut out)?;
    Ok(out)
}

fn write(value: &Value, out: &mut Vec<u8>) -> Result<(), String> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => {
            let text = match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => i.to_string(),
                (None, Some(u)) => u.to_string(),
                _ => return Err(format!("the number {n} is not an integer")),
            };
            out.extend_from_slice(text.as_bytes());
        }
        Value::String(s) => string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                string(key, out);
                out.push(b':');
                write(item, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for b in s.bytes() {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_sort_and_only_quotes_and_backslashes_escape() {
        let v = json!({"b": [1, -2, true, null], "a": {"z": "x\"y\\z<&>\n", "y": {}}});
        assert_eq!(
            String::from_utf8(encode(&v).unwrap()).unwrap(),
            "{\"a\":{\"y\":{},\"z\":\"x\\\"y\\\\z<&>\n\"},\"b\":[1,-2,true,null]}"
        );
        assert!(encode(&json!({"f": 1.5})).is_err());
    }
}
