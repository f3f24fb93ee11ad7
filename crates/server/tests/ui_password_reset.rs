#![cfg(feature = "e2e")]
//! "Forgot password?" by e-mail, in a real browser, with a real SMTP server on loopback (an
//! `aiosmtpd` sink, `smtp_sink.py`, that writes each message it receives to a directory).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common;

use berth_accounts::mail::{SmtpSettings, SmtpTls};
use common::browser::Browser;
use common::ui::*;
use common::*;

/// A running SMTP sink; stopped when dropped.
struct Sink {
    child: std::process::Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Python that has `aiosmtpd`: `BERTH_TEST_PYTHON` (scripts/test sets it, and then it must
/// work), else `python3` if it can import it.
fn python_with_aiosmtpd() -> Option<String> {
    let (python, required) = match std::env::var("BERTH_TEST_PYTHON") {
        Ok(p) if !p.is_empty() => (p, true),
        _ => ("python3".to_owned(), false),
    };
    let ok = std::process::Command::new(&python)
        .args(["-c", "import aiosmtpd"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok || !required,
        "BERTH_TEST_PYTHON={python} cannot import aiosmtpd"
    );
    ok.then_some(python)
}

impl Sink {
    fn start(python: &str) -> Sink {
        use std::io::BufRead;
        let dir = tempfile::tempdir().expect("tempdir");
        let port = common::binary::free_port();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_sink.py");
        let mut child = std::process::Command::new(python)
            .arg(&script)
            .arg(port.to_string())
            .arg(dir.path())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start the SMTP sink");
        let stdout = child.stdout.take().expect("sink stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("sink output");
        assert_eq!(line.trim(), "ready", "the SMTP sink did not start");
        Sink { child, dir, port }
    }

    /// The messages received so far, in order.
    fn messages(&self) -> Vec<String> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .expect("sink dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "txt"))
            .collect();
        paths.sort();
        paths
            .iter()
            .map(|p| std::fs::read_to_string(p).expect("message"))
            .collect()
    }

    /// Waits (up to 20 s) until `n` messages have arrived, and returns them.
    async fn wait_for(&self, n: usize) -> Vec<String> {
        for _ in 0..200 {
            let messages = self.messages();
            if messages.len() >= n {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{n} messages did not arrive: {:?}", self.messages());
    }
}

/// The reset link in a message.
fn link_in(message: &str) -> String {
    message
        .split_whitespace()
        .find(|w| w.contains("/password/reset/"))
        .unwrap_or_else(|| panic!("no reset link in {message}"))
        .to_owned()
}

const ANSWER: &str = "If an account has that address, a link is on its way.";

/// Asks for a link for `who` on the forgot page and checks the one answer.
/// Berth sending its mail as `from` through the SMTP server on loopback `port`, without TLS.
async fn app_mailing_through(port: u16, from: &str) -> TestApp {
    TestApp::start_with(|c| {
        c.smtp = Some(SmtpSettings {
            host: "127.0.0.1".into(),
            port,
            from: from.into(),
            username: None,
            password: None,
            tls: SmtpTls::None,
            public_url: c.public_url.clone(),
        });
    })
    .await
}

async fn ask_for_link(browser: &Browser, app: &TestApp, who: &str) {
    browser.goto(&app.url("/password/forgot")).await;
    browser.fill("#who", who).await;
    browser.submit("form[action='/password/forgot']").await;
    let notice = browser.text(".notice").await;
    assert!(notice.starts_with(ANSWER), "{who}: {notice}");
}

#[tokio::test]
async fn a_forgotten_password_is_reset_with_a_link_by_mail() {
    let Some(python) = python_with_aiosmtpd() else {
        eprintln!("skipped: python3 cannot import aiosmtpd (pip install aiosmtpd, or set BERTH_TEST_PYTHON)");
        return;
    };
    let sink = Sink::start(&python);
    let port = sink.port;
    let app = app_mailing_through(port, "Berth <berth@example.com>").await;
    let browser = Browser::start().await;
    sign_up_in(&browser, &app, "dora").await;
    log_out(&browser).await;
    // Dora is signed in elsewhere, too: that session ends with the reset.
    let elsewhere = Browser::start().await;
    log_in(&elsewhere, &app, "dora").await;

    // The log-in page offers the link; it leads to the form.
    browser.goto(&app.url("/login")).await;
    assert!(browser.exists("a[href='/password/forgot']").await);
    screenshots(&browser, "login-forgot-link").await;
    browser.click_and_wait("a[href='/password/forgot']").await;
    assert_eq!(browser.current_path().await, "/password/forgot");
    screenshots(&browser, "password-forgot").await;

    // An address no account has gets the same answer, and no mail.
    ask_for_link(&browser, &app, "nobody@example.com").await;
    let unknown = browser.text("main").await;
    // The account's address, in another case, gets the mail.
    ask_for_link(&browser, &app, "Dora@Example.com").await;
    screenshots(&browser, "password-forgot-sent").await;
    assert_eq!(
        browser.text("main").await,
        unknown,
        "the answer tells whether the account exists"
    );
    let messages = sink.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let messages_now = sink.messages();
    assert_eq!(messages_now.len(), 1, "{messages_now:?}");
    let mail = &messages[0];
    assert!(mail.contains("Envelope-To: dora@example.com"), "{mail}");
    assert!(mail.contains("From: Berth <berth@example.com>"), "{mail}");
    assert!(
        mail.contains("Subject: Reset your Berth password"),
        "{mail}"
    );
    assert!(mail.contains("Content-Type: text/plain"), "{mail}");
    let link = link_in(mail);
    assert!(
        link.starts_with(&app.url("/password/reset/berth_pwt_")),
        "{link}"
    );

    // The link asks for a new password; a common one is refused, a mismatch too.
    browser.goto(&link).await;
    assert!(browser.text("main").await.contains("dora"));
    screenshots(&browser, "password-reset").await;
    browser.fill("#new-password", "password1").await;
    browser
        .fill("#new-password-confirmation", "password1")
        .await;
    browser.submit("form[action^='/password/reset/']").await;
    let error = browser.text(".form-error").await;
    assert!(error.contains("10,000 most common passwords"), "{error}");
    let fresh = "dora remembers this one now";
    browser.fill("#new-password", fresh).await;
    browser
        .fill("#new-password-confirmation", "something else")
        .await;
    browser.submit("form[action^='/password/reset/']").await;
    assert!(browser.text(".form-error").await.contains("do not match"));
    browser.fill("#new-password", fresh).await;
    browser.fill("#new-password-confirmation", fresh).await;
    browser.submit("form[action^='/password/reset/']").await;
    // Signed in with the new password; signed out everywhere else.
    assert_signed_in_as(&browser, "dora").await;
    log_out(&browser).await;
    elsewhere.goto(&app.url("/settings")).await;
    assert!(
        !elsewhere.exists("details.menu").await,
        "a session from before the reset goes on"
    );
    elsewhere.close().await;

    // The old password no longer works; the new one does.
    browser.goto(&app.url("/login")).await;
    browser.fill("#username", "dora").await;
    browser.fill("#password", &password("dora")).await;
    browser.submit("form[action='/login']").await;
    let refused = browser.text(".form-error").await;
    assert!(refused.to_lowercase().contains("incorrect"), "{refused}");
    browser.fill("#password", fresh).await;
    browser.submit("form[action='/login']").await;
    assert_signed_in_as(&browser, "dora").await;
    log_out(&browser).await;

    // The link works once: a second use is a page that says so, and offers a new one.
    browser.goto(&link).await;
    assert_error_page(&browser, 410, "a used link").await;
    assert!(browser.exists("a[href='/password/forgot']").await);
    screenshots(&browser, "password-reset-used").await;
    browser
        .goto(&app.url("/password/reset/berth_pwt_not-a-ticket"))
        .await;
    assert_error_page(&browser, 410, "an unknown link").await;

    // Both steps are in the audit log.
    let log = app.json("/api/v1/audit?action=password.").await;
    let actions: Vec<&str> = log["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["target"] == "dora")
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(actions.contains(&"password.reset_requested"), "{log}");
    assert!(actions.contains(&"password.reset"), "{log}");
    browser.close().await;
}

#[tokio::test]
async fn without_smtp_there_is_no_forgot_password() {
    let app = TestApp::start().await;
    let browser = Browser::start().await;
    browser.goto(&app.url("/login")).await;
    assert!(browser.exists("form[action='/login']").await);
    assert!(!browser.exists("a[href='/password/forgot']").await);
    assert!(!html(&browser).await.contains("Forgot"));
    browser.goto(&app.url("/password/forgot")).await;
    assert_error_page(&browser, 404, "the forgot page without [smtp]").await;
    browser
        .goto(&app.url("/password/reset/berth_pwt_0123"))
        .await;
    assert_error_page(&browser, 404, "a reset link without [smtp]").await;
    browser.close().await;
}

#[tokio::test]
async fn a_failing_smtp_server_changes_nothing_in_the_answer() {
    // Nothing listens on this port: every attempt to send fails.
    let port = common::binary::free_port();
    let app = app_mailing_through(port, "berth@example.com").await;
    let browser = Browser::start().await;
    sign_up_in(&browser, &app, "erin").await;
    log_out(&browser).await;
    let started = std::time::Instant::now();
    ask_for_link(&browser, &app, "erin@example.com").await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the answer waited for the SMTP server"
    );
    assert!(!browser.exists(".form-error").await);
    // Asking again and again from one client is throttled like logging in, in words.
    let mut refused_at = None;
    for attempt in 2..=15 {
        browser.goto(&app.url("/password/forgot")).await;
        browser.fill("#who", "erin@example.com").await;
        browser.submit("form[action='/password/forgot']").await;
        if browser.exists(".form-error").await {
            let error = browser.text(".form-error").await;
            assert!(error.contains("Too many requests"), "{error}");
            refused_at = Some(attempt);
            break;
        }
    }
    assert!(
        refused_at.is_some_and(|n| n > 3),
        "throttled at {refused_at:?}"
    );
    // The request itself was recorded; the failure is only logged.
    let log = app
        .json("/api/v1/audit?action=password.reset_requested")
        .await;
    assert!(
        log["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .any(|e| e["target"] == "erin"),
        "{log}"
    );
    browser.close().await;
}
