//! The automated-build pages as a browser sees them (without one): the Builds tab with its
//! history, badge and "Build now"; a build's page with its log, escaped; the live log as
//! Server-Sent Events; the build settings (source, push events, rules, unlink) for
//! administrators only; and a private repository's builds hidden from everyone else.
//!
//! Builds are switched on with a Docker Engine address nothing answers at, and builds are
//! written into the database as a worker leaves them (the real pipeline has tests of its own).

use std::time::Duration;

use crate::common;

use common::builds::{self, Row, FAILED_LOG};
use common::web::*;
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// alice, signed in, with a public `alice/web` and a private `alice/vault`.
async fn alice_with_repositories(app: &TestApp) -> reqwest::Client {
    let alice = sign_up_web(app, "alice").await;
    app.push_image("alice/web", "latest", b"web layer").await;
    app.push_image("alice/vault", "latest", b"vault layer")
        .await;
    let r = call(
        app,
        Method::PATCH,
        "/api/v1/repositories/alice/vault",
        Some(&basic("alice", "alice password")),
        Some(json!({"visibility": "private"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK, "make alice/vault private");
    alice
}

/// alice links `repository` to `url` on its build settings page.
async fn link(app: &TestApp, alice: &reqwest::Client, repository: &str, url: &str) {
    let settings = format!("/r/{repository}/settings/builds");
    let r = submit(
        alice,
        app,
        &settings,
        &settings,
        &[
            ("source_url", url),
            ("source_username", ""),
            ("source_password", ""),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "link {repository}");
    assert_eq!(location(&r), format!("{settings}?saved=source#source"));
}

fn failed_row(repository: &str) -> Row<'_> {
    Row {
        repository,
        status: "failed",
        ref_name: "main",
        commit: "3f2c9e1a7b4d5c6e7f8091a2b3c4d5e6f7a8b9c0",
        tag: "latest",
        error: "the Dockerfile's build failed: The command '/bin/sh -c false' returned a non-zero code: 1",
    }
}

async fn failed_build_with_log(app: &TestApp, repository: &str) -> i64 {
    let id = builds::insert(app, failed_row(repository)).await;
    for piece in FAILED_LOG {
        builds::append_log(app, id, piece).await;
    }
    id
}

#[tokio::test]
async fn a_private_repositorys_builds_are_404_to_outsiders_and_settings_need_an_administrator() {
    let app = TestApp::start_with(builds::on).await;
    let alice = alice_with_repositories(&app).await;
    link(
        &app,
        &alice,
        "alice/vault",
        "https://git.example.com/alice/vault.git",
    )
    .await;
    link(
        &app,
        &alice,
        "alice/web",
        "https://git.example.com/alice/web.git",
    )
    .await;
    let id = failed_build_with_log(&app, "alice/vault").await;
    let web_build = failed_build_with_log(&app, "alice/web").await;
    let private = [
        "/r/alice/vault/builds".to_owned(),
        format!("/r/alice/vault/builds/{id}"),
        format!("/r/alice/vault/builds/{id}/events"),
        "/r/alice/vault/settings/builds".to_owned(),
    ];

    let outsider = browser();
    let bob = sign_up_web(&app, "bobby").await;
    for (who, client) in [("an anonymous visitor", &outsider), ("bobby", &bob)] {
        for path in &private {
            let (status, html) = page(client, &app, path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{who} opening {path}");
            assert!(
                is_site_page(&html) && !html.contains("vault"),
                "{who} opening {path}"
            );
        }
    }
    // Its owner sees every one of them.
    for path in &private {
        let (status, _) = page(&alice, &app, path).await;
        assert_eq!(status, StatusCode::OK, "alice opening {path}");
    }
    // A build of another repository is not found under this one.
    let (status, _) = page(&alice, &app, &format!("/r/alice/vault/builds/{web_build}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = page(&alice, &app, "/r/alice/vault/builds/nine").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The public repository's builds are for everyone; its build settings are not.
    let (status, html) = page(&bob, &app, "/r/alice/web/builds").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(&format!("href=\"/r/alice/web/builds/{web_build}\"")),
        "the history lists the build"
    );
    assert!(
        !html.contains("action=\"/r/alice/web/builds\""),
        "a reader gets no Build now form"
    );
    for client in [&outsider, &bob] {
        let (status, html) = page(client, &app, "/r/alice/web/settings/builds").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(is_site_page(&html) && !html.contains("git.example.com"));
    }
    // Nor may a reader post to them, start or cancel a build, with a good token or not.
    for to in [
        "/r/alice/web/settings/builds".to_owned(),
        "/r/alice/web/settings/builds/unlink".to_owned(),
        "/r/alice/web/builds".to_owned(),
        format!("/r/alice/web/builds/{web_build}/cancel"),
    ] {
        let r = submit(
            &bob,
            &app,
            "/r/alice/web",
            &to,
            &[
                ("source_url", "https://evil.example/x.git"),
                ("confirm_unlink", "on"),
                ("ref", "main"),
            ],
        )
        .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "bobby posting to {to}");
    }

    // Without the page's token, not even alice changes anything.
    let before = app
        .json("/api/v1/repositories/alice/web/build-source")
        .await;
    for to in [
        "/r/alice/web/settings/builds",
        "/r/alice/web/settings/builds/unlink",
        "/r/alice/web/builds",
    ] {
        let r = post(
            &alice,
            &app,
            to,
            &[
                ("source_url", "https://evil.example/x.git"),
                ("confirm_unlink", "on"),
                ("ref", "main"),
            ],
        )
        .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{to} without a token");
    }
    let after = app
        .json("/api/v1/repositories/alice/web/build-source")
        .await;
    assert_eq!(before["url"], after["url"]);
    let listed = app.json("/api/v1/repositories/alice/web/builds").await;
    assert_eq!(listed["count"], 1, "nothing was queued: {listed}");
}

#[tokio::test]
async fn the_builds_tab_lists_the_history_shows_the_badge_and_builds_now() {
    let app = TestApp::start_with(builds::on).await;
    let alice = alice_with_repositories(&app).await;

    // Before a source is linked, its administrator is sent to the settings; others are told.
    let (_, html) = page(&alice, &app, "/r/alice/web/builds").await;
    assert!(
        html.contains("href=\"/r/alice/web/settings/builds\""),
        "{html}"
    );
    let (_, html) = page(&browser(), &app, "/r/alice/web/builds").await;
    assert!(html.contains("No automated builds."), "{html}");
    assert!(
        html.contains("href=\"/r/alice/web/builds\" aria-current=\"page\""),
        "the Builds tab is open"
    );

    link(
        &app,
        &alice,
        "alice/web",
        "https://git.example.com/alice/web.git",
    )
    .await;
    let failed = failed_build_with_log(&app, "alice/web").await;
    let (status, html) = page(&alice, &app, "/r/alice/web/builds").await;
    assert_eq!(status, StatusCode::OK);
    let row = &html[html
        .find(&format!("id=\"build-{failed}\""))
        .expect("the build's row")..];
    for shown in [
        format!("href=\"/r/alice/web/builds/{failed}\""),
        "status-failed\">failed<".to_owned(),
        "<code class=\"ref-name\">main</code>".to_owned(),
        ">3f2c9e1a7b4d<".to_owned(),
        "<code>latest</code>".to_owned(),
        "from gitea".to_owned(),
        "<td>55s</td>".to_owned(),
    ] {
        assert!(row.contains(&shown), "the row shows {shown}: {row}");
    }
    assert!(!html.contains("id=\"builds-off\""), "builds are on");
    let public = &app.base;
    assert!(
        html.contains(&format!(
            "value=\"[![build]({public}/api/v1/repositories/alice/web/build-badge)]({public}/r/alice/web/builds)\""
        )),
        "the badge's Markdown: {html}"
    );
    assert!(html.contains("src=\"/api/v1/repositories/alice/web/build-badge\""));
    assert!(
        html.contains("id=\"build-ref\" name=\"ref\"") && html.contains("value=\"main\""),
        "Build now offers the first branch rule's branch"
    );

    // A ref no rule builds is refused next to the form, with what was typed.
    let r = submit(
        &alice,
        &app,
        "/r/alice/web/builds",
        "/r/alice/web/builds",
        &[("ref", "feature-x")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.expect("body");
    assert!(
        html.contains("No build rule of alice/web matches") && html.contains("value=\"feature-x\""),
        "{html}"
    );

    // A ref a rule builds is queued, and its page opens.
    let r = submit(
        &alice,
        &app,
        "/r/alice/web/builds",
        "/r/alice/web/builds",
        &[("ref", "main")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = location(&r);
    let id: i64 = to
        .strip_prefix("/r/alice/web/builds/")
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("Build now leads to the build's page, not {to}"));
    assert!(id > failed);
    let (status, html) = page(&alice, &app, &to).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&format!("Build #{id}")));
    assert!(
        html.contains("manual <span class=\"muted\">by <a href=\"/u/alice\">alice</a>"),
        "{html}"
    );

    // 25 a page, newest first.
    for _ in 0..25 {
        builds::insert(&app, failed_row("alice/web")).await;
    }
    let (_, html) = page(&alice, &app, "/r/alice/web/builds").await;
    assert!(html.contains("href=\"/r/alice/web/builds?page=2\""));
    assert!(!html.contains(&format!("id=\"build-{failed}\"")));
    let (_, html) = page(&alice, &app, "/r/alice/web/builds?page=2").await;
    assert!(html.contains(&format!("id=\"build-{failed}\"")));
    assert!(html.contains("href=\"/r/alice/web/builds?page=1\""));
}

/// `html` with the entities a template escapes with turned back into characters.
fn unescape(html: &str) -> String {
    [
        ("&#60;", "<"),
        ("&lt;", "<"),
        ("&#62;", ">"),
        ("&gt;", ">"),
        ("&#34;", "\""),
        ("&quot;", "\""),
        ("&#39;", "'"),
        ("&#x27;", "'"),
        ("&#x2f;", "/"),
        ("&#38;", "&"),
        ("&amp;", "&"),
    ]
    .iter()
    .fold(html.to_owned(), |text, (entity, c)| text.replace(entity, c))
}

#[tokio::test]
async fn a_failed_builds_page_shows_its_error_and_its_log_as_text() {
    let app = TestApp::start_with(builds::on).await;
    let alice = alice_with_repositories(&app).await;
    link(
        &app,
        &alice,
        "alice/web",
        "https://git.example.com/alice/web.git",
    )
    .await;
    let id = failed_build_with_log(&app, "alice/web").await;
    builds::append_log(&app, id, "echo <script>alert(1)</script> & done\n").await;
    sqlx::query("UPDATE builds SET log_truncated = 1 WHERE id = $1")
        .bind(id)
        .execute(&app.state.pool)
        .await
        .expect("cut the log");

    let (status, html) = page(&browser(), &app, &format!("/r/alice/web/builds/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Step 2/3 : RUN false"));
    let text = unescape(&html);
    assert!(
        text.contains("id=\"build-error\" role=\"alert\">the Dockerfile's build failed"),
        "the error, prominent: {html}"
    );
    assert!(
        text.contains("echo <script>alert(1)</script> & done"),
        "the log, as text: {html}"
    );
    assert!(!html.contains("<script>alert(1)"));
    assert!(html.contains("id=\"log-truncated\""));
    assert!(html.contains(&format!(
        "href=\"/api/v1/repositories/alice/web/builds/{id}/log\""
    )));
    assert!(html.contains("href=\"/r/alice/web/tags/latest\""));
    assert!(
        !html.contains("http-equiv=\"refresh\"") && !html.contains("data-build-events"),
        "a finished build's page neither reloads nor follows its log"
    );
    assert!(
        !html.contains("/cancel\""),
        "a finished build cannot be cancelled"
    );

    // The log the page links to is the same text, unescaped.
    let r = alice
        .get(app.url(&format!("/api/v1/repositories/alice/web/builds/{id}/log")))
        .send()
        .await
        .expect("download the log");
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.expect("log");
    assert!(text.contains("echo <script>alert(1)</script> & done"));
}

/// Reads the live log `r` into `seen` until it holds `what`; fails after ten seconds.
async fn read_until(r: &mut reqwest::Response, seen: &mut String, what: &str) {
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        while !seen.contains(what) {
            match r.chunk().await.expect("read the live log") {
                Some(bytes) => seen.push_str(&String::from_utf8_lossy(&bytes)),
                None => return false,
            }
        }
        true
    })
    .await;
    assert!(
        matches!(found, Ok(true)),
        "the live log did not send {what:?}; it sent:\n{seen}"
    );
}

#[tokio::test]
async fn a_running_build_streams_its_log_and_status_until_it_ends() {
    let app = TestApp::start_with(builds::on).await;
    let alice = alice_with_repositories(&app).await;
    link(
        &app,
        &alice,
        "alice/web",
        "https://git.example.com/alice/web.git",
    )
    .await;
    let id = builds::insert(
        &app,
        Row {
            status: "building",
            error: "",
            ..failed_row("alice/web")
        },
    )
    .await;
    builds::append_log(&app, id, "Step 1/3 : FROM alpine:3.20\n").await;

    // Without script the page reloads itself; with it, the log goes on from the last piece.
    let (_, html) = page(&alice, &app, &format!("/r/alice/web/builds/{id}")).await;
    assert!(html.contains("<noscript><meta http-equiv=\"refresh\" content=\"5\"></noscript>"));
    assert!(html.contains(&format!(
        "data-build-events=\"/r/alice/web/builds/{id}/events?after=0\""
    )));
    assert!(html.contains(&format!("action=\"/r/alice/web/builds/{id}/cancel\"")));

    let mut r = alice
        .get(app.url(&format!("/r/alice/web/builds/{id}/events?after=0")))
        .send()
        .await
        .expect("open the live log");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "content-type"), "text/event-stream");
    assert_eq!(header(&r, "cache-control"), "no-cache");
    let mut seen = String::new();
    read_until(&mut r, &mut seen, "event: status\ndata: {").await;
    assert!(seen.contains("\"status\":\"building\""), "{seen}");
    assert!(
        !seen.contains("FROM alpine"),
        "the page had that piece already"
    );

    builds::append_log(&app, id, "Step 2/3 : RUN false\r\n<b>bold</b>\n").await;
    read_until(&mut r, &mut seen, "Step 2/3").await;
    assert!(
        seen.contains(
            "id: 1\nevent: log\ndata: {\"text\":\"Step 2/3 : RUN false\\r\\n<b>bold</b>\\n\"}\n\n"
        ),
        "one event, its text in JSON: {seen}"
    );

    builds::append_log(
        &app,
        id,
        "The command '/bin/sh -c false' returned a non-zero code: 1\n",
    )
    .await;
    builds::set_status(&app, id, "failed", "the build failed").await;
    read_until(&mut r, &mut seen, "event: end").await;
    let end = seen.find("event: end").expect("end");
    let last = seen
        .find("returned a non-zero code")
        .expect("the last piece");
    let status = seen
        .rfind("\"status\":\"failed\"")
        .expect("the final status");
    assert!(last < end && status < end, "the end comes last: {seen}");
    let rest = tokio::time::timeout(Duration::from_secs(5), r.chunk())
        .await
        .expect("the stream ends");
    assert!(matches!(rest, Ok(None)), "nothing after the end: {rest:?}");

    // A reconnecting browser says where it was: only what came after is sent again.
    let r = alice
        .get(app.url(&format!("/r/alice/web/builds/{id}/events?after=0")))
        .header("Last-Event-ID", "1")
        .send()
        .await
        .expect("reconnect");
    let again = tokio::time::timeout(Duration::from_secs(10), r.text())
        .await
        .expect("a finished build's live log ends")
        .expect("body");
    assert!(
        !again.contains("id: 0\n") && !again.contains("id: 1\n") && again.contains("id: 2\n"),
        "{again}"
    );
    assert!(again.contains("\"status\":\"failed\"") && again.ends_with("event: end\ndata: {}\n\n"));
}

#[tokio::test]
async fn build_settings_link_a_source_edit_the_rules_and_unlink() {
    let app = TestApp::start_with(builds::on).await;
    let alice = alice_with_repositories(&app).await;
    let settings = "/r/alice/web/settings/builds";

    // The repository's settings lead there.
    let (_, html) = page(&alice, &app, "/r/alice/web/settings").await;
    assert!(html.contains(&format!("href=\"{settings}\"")));
    let (status, html) = page(&alice, &app, settings).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("No source is linked yet.") && !html.contains("id=\"rules\""));

    // file:// is for site administrators; a refused URL stays in the form.
    let r = submit(
        &alice,
        &app,
        settings,
        settings,
        &[("source_url", "file:///srv/git/web.git")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.expect("body");
    assert!(
        html.contains("class=\"form-error\"") && html.contains("value=\"file:///srv/git/web.git\"")
    );

    // An https source with a token: stored, never shown again.
    let r = submit(
        &alice,
        &app,
        settings,
        settings,
        &[
            ("source_url", "https://git.example.com/alice/web.git"),
            ("source_username", "alice"),
            ("source_password", "s3cret-token-42"),
            ("base_rebuild", "on"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&alice, &app, &location(&r)).await;
    assert!(html.contains("Source saved."));
    assert!(
        !html.contains("s3cret-token-42"),
        "the token is never shown"
    );
    assert!(html.contains("One is stored; leave this empty to keep it."));
    assert!(html.contains("name=\"base_rebuild\" checked"));
    let source = app
        .json("/api/v1/repositories/alice/web/build-source")
        .await;
    assert_eq!(source["has_password"], true);
    assert_eq!(source["base_rebuild"], true);
    let push_url = source["push_url"].as_str().expect("push URL");
    let push_secret = source["push_secret"].as_str().expect("push secret");
    assert!(html.contains(&format!("value=\"{push_url}\"")) && html.contains(push_secret));
    assert!(html.contains("application/json") && html.contains("Secret token"));

    // Rules: a template with a group the regex lacks is refused, with the rows as typed.
    let rules = |tag_template: &'static str| {
        vec![
            ("rule_rows", "2"),
            ("rule0_kind", "branch"),
            ("rule0_source", "main"),
            ("rule0_tag", "latest"),
            ("rule0_dockerfile", "Dockerfile"),
            ("rule0_context", "."),
            ("rule0_args", ""),
            ("rule0_autobuild", "on"),
            ("rule1_kind", "tag"),
            ("rule1_source", "/^v([0-9.]+)$/"),
            ("rule1_tag", tag_template),
            ("rule1_dockerfile", "docker/app.Dockerfile"),
            ("rule1_context", "app"),
            ("rule1_args", "VERSION=1\r\nCHANNEL=stable"),
        ]
    };
    let to = "/r/alice/web/settings/builds/rules";
    let r = submit(&alice, &app, settings, to, &rules("release-{\\2}")).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.expect("body");
    let error = &html[html.find("id=\"rules-error\"").expect("the rules' error")..];
    assert!(
        error.starts_with("id=\"rules-error\">Rule 2: tag"),
        "{error}"
    );
    assert!(
        html.contains("value=\"release-{\\2}\"")
            && html.contains("value=\"docker/app.Dockerfile\"")
    );
    let r = submit(&alice, &app, settings, to, &rules("release-{\\1}")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), format!("{settings}?saved=rules#rules"));
    let saved = app.json("/api/v1/repositories/alice/web/build-rules").await;
    assert_eq!(
        saved["rules"][1],
        json!({
            "source_type": "tag", "source": "/^v([0-9.]+)$/", "tag": "release-{\\1}",
            "dockerfile": "docker/app.Dockerfile", "context": "app",
            "build_args": {"CHANNEL": "stable", "VERSION": "1"}, "autobuild": false,
        }),
        "{saved}"
    );
    let (_, html) = page(&alice, &app, &location(&r)).await;
    assert!(
        html.contains("Build rules saved.") && html.contains("name=\"rule2_source\""),
        "a row to add one"
    );

    // A build argument without '=' is refused; a ticked row is removed.
    let mut bad = rules("release-{\\1}");
    bad.retain(|(k, _)| *k != "rule1_args");
    bad.push(("rule1_args", "VERSION"));
    let r = submit(&alice, &app, settings, to, &bad).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.expect("body").contains("KEY=value"));
    let mut remove = rules("release-{\\1}");
    remove.push(("rule0_remove", "on"));
    let r = submit(&alice, &app, settings, to, &remove).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let saved = app.json("/api/v1/repositories/alice/web/build-rules").await;
    assert_eq!(saved["rules"].as_array().map(Vec::len), Some(1), "{saved}");
    let r = submit(&alice, &app, settings, to, &[("rule0_source", "main")]).await;
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "a form without its row count"
    );

    // ssh:// gets a deploy key to paste.
    let r = submit(
        &alice,
        &app,
        settings,
        settings,
        &[("source_url", "ssh://git@git.example.com/alice/web.git")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&alice, &app, settings).await;
    assert!(html.contains("id=\"deploy-key-text\" class=\"mono\" rows=\"3\" readonly>ssh-ed25519 "));
    assert!(html.contains("Generate a new deploy key"));

    // Unlinking needs its box ticked; the history stays.
    builds::insert(&app, failed_row("alice/web")).await;
    let unlink = "/r/alice/web/settings/builds/unlink";
    let r = submit(&alice, &app, settings, unlink, &[]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r
        .text()
        .await
        .expect("body")
        .contains("Yes, unlink this source"));
    assert_eq!(
        app.get("/api/v1/repositories/alice/web/build-source")
            .await
            .status(),
        StatusCode::OK
    );
    let r = submit(&alice, &app, settings, unlink, &[("confirm_unlink", "on")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&alice, &app, &location(&r)).await;
    assert!(html.contains("Source unlinked.") && html.contains("No source is linked yet."));
    assert_eq!(
        app.get("/api/v1/repositories/alice/web/build-source")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let (_, html) = page(&alice, &app, "/r/alice/web/builds").await;
    assert!(html.contains("status-failed"), "the history stays");
}

#[tokio::test]
async fn with_builds_off_the_pages_say_so_and_build_now_is_refused() {
    let app = TestApp::start().await;
    let alice = alice_with_repositories(&app).await;
    link(
        &app,
        &alice,
        "alice/web",
        "https://git.example.com/alice/web.git",
    )
    .await;
    let (_, html) = page(&alice, &app, "/r/alice/web/builds").await;
    assert!(html.contains(
        "Automated builds are off on this server: its operator has not configured a Docker host."
    ));
    let (_, html) = page(&alice, &app, "/r/alice/web/settings/builds").await;
    assert!(html.contains("id=\"builds-off\""));
    let r = submit(
        &alice,
        &app,
        "/r/alice/web/builds",
        "/r/alice/web/builds",
        &[("ref", "main")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.expect("body");
    assert!(html.contains("Builds are off on this server"), "{html}");
}
