//! `Browser`: a headless Chromium driven over WebDriver (the chromedriver that `scripts/test`
//! starts and names in `BERTH_TEST_WEBDRIVER`), with helpers that make a browser test read like
//! what a user does:
//!
//! ```ignore
//! let app = TestApp::start().await;
//! let browser = Browser::start().await;
//! browser.goto(&app.url("/login")).await;
//! browser.fill("#username", "alice").await;
//! browser.fill("#password", "alice password").await;
//! browser.submit("form.login").await;
//! assert_eq!(browser.current_path().await, "/");
//! browser.assert_no_alert().await;
//! browser.screenshot("signed-in").await;
//! browser.close().await;
//! ```
//!
//! Every `Browser` is a session of its own, with a fresh profile and so its own cookies: two of
//! them are two different visitors. Call [`Browser::close`] at the end of a test; a `Browser`
//! that is dropped instead still ends its session, with a blocking request.
//!
//! Every helper panics with what it was doing when the browser says no, so a test needs no
//! error handling of its own.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::error::CmdError;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

/// How long [`Browser::wait_for`] and [`Browser::submit`] wait before failing the test.
pub const WAIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Desktop and phone viewports used by [`Browser::screenshot`].
pub const DESKTOP: (u32, u32) = (1280, 900);
pub const PHONE: (u32, u32) = (390, 844);

/// The WebDriver endpoint from `BERTH_TEST_WEBDRIVER`.
pub fn webdriver_url() -> String {
    std::env::var("BERTH_TEST_WEBDRIVER").unwrap_or_else(|_| {
        panic!(
            "BERTH_TEST_WEBDRIVER is not set: browser tests need a chromedriver. Run them with \
             scripts/test (it starts one), or start one yourself: \
             `chromedriver --port=9515 --allowed-ips=127.0.0.1 &` and \
             `BERTH_TEST_WEBDRIVER=http://127.0.0.1:9515 cargo nextest run -p berth --features e2e`"
        )
    })
}

pub struct Browser {
    /// `None` once closed.
    client: Option<Client>,
    webdriver: String,
    session_id: String,
    /// Chromium's profile: fresh per browser, so no cookies or cache are shared.
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Opens a new headless Chromium session at desktop size.
    pub async fn start() -> Browser {
        let webdriver = webdriver_url();
        let profile = tempfile::tempdir().expect("Chromium profile tempdir");
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
            format!("--window-size={},{}", DESKTOP.0, DESKTOP.1),
        ];
        let capabilities = json!({
            "browserName": "chrome",
            // An alert stays open until assert_no_alert() sees it, and every other command
            // fails meanwhile, instead of chromedriver silently dismissing it.
            "unhandledPromptBehavior": "ignore",
            "timeouts": { "pageLoad": 30_000, "script": 10_000, "implicit": 0 },
            "goog:loggingPrefs": { "browser": "ALL" },
            "goog:chromeOptions": {
                "binary": chromium_binary(),
                "args": args,
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("capabilities are an object")
        };
        let client = ClientBuilder::rustls()
            .expect("TLS roots for the WebDriver client")
            .capabilities(capabilities)
            .connect(&webdriver)
            .await
            .unwrap_or_else(|e| panic!("starting Chromium through {webdriver}: {e}"));
        let session_id = client
            .session_id()
            .await
            .expect("session id")
            .expect("WebDriver session has an id");
        Browser {
            client: Some(client),
            webdriver,
            session_id,
            _profile: profile,
        }
    }

    /// The underlying fantoccini client, for what the helpers do not cover.
    pub fn client(&self) -> &Client {
        self.client.as_ref().expect("browser already closed")
    }

    /// Ends the session and quits this Chromium. Prefer this to dropping the browser.
    pub async fn close(mut self) {
        if let Some(client) = self.client.take() {
            if let Err(e) = client.close().await {
                eprintln!("closing the browser session: {e}");
            }
        }
    }

    /// Loads `url` and waits for the page to finish loading.
    pub async fn goto(&self, url: &str) {
        self.client()
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("opening {url}: {e}"));
    }

    /// The path of the current page (`/r/alice/app`), without query or fragment.
    pub async fn current_path(&self) -> String {
        self.client()
            .current_url()
            .await
            .expect("current URL")
            .path()
            .to_owned()
    }

    /// The full current URL.
    pub async fn current_url(&self) -> String {
        self.client()
            .current_url()
            .await
            .expect("current URL")
            .to_string()
    }

    /// The document's `<title>`.
    pub async fn title(&self) -> String {
        self.client().title().await.expect("page title")
    }

    /// The element `css` selects; fails at once if there is none (see [`Browser::wait_for`]).
    pub async fn find(&self, css: &str) -> Element {
        match self.client().find(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => panic!("finding `{css}` on {}: {e}", self.here().await),
        }
    }

    /// Every element `css` selects.
    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        self.client()
            .find_all(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("finding all `{css}`: {e}"))
    }

    /// Whether `css` selects anything right now.
    pub async fn exists(&self, css: &str) -> bool {
        !self.find_all(css).await.is_empty()
    }

    /// Waits up to [`WAIT_TIMEOUT`] for `css` to select something; returns it.
    pub async fn wait_for(&self, css: &str) -> Element {
        let deadline = Instant::now() + WAIT_TIMEOUT;
        loop {
            match self.client().find(Locator::Css(css)).await {
                Ok(element) => return element,
                Err(e) if e.is_no_such_element() && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!(
                    "waiting {WAIT_TIMEOUT:?} for `{css}` on {}: {e}",
                    self.here().await
                ),
            }
        }
    }

    /// Replaces the value of the input `css` with `text`, typed as a user would.
    pub async fn fill(&self, css: &str, text: &str) {
        let input = self.wait_for(css).await;
        input
            .clear()
            .await
            .unwrap_or_else(|e| panic!("clearing `{css}`: {e}"));
        input
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("typing into `{css}`: {e}"));
    }

    /// Clicks the element `css` selects. Does not wait for a page load; see [`Browser::submit`].
    pub async fn click(&self, css: &str) {
        self.wait_for(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking `{css}`: {e}"));
    }

    /// Clicks `css` and waits until the page it leads to has loaded (a link or a submit button).
    pub async fn click_and_wait(&self, css: &str) {
        self.mark_document().await;
        self.click(css).await;
        self.wait_for_new_document(css).await;
    }

    /// Submits the form `form_css` with its submit button, as a user would, and waits until
    /// the page the form leads to has loaded.
    pub async fn submit(&self, form_css: &str) {
        let button = format!(
            "{form_css} button[type=submit], {form_css} input[type=submit], \
             {form_css} button:not([type])"
        );
        self.click_and_wait(&button).await;
    }

    /// The visible text of the element `css` selects (waiting for it).
    pub async fn text(&self, css: &str) -> String {
        self.wait_for(css)
            .await
            .text()
            .await
            .unwrap_or_else(|e| panic!("reading the text of `{css}`: {e}"))
    }

    /// An attribute of the element `css` selects, if it has it.
    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.wait_for(css)
            .await
            .attr(name)
            .await
            .unwrap_or_else(|e| panic!("reading `{name}` of `{css}`: {e}"))
    }

    /// Runs `js` as the body of a function in the page; returns what it `return`s.
    pub async fn execute(&self, js: &str) -> Value {
        self.client()
            .execute(js, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("running script `{js}`: {e}"))
    }

    /// Fails the test if a JavaScript dialog (alert, confirm, prompt) is open, or if a script
    /// set `window.__pwned`: the two things an XSS payload in a test is made to do.
    ///
    /// WebDriver is asked directly, so a dialog is seen however early the page opened it (a
    /// wrapper around `window.alert` installed after load would miss scripts that ran first).
    pub async fn assert_no_alert(&self) {
        match self.client().get_alert_text().await {
            Err(e) if e.is_no_such_alert() => {}
            Ok(text) => {
                let _ = self.client().dismiss_alert().await;
                panic!(
                    "a JavaScript dialog opened on {}: {text:?}",
                    self.here().await
                );
            }
            Err(e) => panic!("asking whether a dialog is open: {e}"),
        }
        let pwned = self
            .execute("return window.__pwned === undefined ? null : String(window.__pwned);")
            .await;
        assert!(
            pwned.is_null(),
            "a script set window.__pwned = {pwned} on {}",
            self.here().await
        );
    }

    /// What the page wrote to the console (and what Chromium reported about it, such as
    /// Content-Security-Policy violations), since the last call. Each entry is "LEVEL message".
    pub async fn console(&self) -> Vec<String> {
        let url = format!(
            "{}/session/{}/se/log",
            self.webdriver.trim_end_matches('/'),
            self.session_id
        );
        let entries: Value = reqwest::Client::new()
            .post(&url)
            .json(&json!({ "type": "browser" }))
            .send()
            .await
            .unwrap_or_else(|e| panic!("reading the browser console from {url}: {e}"))
            .json()
            .await
            .expect("console log is JSON");
        entries["value"]
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .map(|e| {
                        format!(
                            "{} {}",
                            e["level"].as_str().unwrap_or("?"),
                            e["message"].as_str().unwrap_or("")
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Makes the page see `prefers-color-scheme: dark` (or light), as a system in dark mode
    /// would: through chromedriver's DevTools command, which lasts for the session.
    pub async fn prefer_dark(&self, dark: bool) {
        let url = format!(
            "{}/session/{}/goog/cdp/execute",
            self.webdriver.trim_end_matches('/'),
            self.session_id
        );
        let scheme = if dark { "dark" } else { "light" };
        let r = reqwest::Client::new()
            .post(&url)
            .json(&json!({
                "cmd": "Emulation.setEmulatedMedia",
                "params": { "features": [{ "name": "prefers-color-scheme", "value": scheme }] },
            }))
            .send()
            .await
            .unwrap_or_else(|e| panic!("asking {url} for the {scheme} colour scheme: {e}"));
        assert!(
            r.status().is_success(),
            "chromedriver refused the {scheme} colour scheme: {}",
            r.text().await.unwrap_or_default()
        );
        let applied = self
            .execute("return window.matchMedia('(prefers-color-scheme: dark)').matches;")
            .await;
        assert_eq!(applied, json!(dark), "the page sees the {scheme} scheme");
    }

    /// Saves the current page as `target/screenshots/<name>-desktop.png` (1280×900) and
    /// `<name>-phone.png` (390×844); returns both paths. Leaves the window at desktop size.
    pub async fn screenshot(&self, name: &str) -> (PathBuf, PathBuf) {
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        let desktop = dir.join(format!("{name}-desktop.png"));
        let phone = dir.join(format!("{name}-phone.png"));
        self.screenshot_at(DESKTOP, &desktop).await;
        self.screenshot_at(PHONE, &phone).await;
        self.resize(DESKTOP).await;
        (desktop, phone)
    }

    async fn screenshot_at(&self, size: (u32, u32), path: &std::path::Path) {
        self.resize(size).await;
        let png = self
            .client()
            .screenshot()
            .await
            .unwrap_or_else(|e| panic!("taking screenshot {}: {e}", path.display()));
        std::fs::write(path, png).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }

    /// Sets the viewport (what the page sees as `innerWidth`×`innerHeight`) to `size`: WebDriver
    /// sizes the window, so the frame around the viewport is measured and added.
    pub async fn resize(&self, (width, height): (u32, u32)) {
        self.set_window_size(width, height).await;
        let inner = self
            .execute("return [window.innerWidth, window.innerHeight];")
            .await;
        let inner_w = inner[0].as_u64().unwrap_or(u64::from(width));
        let inner_h = inner[1].as_u64().unwrap_or(u64::from(height));
        let frame_w = u32::try_from(u64::from(width).saturating_sub(inner_w)).unwrap_or(0);
        let frame_h = u32::try_from(u64::from(height).saturating_sub(inner_h)).unwrap_or(0);
        if frame_w > 0 || frame_h > 0 {
            self.set_window_size(width + frame_w, height + frame_h)
                .await;
        }
        // Let layout settle for the new width before anything reads it.
        let _ = self
            .execute("return new Promise(r => requestAnimationFrame(() => r(null)));")
            .await;
    }

    async fn set_window_size(&self, width: u32, height: u32) {
        self.client()
            .set_window_size(width, height)
            .await
            .unwrap_or_else(|e| panic!("resizing the window to {width}×{height}: {e}"));
    }

    /// Tags the current document so [`Browser::wait_for_new_document`] can tell it was replaced.
    async fn mark_document(&self) {
        self.execute("window.__berthOldDocument = true; return null;")
            .await;
    }

    async fn wait_for_new_document(&self, after: &str) {
        let deadline = Instant::now() + WAIT_TIMEOUT;
        loop {
            let state = self
                .client()
                .execute(
                    "return window.__berthOldDocument ? 'old' : document.readyState;",
                    Vec::new(),
                )
                .await;
            match state {
                Ok(Value::String(s)) if s == "complete" => return,
                Ok(_) => {}
                // The old document is going away while we ask; ask again.
                Err(e) if is_transient(&e) => {}
                Err(e) => panic!("waiting for the page after `{after}`: {e}"),
            }
            assert!(
                Instant::now() < deadline,
                "no new page loaded within {WAIT_TIMEOUT:?} after `{after}` (still on {})",
                self.here().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Where the browser is, for failure messages.
    async fn here(&self) -> String {
        match self.client().current_url().await {
            Ok(url) => url.to_string(),
            Err(e) => format!("(unknown page: {e})"),
        }
    }
}

impl Drop for Browser {
    /// A browser that was not closed still ends its session, or the chromedriver would keep
    /// its Chromium until it exits. fantoccini would do this from a task, but the test's
    /// runtime is usually gone by then, so this asks with a plain blocking request.
    fn drop(&mut self) {
        if self.client.take().is_some() {
            if let Err(e) = delete_session(&self.webdriver, &self.session_id) {
                eprintln!("ending WebDriver session {}: {e}", self.session_id);
            }
        }
    }
}

fn is_transient(e: &CmdError) -> bool {
    e.is_javascript_error() || e.is_no_such_window() || e.is_unknown_error() || e.is_timeout()
}

/// `DELETE /session/<id>` over a plain socket (the WebDriver is on loopback, plain HTTP).
fn delete_session(webdriver: &str, session_id: &str) -> std::io::Result<()> {
    let rest = webdriver.trim_start_matches("http://");
    let (host, base) = match rest.split_once('/') {
        Some((host, base)) => (host, format!("/{}", base.trim_end_matches('/'))),
        None => (rest, String::new()),
    };
    let base = base.trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(host)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "DELETE {base}/session/{session_id} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )?;
    // chromedriver keeps the connection open whatever we ask, so read just one response.
    let mut response = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        response.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&response);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())
                        .flatten()
                })
                .unwrap_or(0);
            if body.len() >= length {
                return Ok(());
            }
        }
    }
}

/// Chromium from `BERTH_TEST_CHROMIUM`, else Debian's.
fn chromium_binary() -> String {
    std::env::var("BERTH_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned())
}

/// `<workspace>/target/screenshots`.
pub fn screenshot_dir() -> PathBuf {
    let manifest_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .ancestors()
        .nth(2)
        .unwrap_or(manifest_dir)
        .join("target/screenshots")
}
