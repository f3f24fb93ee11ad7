//! Permission tables: rows of (who, what, the answer they must get), run in order by one loop
//! that reports every row that answered otherwise, all at once.
//!
//! ```ignore
//! let actors = Actors::new().with("owner", &alice).with("stranger", &bob);
//! run(&app, &actors, vec![
//!     check("owner", push("acme/app"), 201),
//!     check("stranger", push("acme/app"), 404).code("NAME_UNKNOWN"),
//!     check("anonymous", api(Method::GET, "/api/v1/orgs/acme/teams", None), 401),
//! ]).await;
//! ```

use std::fmt;

use reqwest::Method;
use serde_json::Value;

use super::{sha256, TestApp};

/// Who acts: a name for the reports, and the `Authorization` header they send (none for
/// `anonymous`, which every table has).
pub struct Actors(Vec<(String, String)>);

impl Actors {
    pub fn new() -> Actors {
        Actors(vec![("anonymous".to_owned(), String::new())])
    }

    pub fn with(mut self, who: &str, authorization: &str) -> Actors {
        self.add(who, authorization);
        self
    }

    pub fn add(&mut self, who: &str, authorization: &str) {
        self.0.push((who.to_owned(), authorization.to_owned()));
    }

    fn authorization(&self, who: &str) -> &str {
        self.0
            .iter()
            .find(|(name, _)| name == who)
            .map(|(_, auth)| auth.as_str())
            .unwrap_or_else(|| panic!("no actor named {who:?} in this table"))
    }
}

impl Default for Actors {
    fn default() -> Self {
        Actors::new()
    }
}

enum Body {
    None,
    Json(Value),
    Bytes(Vec<u8>),
}

/// What a row does.
pub struct Op {
    method: Method,
    path: String,
    body: Body,
    /// Asks the token service; the row's JSON checks then look at the token's claims.
    token: bool,
    shown: String,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

/// A JSON API call (or any request) with an optional JSON body.
pub fn api(method: Method, path: &str, body: Option<Value>) -> Op {
    let shown = match &body {
        Some(b) => format!("{method} {path} {b}"),
        None => format!("{method} {path}"),
    };
    Op {
        method,
        path: path.to_owned(),
        body: body.map_or(Body::None, Body::Json),
        token: false,
        shown,
    }
}

/// `GET path`.
pub fn get(path: &str) -> Op {
    api(Method::GET, path, None)
}

/// A monolithic push of a blob of `bytes` to `repo` (`POST …/blobs/uploads/?digest=`).
pub fn push_bytes(repo: &str, bytes: &[u8]) -> Op {
    Op {
        method: Method::POST,
        path: format!("/v2/{repo}/blobs/uploads/?digest={}", sha256(bytes)),
        body: Body::Bytes(bytes.to_vec()),
        token: false,
        shown: format!("push to {repo}"),
    }
}

/// A push of some blob to `repo`.
pub fn push(repo: &str) -> Op {
    push_bytes(repo, format!("a layer for {repo}").as_bytes())
}

/// A pull of the blob of `bytes` from `repo`.
pub fn pull(repo: &str, bytes: &[u8]) -> Op {
    Op {
        method: Method::GET,
        path: format!("/v2/{repo}/blobs/{}", sha256(bytes)),
        body: Body::None,
        token: false,
        shown: format!("pull from {repo}"),
    }
}

/// A token from the token service for `scope` (the row's JSON checks read its claims).
pub fn token(app: &TestApp, scope: &str) -> Op {
    Op {
        method: Method::GET,
        path: format!("/auth/token?service={}&scope={scope}", app.host()),
        body: Body::None,
        token: true,
        shown: format!("token for {scope}"),
    }
}

/// A property of an answer's JSON.
pub type Property = fn(&Value) -> bool;

/// One row: who, what, and the answer they must get.
pub struct Row {
    who: String,
    op: Op,
    status: u16,
    code: Option<&'static str>,
    json: Vec<(&'static str, Value)>,
    absent: Vec<&'static str>,
    predicates: Vec<(&'static str, Property)>,
    headers: Vec<(&'static str, Option<String>)>,
}

/// `who` does `op` and must get `status`. An error must come with a JSON error code, the
/// registry's (`errors[0].code`) or the API's (`error.code`).
pub fn check(who: &str, op: Op, status: u16) -> Row {
    Row {
        who: who.to_owned(),
        op,
        status,
        code: None,
        json: Vec::new(),
        absent: Vec::new(),
        predicates: Vec::new(),
        headers: Vec::new(),
    }
}

impl Row {
    /// The error code the answer must carry.
    pub fn code(mut self, code: &'static str) -> Row {
        self.code = Some(code);
        self
    }

    /// What the answer's JSON (a token's claims, for [`token`]) must hold at `pointer` (`""`
    /// for the whole of it).
    pub fn json(mut self, pointer: &'static str, value: Value) -> Row {
        self.json.push((pointer, value));
        self
    }

    /// Something the answer's JSON must not have.
    pub fn absent(mut self, pointer: &'static str) -> Row {
        self.absent.push(pointer);
        self
    }

    /// A property the answer's JSON must have, named `what` in reports.
    pub fn holds(mut self, what: &'static str, property: Property) -> Row {
        self.predicates.push((what, property));
        self
    }

    /// A header the answer must have, with `part` in its value.
    pub fn header(mut self, name: &'static str, part: &str) -> Row {
        self.headers.push((name, Some(part.to_owned())));
        self
    }

    /// A header the answer must not have.
    pub fn no_header(mut self, name: &'static str) -> Row {
        self.headers.push((name, None));
        self
    }

    /// Runs the row; every way the answer differs from what it must be.
    async fn mismatches(&self, app: &TestApp, actors: &Actors) -> Vec<String> {
        let mut req = app
            .anonymous
            .request(self.op.method.clone(), app.url(&self.op.path));
        let auth = actors.authorization(&self.who);
        if !auth.is_empty() {
            req = req.header("Authorization", auth);
        }
        req = match &self.op.body {
            Body::None => req,
            Body::Json(v) => req.json(v),
            Body::Bytes(b) => req.body(b.clone()),
        };
        let r = match req.send().await {
            Ok(r) => r,
            Err(e) => return vec![format!("request failed: {e}")],
        };
        let status = r.status().as_u16();
        let mut out = Vec::new();
        for (name, part) in &self.headers {
            let value = r
                .headers()
                .get(*name)
                .map(|v| v.to_str().unwrap_or_default());
            match (part, value) {
                (Some(part), Some(value)) if value.contains(part.as_str()) => {}
                (None, None) => {}
                (Some(part), _) => out.push(format!("{name} is {value:?}, without {part:?}")),
                (None, Some(value)) => out.push(format!("{name} is there: {value:?}")),
            }
        }
        let text = r.text().await.unwrap_or_default();
        let mut body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let mut shown = text;
        if self.op.token && status == 200 {
            // What docker and the OAuth2 clients read, besides the token itself.
            let answer_ok = body["access_token"] == body["token"]
                && body["expires_in"].as_i64().is_some_and(|s| s > 0)
                && body["issued_at"].as_str().is_some_and(|t| t.ends_with('Z'));
            if !answer_ok {
                out.push(format!("a malformed token answer: {}", truncate(&shown)));
            }
            body = claims(&body).unwrap_or(Value::Null);
            shown = format!("the token's claims {body}");
        }
        if status != self.status {
            out.push(format!("status {status}, not {}", self.status));
        }
        let code = body
            .pointer("/errors/0/code")
            .or_else(|| body.pointer("/error/code"))
            .and_then(Value::as_str);
        if status >= 400 && self.op.method != Method::HEAD && code.is_none() {
            out.push("an error without a JSON error code".to_owned());
        }
        if let Some(want) = self.code {
            if code != Some(want) {
                out.push(format!("code {code:?}, not {want}"));
            }
        }
        for (pointer, want) in &self.json {
            let got = body.pointer(pointer);
            if got != Some(want) {
                let got = got.map_or_else(|| "missing".to_owned(), Value::to_string);
                out.push(format!("{pointer:?} is {got}, not {want}"));
            }
        }
        for pointer in &self.absent {
            if body.pointer(pointer).is_some() {
                out.push(format!("{pointer:?} is there"));
            }
        }
        for (what, property) in &self.predicates {
            if !property(&body) {
                out.push(format!("not {what}"));
            }
        }
        if !out.is_empty() {
            out.push(format!("body: {}", truncate(&shown)));
        }
        out
    }
}

fn truncate(text: &str) -> &str {
    match text.char_indices().nth(300) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

/// The claims of the token in a token service answer, read without verifying.
fn claims(answer: &Value) -> Option<Value> {
    use base64::Engine;
    let token = answer["token"].as_str()?;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Runs `rows` in order (a row may change what later rows see) and fails with every row that
/// answered otherwise.
pub async fn run(app: &TestApp, actors: &Actors, rows: Vec<Row>) {
    let mut failures = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let mismatches = row.mismatches(app, actors).await;
        if !mismatches.is_empty() {
            failures.push(format!(
                "row {}: {} does {}: {}",
                i + 1,
                row.who,
                row.op,
                mismatches.join("; ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows answered otherwise:\n  {}",
        failures.len(),
        rows.len(),
        failures.join("\n  ")
    );
}
