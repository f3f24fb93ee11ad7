//! A hostile-input sweep: every kind of route — the registry (`/v2/…`), the JSON API
//! (`/api/v1/…`), the token service, Docker's v1 search and the HTML pages — gets malformed and
//! hostile requests, sent byte for byte over raw TCP so that nothing is normalised or refused on
//! the way. Each must get a proper 4xx in the shape its family promises (the registry's
//! `{"errors":[…]}`, the API's `{"error":{…}}`, or a page), never a 5xx or a dropped connection,
//! and the server must still answer afterwards.

use crate::common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// What a response must look like, beyond its status.
#[derive(Clone, Copy, Debug)]
enum Shape {
    /// The registry's `{"errors":[{"code","message",…}]}`, with one of these codes (any if empty).
    Registry(&'static [&'static str]),
    /// The API's `{"error":{"code","message"}}`, with one of these codes (any if empty).
    Api(&'static [&'static str]),
    /// An HTML page.
    Page,
    /// A JSON document (a successful answer).
    Json,
    /// Whatever the HTTP layer answers for a request it cannot parse: only the status counts.
    Bare,
    /// No particular body (e.g. a blob, or a 416 without a body).
    Any,
}

struct Case {
    name: String,
    method: &'static str,
    /// Sent exactly as written, raw bytes included.
    target: Vec<u8>,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    /// Send the body with `Transfer-Encoding: chunked` instead of `Content-Length`.
    chunked: bool,
    statuses: &'static [u16],
    shape: Shape,
}

/// A case sent as the administrator (Basic with an access token) unless it sets its own
/// `Authorization` or is made anonymous.
fn case(name: impl Into<String>, method: &'static str, target: impl AsRef<[u8]>) -> Case {
    Case {
        name: name.into(),
        method,
        target: target.as_ref().to_vec(),
        headers: Vec::new(),
        body: Vec::new(),
        chunked: false,
        statuses: &[400],
        shape: Shape::Bare,
    }
}

impl Case {
    fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.headers
            .push((name.to_owned(), value.as_ref().to_vec()));
        self
    }

    fn body(mut self, body: impl AsRef<[u8]>) -> Self {
        self.body = body.as_ref().to_vec();
        self
    }

    fn json(self, body: impl AsRef<[u8]>) -> Self {
        self.header("Content-Type", "application/json").body(body)
    }

    fn form(self, body: impl AsRef<[u8]>) -> Self {
        self.header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
    }

    fn chunked(mut self) -> Self {
        self.chunked = true;
        self
    }

    fn expect(mut self, statuses: &'static [u16], shape: Shape) -> Self {
        self.statuses = statuses;
        self.shape = shape;
        self
    }

    fn anonymous(self) -> Self {
        self.header("Authorization", "")
    }
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body, short: a page's title, or the start of anything else.
    fn text(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        if let Some((_, rest)) = text.split_once("<title>") {
            return rest.split('<').next().unwrap_or_default().to_owned();
        }
        text.chars().take(300).collect()
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn dechunk(mut raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = find(raw, b"\r\n")?;
        let size_text = std::str::from_utf8(&raw[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(raw.get(..size)?);
        raw = raw.get(size + 2..)?;
    }
}

/// Sends one request over a fresh connection; `Err` says how the connection failed to answer.
fn exchange(host: &str, case: &Case, admin: &str) -> Result<Reply, String> {
    let mut req = Vec::new();
    req.extend_from_slice(case.method.as_bytes());
    req.push(b' ');
    req.extend_from_slice(&case.target);
    req.extend_from_slice(format!(" HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n").as_bytes());
    let mut has_auth = false;
    for (name, value) in &case.headers {
        if name.eq_ignore_ascii_case("authorization") {
            has_auth = true;
            if value.is_empty() {
                continue;
            }
        }
        req.extend_from_slice(name.as_bytes());
        req.extend_from_slice(b": ");
        req.extend_from_slice(value);
        req.extend_from_slice(b"\r\n");
    }
    if !has_auth {
        req.extend_from_slice(format!("Authorization: {admin}\r\n").as_bytes());
    }
    let explicit_length = case
        .headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-length"));
    if case.chunked {
        req.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
        for piece in case.body.chunks(64 << 10) {
            req.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
            req.extend_from_slice(piece);
            req.extend_from_slice(b"\r\n");
        }
        req.extend_from_slice(b"0\r\n\r\n");
    } else {
        if !explicit_length {
            req.extend_from_slice(format!("Content-Length: {}\r\n", case.body.len()).as_bytes());
        }
        req.extend_from_slice(b"\r\n");
        req.extend_from_slice(&case.body);
    }

    let stream = std::net::TcpStream::connect(host).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .map_err(|e| e.to_string())?;
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    // The server may answer (and close) before the whole body is sent: write on the side and
    // read whatever comes back.
    let sending = std::thread::spawn(move || {
        writer.write_all(&req).ok();
    });
    let mut raw = Vec::new();
    let mut reader = stream;
    let read = reader.read_to_end(&mut raw);
    sending.join().ok();
    let Some(head_end) = find(&raw, b"\r\n\r\n") else {
        return Err(format!("no response ({} bytes read, {read:?})", raw.len()));
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line in {head:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let rest = &raw[head_end + 4..];
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(rest).ok_or("a truncated chunked body")?
    } else {
        rest.to_vec()
    };
    Ok(Reply {
        status,
        headers,
        body,
    })
}

fn check(case: &Case, reply: &Reply) {
    let name = &case.name;
    assert!(
        reply.status < 500,
        "{name}: server error {}: {}",
        reply.status,
        reply.text()
    );
    assert!(
        case.statuses.contains(&reply.status),
        "{name}: status {} is not one of {:?}: {}",
        reply.status,
        case.statuses,
        reply.text()
    );
    let json = || -> Value {
        let ct = reply.header("content-type").unwrap_or("");
        assert!(
            ct.starts_with("application/json"),
            "{name}: content type {ct:?} is not JSON: {}",
            reply.text()
        );
        serde_json::from_slice(&reply.body)
            .unwrap_or_else(|e| panic!("{name}: body is not JSON ({e}): {}", reply.text()))
    };
    match case.shape {
        Shape::Registry(codes) => {
            let v = json();
            let code = v["errors"][0]["code"]
                .as_str()
                .unwrap_or_else(|| panic!("{name}: no errors[0].code in {v}"));
            assert!(
                v["errors"][0]["message"].is_string(),
                "{name}: no errors[0].message in {v}"
            );
            assert!(
                codes.is_empty() || codes.contains(&code),
                "{name}: code {code} is not one of {codes:?}: {v}"
            );
        }
        Shape::Api(codes) => {
            let v = json();
            let code = v["error"]["code"]
                .as_str()
                .unwrap_or_else(|| panic!("{name}: no error.code in {v}"));
            assert!(
                v["error"]["message"].is_string(),
                "{name}: no error.message in {v}"
            );
            assert!(
                codes.is_empty() || codes.contains(&code),
                "{name}: code {code} is not one of {codes:?}: {v}"
            );
        }
        Shape::Page => {
            let ct = reply.header("content-type").unwrap_or("");
            assert!(
                ct.starts_with("text/html"),
                "{name}: content type {ct:?} is not a page: {}",
                reply.text()
            );
        }
        Shape::Json => {
            json();
        }
        Shape::Bare | Shape::Any => {}
    }
}

async fn healthy(app: &TestApp, after: &str) {
    let host = app.host();
    let probe = case("healthz", "GET", "/healthz").anonymous();
    let reply = tokio::task::spawn_blocking(move || exchange(&host, &probe, ""))
        .await
        .expect("probe");
    match reply {
        Ok(r) if r.status == 200 && r.body == b"ok" => {}
        Ok(r) => panic!(
            "after {after}: /healthz answered {}: {}",
            r.status,
            r.text()
        ),
        Err(e) => panic!("after {after}: /healthz did not answer: {e}"),
    }
}

/// Runs every case, then checks the server is still alive; reports every failure at once.
async fn sweep(app: &TestApp, cases: Vec<Case>) -> usize {
    let admin = basic(ADMIN, &app.admin_token);
    let count = cases.len();
    let mut failures = Vec::new();
    for (i, case) in cases.into_iter().enumerate() {
        let host = app.host();
        let admin = admin.clone();
        let (case, reply) = tokio::task::spawn_blocking(move || {
            let reply = exchange(&host, &case, &admin);
            (case, reply)
        })
        .await
        .expect("exchange");
        let outcome = match reply {
            Ok(reply) => std::panic::catch_unwind(|| check(&case, &reply)).map_err(|p| {
                p.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default()
            }),
            Err(e) => Err(format!("{}: the connection failed: {e}", case.name)),
        };
        if let Err(message) = outcome {
            failures.push(message);
        }
        if i % 40 == 39 {
            healthy(app, &case.name).await;
        }
    }
    healthy(app, "the sweep").await;
    assert!(
        failures.is_empty(),
        "{} of {count} hostile requests were mishandled:\n{}",
        failures.len(),
        failures.join("\n")
    );
    count
}

const REPO: &str = "hostile/app";
const NUL_AND_FRIENDS: [(&str, &str); 10] = [
    ("dot-dot segment", "a/../b"),
    ("encoded dot-dot", "%2e%2e/x"),
    ("bare dot-dot", ".."),
    ("upper case", "Hostile/App"),
    ("encoded NUL", "a%00b"),
    ("non-UTF-8 encoding", "%ff%fe"),
    ("encoded slash", "a%2fb"),
    ("empty component", "a//b"),
    ("trailing dash", "a-/b"),
    ("unicode", "h%C3%A9llo"),
];

const REG_400: &[u16] = &[400];
const REG_404: &[u16] = &[404];
const NAME_CODES: &[&str] = &["NAME_INVALID"];
const DIGEST_CODES: &[&str] = &["DIGEST_INVALID"];

/// Routes under `/v2/<name>/…` with the method that reaches each.
fn name_routes(name: &str) -> Vec<(&'static str, String)> {
    let d = sha256(b"x");
    vec![
        ("GET", format!("/v2/{name}/tags/list")),
        ("GET", format!("/v2/{name}/manifests/latest")),
        ("PUT", format!("/v2/{name}/manifests/latest")),
        ("DELETE", format!("/v2/{name}/manifests/latest")),
        ("GET", format!("/v2/{name}/blobs/{d}")),
        ("DELETE", format!("/v2/{name}/blobs/{d}")),
        ("POST", format!("/v2/{name}/blobs/uploads/")),
        (
            "PATCH",
            format!("/v2/{name}/blobs/uploads/00000000-0000-0000-0000-000000000000"),
        ),
        ("GET", format!("/v2/{name}/referrers/{d}")),
    ]
}

fn registry_name_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let long = "a".repeat(256);
    let very_long = "abc/".repeat(2_000) + "x";
    let mut names: Vec<(String, String)> = NUL_AND_FRIENDS
        .iter()
        .map(|(what, n)| (what.to_string(), n.to_string()))
        .collect();
    names.push(("256-character name".into(), long));
    names.push(("8 KiB name".into(), very_long));
    for (what, name) in &names {
        for (method, target) in name_routes(name) {
            cases.push(
                case(
                    format!("registry {method} {target:.60} ({what})"),
                    method,
                    target,
                )
                .expect(REG_400, Shape::Registry(NAME_CODES)),
            );
        }
    }
    // Bytes reqwest would never send: they are refused by the HTTP layer before any route.
    for (what, raw) in [
        ("raw NUL", b"/v2/a\0b/tags/list".to_vec()),
        ("raw 0xff", b"/v2/a\xff\xfe/tags/list".to_vec()),
        ("raw space", b"/v2/a b/tags/list".to_vec()),
    ] {
        cases.push(case(format!("registry GET ({what})"), "GET", raw).expect(&[400], Shape::Bare));
    }
    // A valid name that is not there is unknown, not invalid.
    let max = "a".repeat(255);
    cases.push(
        case(
            "registry tags of an unknown 255-char name",
            "GET",
            format!("/v2/{max}/tags/list"),
        )
        .expect(REG_404, Shape::Registry(&["NAME_UNKNOWN"])),
    );
    cases.push(
        case(
            "registry unknown endpoint",
            "GET",
            "/v2/hostile/app/nothing/here",
        )
        .expect(REG_404, Shape::Registry(&["NAME_UNKNOWN"])),
    );
    let subject = sha256(b"x");
    for (what, filter) in [
        ("NUL", "a/b%00"),
        ("non-UTF-8", "%ff%fe"),
        ("not a media type", "..%2f.."),
        ("4 KiB", &"a".repeat(4096)),
    ] {
        cases.push(
            case(
                format!("registry referrers artifactType filter ({what})"),
                "GET",
                format!("/v2/{REPO}/referrers/{subject}?artifactType={filter}"),
            )
            .expect(&[200], Shape::Any),
        );
    }
    cases.push(
        case("registry catalog with POST", "POST", "/v2/_catalog")
            .expect(&[405], Shape::Registry(&["UNSUPPORTED"])),
    );
    cases.push(
        case("registry base with DELETE", "DELETE", "/v2/")
            .expect(&[405], Shape::Registry(&["UNSUPPORTED"])),
    );
    cases
}

fn registry_digest_cases() -> Vec<Case> {
    let good_hex = &sha256(b"x")[7..];
    let bad_digests: Vec<(&str, String)> = vec![
        ("short sha256", "sha256:abc".into()),
        ("long sha256", format!("sha256:{good_hex}00")),
        ("unknown algorithm", format!("md5:{}", &good_hex[..32])),
        (
            "upper-case hex",
            format!("sha256:{}", good_hex.to_uppercase()),
        ),
        ("empty sha256", "sha256:".into()),
        ("sha512 of sha256 length", format!("sha512:{good_hex}")),
        ("non-hex", format!("sha256:{}", "g".repeat(64))),
        ("encoded NUL", format!("sha256:{}%00", &good_hex[..63])),
        ("non-UTF-8", format!("sha256:{}%ff", &good_hex[..63])),
        (
            "path traversal",
            "sha256:..%2f..%2f..%2fetc%2fpasswd".into(),
        ),
        ("no hex at all", ":".into()),
        ("4 KiB digest", format!("sha256:{}", "a".repeat(4096))),
    ];
    let mut cases = Vec::new();
    for (what, d) in &bad_digests {
        for (method, target) in [
            ("GET", format!("/v2/{REPO}/blobs/{d}")),
            ("HEAD", format!("/v2/{REPO}/blobs/{d}")),
            ("DELETE", format!("/v2/{REPO}/blobs/{d}")),
            ("GET", format!("/v2/{REPO}/manifests/{d}")),
            ("PUT", format!("/v2/{REPO}/manifests/{d}")),
            ("DELETE", format!("/v2/{REPO}/manifests/{d}")),
            ("GET", format!("/v2/{REPO}/referrers/{d}")),
            ("POST", format!("/v2/{REPO}/blobs/uploads/?digest={d}")),
            (
                "POST",
                format!("/v2/{REPO}/blobs/uploads/?mount={d}&from=hostile/other"),
            ),
        ] {
            // HEAD answers carry no body to check.
            let shape = if method == "HEAD" {
                Shape::Any
            } else {
                Shape::Registry(DIGEST_CODES)
            };
            cases.push(
                case(
                    format!("registry {method} {target:.70} ({what})"),
                    method,
                    target,
                )
                .expect(REG_400, shape),
            );
        }
    }
    // Without a colon a blob digest is still a digest; a manifest reference is a tag.
    cases.push(
        case(
            "registry blob GET without algorithm",
            "GET",
            format!("/v2/{REPO}/blobs/{good_hex}"),
        )
        .expect(REG_400, Shape::Registry(DIGEST_CODES)),
    );
    cases
}

fn registry_tag_and_page_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let long = "t".repeat(129);
    for (what, tag) in [
        ("129-character tag", long.as_str()),
        ("leading dash", "-x"),
        ("leading dot", ".x"),
        ("plus sign", "a+b"),
        ("encoded NUL", "a%00"),
        ("non-UTF-8", "%ff%fe"),
        ("encoded space", "a%20b"),
        ("dot-dot", ".."),
    ] {
        cases.push(
            case(
                format!("registry GET tag ({what})"),
                "GET",
                format!("/v2/{REPO}/manifests/{tag}"),
            )
            .expect(REG_404, Shape::Registry(&["MANIFEST_UNKNOWN"])),
        );
        cases.push(
            case(
                format!("registry DELETE tag ({what})"),
                "DELETE",
                format!("/v2/{REPO}/manifests/{tag}"),
            )
            .expect(REG_404, Shape::Registry(&["MANIFEST_UNKNOWN"])),
        );
        cases.push(
            case(
                format!("registry PUT tag ({what})"),
                "PUT",
                format!("/v2/{REPO}/manifests/{tag}"),
            )
            .header("Content-Type", OCI_MANIFEST)
            .body("{}")
            .expect(REG_400, Shape::Registry(&["MANIFEST_INVALID"])),
        );
    }
    for list in [format!("/v2/{REPO}/tags/list"), "/v2/_catalog".to_owned()] {
        for (what, query) in [
            ("negative n", "n=-1"),
            ("overflowing n", "n=99999999999999999999"),
            ("fractional n", "n=1.5"),
            ("garbage n", "n=ten"),
            ("n with a bad escape", "n=%zz"),
        ] {
            cases.push(
                case(
                    format!("registry {list} ({what})"),
                    "GET",
                    format!("{list}?{query}"),
                )
                .expect(REG_400, Shape::Registry(&[])),
            );
        }
        // A NUL is no cursor on every database.
        cases.push(
            case(
                format!("registry {list} (NUL in last)"),
                "GET",
                format!("{list}?last=a%00b"),
            )
            .expect(REG_400, Shape::Registry(&["UNSUPPORTED"])),
        );
        for (what, query) in [
            ("garbage last", "last=%ff%fe".to_owned()),
            ("dot-dot last", "last=../../..".to_owned()),
            ("long last", format!("last={}", "z".repeat(8192))),
            ("n=0", "n=0".to_owned()),
            ("empty n", "n=&last=".to_owned()),
            ("malformed query", "last=%zz&&&=&%".to_owned()),
        ] {
            cases.push(
                case(
                    format!("registry {list} ({what})"),
                    "GET",
                    format!("{list}?{query}"),
                )
                .expect(&[200], Shape::Json),
            );
        }
    }
    cases
}

fn manifest_body_cases() -> Vec<Case> {
    let target = format!("/v2/{REPO}/manifests/hostile");
    let put = |what: &str| {
        case(
            format!("registry PUT manifest ({what})"),
            "PUT",
            target.clone(),
        )
    };
    let invalid = Shape::Registry(&["MANIFEST_INVALID"]);
    let config = sha256(b"{}");
    let with_config = |media_type: &str, artifact: &str| {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}"{artifact},"config":{{"mediaType":"{media_type}","digest":"{config}","size":2}},"layers":[]}}"#
        )
    };
    let over = vec![b' '; (4 << 20) + 1];
    vec![
        put("invalid JSON")
            .header("Content-Type", OCI_MANIFEST)
            .body("{\"schemaVersion\":")
            .expect(REG_400, invalid),
        put("100k nested arrays")
            .header("Content-Type", OCI_MANIFEST)
            .body("[".repeat(100_000))
            .expect(REG_400, invalid),
        put("100k nested objects")
            .header("Content-Type", OCI_MANIFEST)
            .body("{\"a\":".repeat(100_000))
            .expect(REG_400, invalid),
        put("empty body")
            .header("Content-Type", OCI_MANIFEST)
            .expect(REG_400, invalid),
        put("JSON null")
            .header("Content-Type", OCI_MANIFEST)
            .body("null")
            .expect(REG_400, invalid),
        put("wrong content type")
            .header("Content-Type", "text/plain")
            .body(r#"{"schemaVersion":2}"#)
            .expect(REG_400, invalid),
        put("content type and mediaType disagree")
            .header("Content-Type", OCI_INDEX)
            .body(with_config(OCI_CONFIG, ""))
            .expect(REG_400, invalid),
        put("non-UTF-8 body")
            .header("Content-Type", OCI_MANIFEST)
            .body(b"{\"schemaVersion\":2,\"x\":\"\xff\xfe\"}")
            .expect(REG_400, invalid),
        put("negative descriptor size")
            .header("Content-Type", OCI_MANIFEST)
            .body(with_config(OCI_CONFIG, "").replace("\"size\":2", "\"size\":-2"))
            .expect(REG_400, invalid),
        put("overflowing descriptor size")
            .header("Content-Type", OCI_MANIFEST)
            .body(
                with_config(OCI_CONFIG, "").replace("\"size\":2", "\"size\":99999999999999999999"),
            )
            .expect(REG_400, invalid),
        put("NUL in the config's media type")
            .header("Content-Type", OCI_MANIFEST)
            .body(with_config("application/x\\u0000y", ""))
            .expect(REG_400, invalid),
        put("NUL in artifactType")
            .header("Content-Type", OCI_MANIFEST)
            .body(with_config(OCI_CONFIG, r#","artifactType":"a/b\u0000""#))
            .expect(REG_400, invalid),
        put("64 KiB artifactType")
            .header("Content-Type", OCI_MANIFEST)
            .body(with_config(
                OCI_CONFIG,
                &format!(r#","artifactType":"a/{}""#, "b".repeat(65536)),
            ))
            .expect(REG_400, invalid),
        put("unknown blobs")
            .header("Content-Type", OCI_MANIFEST)
            .body(with_config(OCI_CONFIG, ""))
            .expect(REG_400, Shape::Registry(&["MANIFEST_BLOB_UNKNOWN"])),
        put("declared length over the limit")
            .header("Content-Type", OCI_MANIFEST)
            .body(&over)
            .expect(
                &[413, 400],
                Shape::Registry(&["SIZE_INVALID", "MANIFEST_INVALID"]),
            ),
        put("chunked body over the limit")
            .header("Content-Type", OCI_MANIFEST)
            .body(&over)
            .chunked()
            .expect(
                &[413, 400],
                Shape::Registry(&["SIZE_INVALID", "MANIFEST_INVALID"]),
            ),
        put("absurd declared length")
            .header("Content-Type", OCI_MANIFEST)
            .header("Content-Length", "18446744073709551615")
            .expect(&[413, 400], Shape::Bare),
        put("negative declared length")
            .header("Content-Type", OCI_MANIFEST)
            .header("Content-Length", "-1")
            .expect(&[400], Shape::Bare),
        case(
            "registry PUT manifest by wrong digest",
            "PUT",
            format!("/v2/{REPO}/manifests/{}", sha256(b"nope")),
        )
        .header("Content-Type", OCI_MANIFEST)
        .body(with_config(OCI_CONFIG, ""))
        .expect(REG_400, Shape::Registry(DIGEST_CODES)),
    ]
}

fn upload_cases(session: &str, blob: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    let range = Shape::Registry(&["BLOB_UPLOAD_INVALID"]);
    for (what, value) in [
        ("negative", &b"-5-10"[..]),
        ("reversed", b"10-5"),
        ("overflowing end", b"0-18446744073709551615"),
        ("end past u64", b"0-18446744073709551616"),
        ("huge start", b"18446744073709551615-18446744073709551615"),
        ("garbage", b"bytes=lots"),
        ("no dash", b"100"),
        ("open end", b"0-"),
        ("empty", b""),
        ("non-ASCII", b"0-\xff"),
    ] {
        let shown = String::from_utf8_lossy(value).into_owned();
        cases.push(
            case(
                format!("registry PATCH Content-Range {shown:?} ({what})"),
                "PATCH",
                session,
            )
            .header("Content-Range", value)
            .header("Content-Type", "application/octet-stream")
            .body("abcde")
            .expect(&[416, 400], range),
        );
        cases.push(
            case(
                format!("registry PUT Content-Range {shown:?} ({what})"),
                "PUT",
                format!("{session}?digest={}", sha256(b"abcde")),
            )
            .header("Content-Range", value)
            .body("abcde")
            .expect(&[416, 400], range),
        );
    }
    cases.push(
        case(
            "registry PATCH Content-Range that lies about the length",
            "PATCH",
            session,
        )
        .header("Content-Range", "0-99")
        .body("abcde")
        .expect(&[416], range),
    );
    cases.push(
        case("registry PUT upload without a digest", "PUT", session)
            .expect(REG_400, Shape::Registry(DIGEST_CODES)),
    );
    for (what, id) in [
        ("not a UUID", "not-a-uuid"),
        ("upper-case UUID", "AAAAAAAA-0000-0000-0000-000000000000"),
        ("traversal", "..%2f..%2fetc"),
        ("encoded NUL", "%00"),
        ("4 KiB id", &"a".repeat(4096)),
    ] {
        for method in ["GET", "PATCH", "PUT", "DELETE"] {
            cases.push(
                case(
                    format!("registry {method} upload ({what})"),
                    method,
                    format!("/v2/{REPO}/blobs/uploads/{id}"),
                )
                .expect(REG_404, Shape::Registry(&["BLOB_UPLOAD_UNKNOWN"])),
            );
        }
    }
    cases.push(
        case(
            "registry monolithic upload with a wrong digest",
            "POST",
            format!("/v2/{REPO}/blobs/uploads/?digest={}", sha256(b"other")),
        )
        .body("abc")
        .expect(REG_400, Shape::Registry(DIGEST_CODES)),
    );
    // Range on a blob GET: garbage is ignored (the whole blob), a range that selects nothing is
    // unsatisfiable.
    for (what, value, statuses) in [
        ("garbage", &b"lots"[..], &[200u16][..]),
        ("reversed", b"bytes=9-0", &[416]),
        ("many ranges", b"bytes=0-1,2-3,4-5", &[200]),
        ("non-ASCII", b"bytes=\xff-", &[200]),
        ("overflowing start", b"bytes=18446744073709551615-", &[416]),
        ("past u64", b"bytes=99999999999999999999-", &[416]),
        ("end past u64", b"bytes=0-99999999999999999999", &[206]),
        ("signed start", b"bytes=+0-1", &[200]),
        ("overflowing suffix", b"bytes=-18446744073709551615", &[206]),
        ("overflowing end", b"bytes=0-18446744073709551615", &[206]),
        ("zero suffix", b"bytes=-0", &[416]),
    ] {
        let shown = String::from_utf8_lossy(value).into_owned();
        for method in ["GET", "HEAD"] {
            cases.push(
                case(
                    format!("registry blob {method} Range {shown:?} ({what})"),
                    method,
                    blob,
                )
                .header("Range", value)
                .expect(statuses, Shape::Any),
            );
        }
    }
    cases
}

fn header_cases() -> Vec<Case> {
    let huge = "A".repeat(64 << 10);
    let enormous = "A".repeat(256 << 10);
    let mut cases = Vec::new();
    // 64 KiB fits the HTTP layer's buffer: the credentials are read, and refused.
    for (target, status, shape) in [
        ("/v2/", &[401u16][..], Shape::Registry(&["UNAUTHORIZED"])),
        (
            "/v2/hostile/app/tags/list",
            &[401],
            Shape::Registry(&["UNAUTHORIZED"]),
        ),
        ("/api/v1/user", &[401], Shape::Api(&["unauthorized"])),
        ("/auth/token", &[401], Shape::Api(&["unauthorized"])),
        // Pages read the session cookie, not Authorization.
        ("/", &[200], Shape::Page),
    ] {
        cases.push(
            case(
                format!("{target} with a 64 KiB Authorization"),
                "GET",
                target,
            )
            .header("Authorization", format!("Basic {huge}"))
            .expect(status, shape),
        );
    }
    // An outlandish Accept changes nothing: the answers are what they are.
    for (target, statuses) in [
        ("/v2/", &[200u16][..]),
        ("/v2/hostile/app/tags/list", &[200]),
        ("/api/v1/user", &[200]),
        ("/auth/token", &[200]),
        ("/", &[200]),
    ] {
        cases.push(
            case(format!("{target} with a 64 KiB Accept"), "GET", target)
                .header("Accept", &huge)
                .expect(statuses, Shape::Any),
        );
    }
    for target in [
        "/v2/",
        "/v2/hostile/app/tags/list",
        "/api/v1/user",
        "/auth/token",
        "/",
    ] {
        cases.push(
            case(
                format!("{target} with a 256 KiB Authorization"),
                "GET",
                target,
            )
            .header("Authorization", format!("Basic {enormous}"))
            .expect(&[431, 400], Shape::Bare),
        );
        cases.push(
            case(format!("{target} with a 256 KiB Cookie"), "GET", target)
                .header("Cookie", &enormous)
                .expect(&[431, 400], Shape::Bare),
        );
        cases.push(
            case(format!("{target} with 200 headers"), "GET", target)
                .header("X-Many", "1\r\nX-Many: 1".repeat(199))
                .expect(&[431, 400], Shape::Bare),
        );
    }
    // A 4 KiB Accept fits the HTTP layer: the registry reads it and still serves.
    let accept = vec!["application/x-nothing"; 180].join(", ");
    cases.push(
        case(
            "registry manifest GET with a 4 KiB Accept",
            "GET",
            format!("/v2/{REPO}/manifests/v1"),
        )
        .header("Accept", &accept)
        .expect(REG_404, Shape::Registry(&["MANIFEST_UNKNOWN"])),
    );
    cases.push(
        case(
            "registry manifest GET with a non-ASCII Accept",
            "GET",
            format!("/v2/{REPO}/manifests/v1"),
        )
        .header("Accept", b"\xff\xfe")
        .expect(&[200], Shape::Any),
    );
    for (what, line) in [
        ("no version", &b"GET /v2/"[..]),
        ("control bytes in the method", b"G\x01T"),
    ] {
        cases.push(
            case(format!("malformed request line ({what})"), "GET", line)
                .expect(&[400], Shape::Bare),
        );
    }
    cases.push(
        case("header without a colon", "GET", "/v2/")
            .header("X-Broken\r\nnocolon", "x")
            .expect(&[400], Shape::Bare),
    );
    cases
}

/// Bogus credentials on every family of routes that reads them.
fn credential_cases() -> Vec<Case> {
    use base64::Engine;
    let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
    let url = |s: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let none_jwt = format!(
        "{}.{}.",
        url(br#"{"alg":"none","typ":"JWT"}"#),
        url(br#"{"iss":"berth","sub":"admin1","aud":"berth","exp":9999999999,"nbf":0,"iat":0,"jti":"x","access":[{"type":"repository","name":"hostile/app","actions":["pull","push","delete"]}]}"#)
    );
    let hs_jwt = format!(
        "{}.{}.{}",
        url(br#"{"alg":"HS256","typ":"JWT"}"#),
        url(br#"{"sub":"admin1"}"#),
        url(b"signature")
    );
    let embedded_key = format!(
        "{}.{}.{}",
        url(br#"{"alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}}"#),
        url(br#"{"sub":"admin1"}"#),
        url(b"sig")
    );
    let truncated = none_jwt[..none_jwt.len() / 2].to_owned();
    let bogus: Vec<(&str, Vec<u8>)> = vec![
        ("Basic, invalid base64", b"Basic !!!not base64!!!".to_vec()),
        (
            "Basic, no colon",
            format!("Basic {}", b64(b"nocolon")).into_bytes(),
        ),
        (
            "Basic, non-UTF-8",
            format!("Basic {}", b64(b"\xff\xfe:\xff")).into_bytes(),
        ),
        (
            "Basic, NUL in the name",
            format!("Basic {}", b64(b"admin1\0:x")).into_bytes(),
        ),
        (
            "Basic, wrong password",
            format!("Basic {}", b64(b"nobody-here:wrong")).into_bytes(),
        ),
        (
            "Basic, forged token",
            format!("Basic {}", b64(b"admin1:berth_pat_forged")).into_bytes(),
        ),
        ("Basic, empty", b"Basic ".to_vec()),
        (
            "Bearer, alg none",
            format!("Bearer {none_jwt}").into_bytes(),
        ),
        ("Bearer, HS256", format!("Bearer {hs_jwt}").into_bytes()),
        (
            "Bearer, embedded key",
            format!("Bearer {embedded_key}").into_bytes(),
        ),
        (
            "Bearer, truncated",
            format!("Bearer {truncated}").into_bytes(),
        ),
        ("Bearer, garbage", b"Bearer a.b.c.d.e".to_vec()),
        ("Bearer, empty", b"Bearer ".to_vec()),
        ("unknown scheme", b"Digest username=\"admin1\"".to_vec()),
    ];
    let mut cases = Vec::new();
    for (what, value) in &bogus {
        let v2 = |target: &str| {
            case(format!("{target} with {what}"), "GET", target).header("Authorization", value)
        };
        // Unreadable credentials are no credentials: anonymous may still reach /v2/'s
        // challenge; the repository is not public.
        cases.push(v2("/v2/").expect(&[401], Shape::Registry(&["UNAUTHORIZED"])));
        cases.push(
            v2("/v2/hostile/app/tags/list").expect(&[401], Shape::Registry(&["UNAUTHORIZED"])),
        );
        cases.push(v2("/v2/_catalog").expect(&[401], Shape::Registry(&["UNAUTHORIZED"])));
        cases.push(
            case(
                format!("registry push with {what}"),
                "POST",
                "/v2/hostile/app/blobs/uploads/",
            )
            .header("Authorization", value)
            .expect(&[401], Shape::Registry(&["UNAUTHORIZED"])),
        );
        cases.push(
            case(format!("/api/v1/user with {what}"), "GET", "/api/v1/user")
                .header("Authorization", value)
                .expect(&[401], Shape::Api(&["unauthorized"])),
        );
        cases.push(
            case(
                format!("/api/v1 create repository with {what}"),
                "POST",
                "/api/v1/repositories",
            )
            .header("Authorization", value)
            .json(r#"{"namespace":"hostile","name":"x"}"#)
            .expect(&[401], Shape::Api(&["unauthorized"])),
        );
    }
    // A header that is not text cannot hold credentials; it is read as none at all.
    let unreadable = b"Basic \xff\xfe";
    for (target, status, shape) in [
        ("/v2/", &[401u16][..], Shape::Registry(&["UNAUTHORIZED"])),
        ("/v2/_catalog", &[401], Shape::Registry(&["UNAUTHORIZED"])),
        (
            "/v2/hostile/app/blobs/uploads/",
            &[401],
            Shape::Registry(&["UNAUTHORIZED"]),
        ),
        ("/api/v1/user", &[401], Shape::Api(&["unauthorized"])),
    ] {
        let method = if target.ends_with("uploads/") {
            "POST"
        } else {
            "GET"
        };
        cases.push(
            case(
                format!("{target} with non-ASCII credentials"),
                method,
                target,
            )
            .header("Authorization", unreadable)
            .expect(status, shape),
        );
    }
    // The token service and Docker's search: a credential that is there but wrong is refused.
    for (what, value) in bogus.iter().filter(|(w, _)| w.starts_with("Basic")) {
        cases.push(
            case(
                format!("/auth/token with {what}"),
                "GET",
                "/auth/token?service=berth&scope=repository:hostile/app:pull",
            )
            .header("Authorization", value)
            .expect(&[401], Shape::Api(&["unauthorized"])),
        );
    }
    for (what, value) in bogus.iter().filter(|(w, _)| w.starts_with("Bearer")) {
        cases.push(
            case(format!("/v1/search with {what}"), "GET", "/v1/search?q=app")
                .header("Authorization", value)
                .expect(&[401], Shape::Api(&["unauthorized"])),
        );
    }
    cases
}

fn api_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let nested = "[".repeat(60_000);
    let huge = format!(r#"{{"username":"{}"}}"#, "a".repeat(200 << 10));
    let bodies: Vec<(&str, Vec<u8>, Option<&str>)> = vec![
        (
            "invalid JSON",
            b"{\"username\":".to_vec(),
            Some("application/json"),
        ),
        (
            "deeply nested JSON",
            nested.into_bytes(),
            Some("application/json"),
        ),
        ("huge JSON", huge.into_bytes(), Some("application/json")),
        (
            "wrong content type",
            br#"{"name":"x"}"#.to_vec(),
            Some("text/plain"),
        ),
        (
            "form content type",
            b"name=x".to_vec(),
            Some("application/x-www-form-urlencoded"),
        ),
        ("no content type", br#"{"name":"x"}"#.to_vec(), None),
        ("empty body", Vec::new(), Some("application/json")),
        ("JSON null", b"null".to_vec(), Some("application/json")),
        ("JSON array", b"[1,2]".to_vec(), Some("application/json")),
        (
            "wrong field types",
            br#"{"username":1,"name":[],"body":{},"password":false}"#.to_vec(),
            Some("application/json"),
        ),
        (
            "non-UTF-8",
            b"{\"name\":\"\xff\xfe\"}".to_vec(),
            Some("application/json"),
        ),
    ];
    let endpoints: &[(&str, &str)] = &[
        ("POST", "/api/v1/users"),
        ("POST", "/api/v1/session"),
        ("PUT", "/api/v1/user/password"),
        ("POST", "/api/v1/user/tokens"),
        ("POST", "/api/v1/repositories"),
        ("PATCH", "/api/v1/repositories/hostile/app"),
        ("POST", "/api/v1/repositories/hostile/app/comments"),
        ("PATCH", "/api/v1/repositories/hostile/app/comments/1"),
        ("POST", "/api/v1/repositories/hostile/app/webhooks"),
        ("POST", "/api/v1/orgs"),
        ("PUT", "/api/v1/orgs/hostileorg/members/admin1"),
        ("POST", "/api/v1/orgs/hostileorg/teams"),
        ("POST", "/api/v1/orgs/hostileorg/robots"),
        ("PUT", "/api/v1/users/admin1/active"),
    ];
    for (what, body, ct) in &bodies {
        for (method, target) in endpoints {
            let mut c = case(format!("api {method} {target} ({what})"), method, target).body(body);
            if let Some(ct) = ct {
                c = c.header("Content-Type", ct);
            }
            cases.push(c.expect(&[400, 413, 415], Shape::Api(&[])));
        }
    }
    // Hostile values inside well-formed JSON.
    for (what, method, target, body) in [
        (
            "NUL in a user name",
            "POST",
            "/api/v1/users",
            r#"{"username":"a\u0000b","email":"a@example.com","password":"a long password"}"#,
        ),
        (
            "NUL in an email",
            "POST",
            "/api/v1/users",
            r#"{"username":"nulmail","email":"a\u0000@example.com","password":"a long password"}"#,
        ),
        (
            "NUL in a sign-in name",
            "POST",
            "/api/v1/session",
            r#"{"username":"admin1\u0000","password":"x"}"#,
        ),
        (
            "NUL in an org name",
            "POST",
            "/api/v1/orgs",
            r#"{"name":"o\u0000"}"#,
        ),
        (
            "NUL in a repository name",
            "POST",
            "/api/v1/repositories",
            r#"{"namespace":"hostile","name":"a\u0000"}"#,
        ),
        (
            "dot-dot repository",
            "POST",
            "/api/v1/repositories",
            r#"{"namespace":"hostile","name":"../b"}"#,
        ),
        (
            "NUL in a team name",
            "POST",
            "/api/v1/orgs/hostileorg/teams",
            r#"{"name":"t\u0000"}"#,
        ),
        (
            "NUL in a robot name",
            "POST",
            "/api/v1/orgs/hostileorg/robots",
            r#"{"name":"r\u0000","grants":[]}"#,
        ),
        (
            "NUL in a comment",
            "POST",
            "/api/v1/repositories/hostile/app/comments",
            r#"{"body":"hi\u0000there"}"#,
        ),
        (
            "NUL in a description",
            "PATCH",
            "/api/v1/repositories/hostile/app",
            r#"{"description":"a\u0000b"}"#,
        ),
        (
            "NUL in a README",
            "PATCH",
            "/api/v1/repositories/hostile/app",
            r#"{"full_description":"a\u0000b"}"#,
        ),
        (
            "bad role",
            "PUT",
            "/api/v1/orgs/hostileorg/members/admin1",
            r#"{"role":"god"}"#,
        ),
        (
            "unknown field",
            "POST",
            "/api/v1/users",
            r#"{"username":"x","email":"x@example.com","password":"a long password","admin":true}"#,
        ),
        (
            "webhook to a bad URL",
            "POST",
            "/api/v1/repositories/hostile/app/webhooks",
            r#"{"name":"h","url":"gopher://\u0000","events":["push"]}"#,
        ),
        (
            "webhook with an unknown event",
            "POST",
            "/api/v1/repositories/hostile/app/webhooks",
            r#"{"name":"h","url":"http://example.com/","events":["everything"]}"#,
        ),
    ] {
        cases.push(
            case(format!("api {method} {target} ({what})"), method, target)
                .json(body)
                .expect(&[400, 401, 404, 409, 422], Shape::Api(&[])),
        );
    }
    // Tokens are made with the password (a token cannot mint tokens).
    let password = basic(ADMIN, ADMIN_PASSWORD);
    for (what, body) in [
        ("a bad scope", r#"{"name":"t","scope":"root"}"#),
        (
            "an expiry in 1970",
            r#"{"name":"t","scope":"read","expires_at":-9223372036854775808}"#,
        ),
        (
            "an overflowing expiry",
            r#"{"name":"t","scope":"read","expires_at":99999999999999999999}"#,
        ),
        ("a NUL in the name", r#"{"name":"t\u0000","scope":"read"}"#),
        (
            "a 64 KiB name",
            &format!(r#"{{"name":"{}","scope":"read"}}"#, "n".repeat(60_000)),
        ),
    ] {
        cases.push(
            case(
                format!("api POST /api/v1/user/tokens with {what}"),
                "POST",
                "/api/v1/user/tokens",
            )
            .header("Authorization", &password)
            .json(body)
            .expect(&[400], Shape::Api(&["invalid"])),
        );
    }
    // Path and query parameters.
    for (what, method, target, statuses) in [
        (
            "comment id not a number",
            "PATCH",
            "/api/v1/repositories/hostile/app/comments/abc",
            &[400u16, 404][..],
        ),
        (
            "comment id past i64",
            "DELETE",
            "/api/v1/repositories/hostile/app/comments/99999999999999999999",
            &[400, 404],
        ),
        (
            "token id not a number",
            "DELETE",
            "/api/v1/user/tokens/abc",
            &[400, 404],
        ),
        (
            "webhook id not a number",
            "GET",
            "/api/v1/repositories/hostile/app/webhooks/abc",
            &[400, 404],
        ),
        (
            "delivery limit garbage",
            "GET",
            "/api/v1/repositories/hostile/app/webhooks/1/deliveries?limit=lots",
            &[400, 404],
        ),
        (
            "repository with encoded NUL",
            "GET",
            "/api/v1/repositories/hostile/a%00b",
            &[400, 404],
        ),
        (
            "repository non-UTF-8",
            "GET",
            "/api/v1/repositories/%ff%fe",
            &[400, 404],
        ),
        (
            "repository dot-dot",
            "GET",
            "/api/v1/repositories/hostile/../app",
            &[400, 404],
        ),
        (
            "repository 8 KiB",
            "GET",
            &format!("/api/v1/repositories/{}", "a".repeat(8192)),
            &[400, 404],
        ),
        (
            "tags of NUL repository",
            "GET",
            "/api/v1/repositories/a%00/tags",
            &[400, 404],
        ),
        (
            "tag with NUL",
            "GET",
            "/api/v1/repositories/hostile/app/tags/a%00",
            &[400, 404],
        ),
        (
            "tag non-UTF-8",
            "GET",
            "/api/v1/repositories/hostile/app/tags/%ff",
            &[400, 404],
        ),
        (
            "star a NUL repository",
            "PUT",
            "/api/v1/repositories/a%00b/star",
            &[400, 404],
        ),
        ("org with NUL", "GET", "/api/v1/orgs/a%00", &[400, 404]),
        ("org non-UTF-8", "GET", "/api/v1/orgs/%ff", &[400, 404]),
        (
            "team member with NUL",
            "PUT",
            "/api/v1/orgs/hostileorg/teams/t%00/members/a%00",
            &[400, 404],
        ),
        (
            "invitation id not a number",
            "POST",
            "/api/v1/user/invitations/1%00/accept",
            &[400, 404],
        ),
        (
            "invitation id out of range",
            "DELETE",
            "/api/v1/orgs/hostileorg/invitations/99999999999999999999",
            &[400, 404],
        ),
        (
            "user with NUL",
            "PUT",
            "/api/v1/users/a%00/active",
            &[400, 404],
        ),
        (
            "callback with garbage",
            "POST",
            "/api/v1/webhooks/callbacks/%00/%ff",
            &[400, 404],
        ),
        (
            "tags page negative",
            "GET",
            "/api/v1/repositories/hostile/app/tags?page=-1",
            &[400],
        ),
        (
            "tags page past i64",
            "GET",
            "/api/v1/repositories/hostile/app/tags?page=99999999999999999999",
            &[400],
        ),
        (
            "comments page_size garbage",
            "GET",
            "/api/v1/repositories/hostile/app/comments?page_size=lots",
            &[400],
        ),
        (
            "search page past i64",
            "GET",
            "/api/v1/search?page=99999999999999999999",
            &[400],
        ),
        (
            "search page_size negative",
            "GET",
            "/api/v1/search?page_size=-1",
            &[400],
        ),
        (
            "search page_size huge",
            "GET",
            "/api/v1/search?page_size=99999999999",
            &[400],
        ),
        (
            "search bad sort",
            "GET",
            "/api/v1/search?sort=password_hash",
            &[400],
        ),
        (
            "search malformed query",
            "GET",
            "/api/v1/search?q=%zz&page=%",
            &[400],
        ),
        ("unknown API route", "GET", "/api/v1/nothing/here", &[404]),
        ("wrong method", "PUT", "/api/v1/session", &[404, 405]),
        ("v1 search n negative", "GET", "/v1/search?q=a&n=-1", &[400]),
        (
            "v1 search n past i64",
            "GET",
            "/v1/search?q=a&n=99999999999999999999",
            &[400],
        ),
        (
            "v1 search page zero",
            "GET",
            "/v1/search?q=a&page=0",
            &[400],
        ),
    ] {
        cases.push(
            case(
                format!("api {method} {target:.70} ({what})"),
                method,
                target,
            )
            .expect(statuses, Shape::Api(&[])),
        );
    }
    // Well-formed but strange values answer normally.
    for (what, target) in [
        ("search with NUL", "/api/v1/search?q=a%00b"),
        (
            "search namespace with NUL",
            "/api/v1/search?namespace=a%00b",
        ),
        ("search namespace non-UTF-8", "/api/v1/search?namespace=%ff"),
        (
            "search 8 KiB query",
            &format!("/api/v1/search?q={}", "ab%20".repeat(1600)),
        ),
        ("v1 search with NUL", "/v1/search?q=%00"),
    ] {
        cases.push(
            case(format!("api GET {target:.60} ({what})"), "GET", target)
                .expect(&[200, 400], Shape::Json),
        );
    }
    // The token service.
    for (what, target) in [
        (
            "scope with a bad name",
            "/auth/token?service=berth&scope=repository:../x:pull",
        ),
        (
            "scope with NUL",
            "/auth/token?service=berth&scope=repository:a%00:pull",
        ),
        ("scope garbage", "/auth/token?service=berth&scope=:::::"),
        ("scope non-UTF-8", "/auth/token?service=berth&scope=%ff%fe"),
        (
            "long scope",
            &format!(
                "/auth/token?service=berth&scope=repository:{}:pull",
                "a/".repeat(2000)
            ),
        ),
        ("unknown service", "/auth/token?service=%00"),
    ] {
        cases.push(
            case(format!("token GET ({what})"), "GET", target).expect(&[200, 400], Shape::Json),
        );
    }
    for (what, ct, body) in [
        (
            "no grant type",
            "application/x-www-form-urlencoded",
            "username=a".to_owned(),
        ),
        (
            "unknown grant type",
            "application/x-www-form-urlencoded",
            "grant_type=magic".to_owned(),
        ),
        (
            "password without password",
            "application/x-www-form-urlencoded",
            "grant_type=password&username=a".to_owned(),
        ),
        (
            "bad refresh token",
            "application/x-www-form-urlencoded",
            "grant_type=refresh_token&refresh_token=%00".to_owned(),
        ),
        (
            "bad encoding",
            "application/x-www-form-urlencoded",
            "grant_type=%zz%".to_owned(),
        ),
        (
            "JSON instead of a form",
            "application/json",
            r#"{"grant_type":"password"}"#.to_owned(),
        ),
        (
            "huge form",
            "application/x-www-form-urlencoded",
            format!("grant_type=password&username={}", "a".repeat(64 << 10)),
        ),
    ] {
        cases.push(
            case(format!("token POST ({what})"), "POST", "/auth/token")
                .anonymous()
                .header("Content-Type", ct)
                .body(body)
                .expect(&[400, 401, 413, 415], Shape::Api(&[])),
        );
    }
    cases
}

/// Forms posted to the pages without or with a wrong CSRF token, and hostile page addresses.
fn page_cases(session: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    let forms = [
        ("/login", "username=admin1&password=x"),
        (
            "/signup",
            "username=a&email=a%40example.com&password=x&password_confirmation=x",
        ),
        ("/logout", ""),
        ("/settings/profile", "email=x%40example.com"),
        (
            "/settings/password",
            "current_password=x&new_password=y&new_password_confirmation=y",
        ),
        ("/settings/tokens", "name=t&scope=read&expires_in_days=30"),
        ("/settings/tokens/revoke", "id=1"),
        ("/settings/delete", "confirm=admin1"),
        ("/settings/invitations/accept", "id=1"),
        ("/settings/invitations/decline", "id=1"),
        ("/orgs/new", "name=neworg"),
        ("/o/hostileorg/leave", ""),
        (
            "/o/hostileorg/settings/members",
            "username=admin1&role=owner",
        ),
        ("/o/hostileorg/settings/invitations/cancel", "id=1"),
        ("/o/hostileorg/settings/teams", "team=t"),
        ("/o/hostileorg/settings/robots", "name=r&grants="),
        ("/o/hostileorg/settings/delete", "confirm=hostileorg"),
        ("/r/hostile/app/star", ""),
        ("/r/hostile/app/comments", "body=hi"),
        ("/r/hostile/app/settings", "description=x"),
    ];
    let anon_cookie = format!("berth_csrf={}", "a".repeat(64));
    for (target, fields) in forms {
        cases.push(
            case(
                format!("page POST {target} signed in, no CSRF"),
                "POST",
                target,
            )
            .header("Cookie", format!("berth_session={session}"))
            .form(fields)
            .expect(&[403], Shape::Page),
        );
        cases.push(
            case(
                format!("page POST {target} signed in, wrong CSRF"),
                "POST",
                target,
            )
            .header("Cookie", format!("berth_session={session}"))
            .form(format!("csrf={}&{fields}", "0".repeat(64)))
            .expect(&[403], Shape::Page),
        );
        cases.push(
            case(
                format!("page POST {target} anonymous, CSRF not matching the cookie"),
                "POST",
                target,
            )
            .anonymous()
            .header("Cookie", &anon_cookie)
            .form(format!("csrf={}&{fields}", "b".repeat(64)))
            .expect(&[403], Shape::Page),
        );
        cases.push(
            case(
                format!("page POST {target} anonymous, no CSRF at all"),
                "POST",
                target,
            )
            .anonymous()
            .form(fields)
            .expect(&[403], Shape::Page),
        );
    }
    let big_form = format!("csrf=x&body={}", "a".repeat(70 << 10));
    for (what, ct, body) in [
        (
            "bad encoding",
            "application/x-www-form-urlencoded",
            "csrf=%zz&body=%".to_owned(),
        ),
        (
            "JSON instead of a form",
            "application/json",
            r#"{"csrf":"x"}"#.to_owned(),
        ),
        ("over 64 KiB", "application/x-www-form-urlencoded", big_form),
        (
            "non-UTF-8",
            "application/x-www-form-urlencoded",
            "csrf=\u{fffd}".to_owned(),
        ),
    ] {
        cases.push(
            case(
                format!("page POST comment ({what})"),
                "POST",
                "/r/hostile/app/comments",
            )
            .header("Cookie", format!("berth_session={session}"))
            .header("Content-Type", ct)
            .body(body)
            .expect(&[400, 403, 413, 415], Shape::Page),
        );
    }
    for (what, target, statuses) in [
        // A NUL is "not found" where the database can hold it, "bad request" where it cannot.
        ("user with NUL", "/u/a%00b", &[400u16, 404][..]),
        ("user non-UTF-8", "/u/%ff%fe", &[400, 404]),
        ("user 8 KiB", &format!("/u/{}", "a".repeat(8192)), &[404]),
        ("org with NUL", "/o/a%00", &[400, 404]),
        ("org settings with NUL", "/o/a%00/settings", &[400, 404]),
        ("repository with NUL", "/r/hostile/a%00b", &[404]),
        ("repository dot-dot", "/r/hostile/../etc", &[404]),
        ("repository encoded dot-dot", "/r/%2e%2e/x", &[404]),
        ("repository non-UTF-8", "/r/%ff/%fe", &[400, 404]),
        ("tag with NUL", "/r/hostile/app/tags/a%00", &[404]),
        (
            "repository page garbage",
            "/r/hostile/app?page=lots",
            &[400],
        ),
        (
            "repository page past i64",
            "/r/hostile/app?page=99999999999999999999",
            &[400],
        ),
        ("user page negative", "/u/admin1?page=-5", &[200]),
        ("search page garbage", "/search?q=a&page=lots", &[400]),
        ("search bad sort", "/search?q=a&sort=password_hash", &[400]),
        ("search with NUL", "/search?q=%00", &[200]),
        ("login next elsewhere", "/login?next=//evil.example", &[200]),
        ("static traversal", "/static/..%2f..%2fCargo.toml", &[404]),
        ("static with NUL", "/static/a%00.css", &[404]),
        ("unknown page", "/no/such/page", &[404]),
    ] {
        let shape = if target.starts_with("/static/") {
            Shape::Any
        } else {
            Shape::Page
        };
        cases.push(
            case(format!("page GET {target:.60} ({what})"), "GET", target)
                .anonymous()
                .expect(statuses, shape),
        );
    }
    for (what, cookie) in [
        ("garbage session", "berth_session=%00%ff".to_owned()),
        (
            "8 KiB session",
            format!("berth_session={}", "a".repeat(8192)),
        ),
        (
            "malformed cookie header",
            ";;;=;=x;berth_session".to_owned(),
        ),
    ] {
        cases.push(
            case(format!("page GET / ({what})"), "GET", "/")
                .anonymous()
                .header("Cookie", &cookie)
                .expect(&[200], Shape::Page),
        );
        cases.push(
            case(
                format!("api GET /api/v1/user ({what})"),
                "GET",
                "/api/v1/user",
            )
            .anonymous()
            .header("Cookie", &cookie)
            .expect(&[401], Shape::Api(&["unauthorized"])),
        );
    }
    cases
}

/// The administrator's web session cookie.
async fn session(app: &TestApp) -> String {
    let r = app
        .anonymous
        .post(app.url("/api/v1/session"))
        .json(&serde_json::json!({"username": ADMIN, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .expect("sign in");
    assert_eq!(r.status(), 201, "sign in");
    let cookie = header(&r, "set-cookie");
    cookie
        .split(';')
        .next()
        .and_then(|c| c.strip_prefix("berth_session="))
        .expect("session cookie")
        .to_owned()
}

#[tokio::test]
async fn every_route_refuses_hostile_input_without_crashing() {
    let started = Instant::now();
    let app = TestApp::start_with(|c| {
        // Bogus credentials fail on purpose; they must not lock the administrator out.
        c.auth.throttle_failures = 10_000;
    })
    .await;
    let (_, _) = app.push_image(REPO, "v1", b"a layer").await;
    let blob = app.push_blob(REPO, b"0123456789").await;
    let blob_path = format!("/v2/{REPO}/blobs/{blob}");
    let upload = app.start_upload(REPO).await;
    let r = call(
        &app,
        reqwest::Method::POST,
        "/api/v1/orgs",
        Some(&basic(ADMIN, &app.admin_token)),
        Some(serde_json::json!({"name": "hostileorg"})),
    )
    .await;
    assert_eq!(r.status(), 201, "create org");
    let session = session(&app).await;

    let mut cases = Vec::new();
    cases.extend(registry_name_cases());
    cases.extend(registry_digest_cases());
    cases.extend(registry_tag_and_page_cases());
    cases.extend(manifest_body_cases());
    cases.extend(upload_cases(&upload, &blob_path));
    cases.extend(header_cases());
    cases.extend(credential_cases());
    cases.extend(api_cases());
    cases.extend(page_cases(&session));
    let count = sweep(&app, cases).await;

    // Nothing hostile changed what is stored: the image still pulls, the upload still works.
    let r = app.get(&format!("/v2/{REPO}/manifests/v1")).await;
    assert_eq!(r.status(), 200, "the image survives the sweep");
    let r = app.get(&format!("/v2/{REPO}/tags/list")).await;
    let tags: Value = r.json().await.expect("tags");
    assert_eq!(tags["tags"], serde_json::json!(["v1"]), "no tag was added");
    let r = app
        .client
        .put(app.url(&with_digest(&upload, &sha256(b""))))
        .send()
        .await
        .expect("finish upload");
    assert_eq!(r.status(), 201, "the upload session survives the sweep");
    eprintln!("{count} hostile requests in {:?}", started.elapsed());
}
