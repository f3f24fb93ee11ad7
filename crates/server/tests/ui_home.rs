#![cfg(feature = "e2e")]
//! The signed-in home page in a real browser: alice's dashboard lists her repositories (the
//! private ones too) and her organizations, never someone else's private repository; she
//! creates empty repositories with the form, which then show how to push; the activity feed
//! (page and `GET /api/v1/activity`) tells of pushes, tag deletes, stars and comments, and
//! never names a private repository to an outsider; and a repository's overview shows its
//! recent tags, relative times with the exact time in their title, and pull commands by tag and
//! by digest.

use crate::common;

use common::browser::Browser;
use common::ui::*;
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// Signs `name` up through the API with the password the browser steps log in with; returns
/// their `Authorization: Basic` value.
async fn user(app: &TestApp, name: &str) -> String {
    let r = call(
        app,
        Method::POST,
        "/api/v1/users",
        None,
        Some(json!({
            "username": name,
            "email": format!("{name}@example.com"),
            "password": password(name),
        })),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED, "sign up {name}");
    basic(name, &password(name))
}

/// Creates `namespace/name` through the API as `auth`.
async fn create_repo(app: &TestApp, auth: &str, namespace: &str, name: &str, private: bool) {
    let visibility = if private { "private" } else { "public" };
    let r = call(
        app,
        Method::POST,
        "/api/v1/repositories",
        Some(auth),
        Some(json!({ "namespace": namespace, "name": name, "visibility": visibility })),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED, "create {namespace}/{name}");
}

/// The value of an input.
async fn value(browser: &Browser, css: &str) -> String {
    browser.attr(css, "value").await.unwrap_or_default()
}

/// Fills in and posts the new-repository form.
async fn new_repository(
    browser: &Browser,
    app: &TestApp,
    namespace: &str,
    name: &str,
    description: &str,
    private: bool,
) {
    browser.goto(&app.url("/repositories/new")).await;
    choose(browser, "#repo-namespace", namespace).await;
    browser.fill("#repo-name", name).await;
    browser.fill("#repo-description", description).await;
    let visibility = if private { "private" } else { "public" };
    browser
        .click(&format!("input[name='visibility'][value='{visibility}']"))
        .await;
    browser.submit("form[action='/repositories/new']").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_lists_your_repositories_and_creates_empty_ones() {
    let app = TestApp::start().await;
    let host = app.host();
    let alice = user(&app, "alice").await;
    let carol = user(&app, "carol").await;
    let r = call(
        &app,
        Method::POST,
        "/api/v1/orgs",
        Some(&alice),
        Some(json!({ "name": "acme" })),
    )
    .await;
    assert!(r.status().is_success(), "alice founds acme: {}", r.status());
    create_repo(&app, &alice, "alice", "notes", true).await;
    create_repo(&app, &alice, "acme", "site", true).await;
    create_repo(&app, &carol, "carol", "hidden", true).await;
    app.push_image("alice/web", "1.0", b"alice's web layer")
        .await;

    // Anonymous, the front page is the one it always was.
    let browser = Browser::start().await;
    browser.goto(&app.url("/")).await;
    let front = html(&browser).await;
    assert!(front.contains("Sign in to push your own"), "anonymous home");
    assert!(!front.contains("alice/notes") && !front.contains("carol/hidden"));

    // Signed in: her repositories (private ones with their badge) and her organization.
    log_in(&browser, &app, "alice").await;
    assert_eq!(browser.current_path().await, "/");
    let list = inner_html(&browser, "#my-repositories").await;
    for name in ["alice/web", "alice/notes", "acme/site"] {
        assert!(
            list.contains(&format!("/r/{name}\"")),
            "{name} listed: {list}"
        );
    }
    assert!(
        list.contains("Private") && list.contains("Public"),
        "{list}"
    );
    assert!(
        inner_html(&browser, "#my-orgs").await.contains("/o/acme"),
        "acme listed"
    );
    let page = html(&browser).await;
    assert!(!page.contains("carol/hidden"), "carol's private repository");
    assert!(
        !page.contains("Sign in to push your own"),
        "the visitor's pitch"
    );
    screenshots(&browser, "dashboard").await;

    // Create repository, in her namespace: empty, private, and showing how to push.
    new_repository(&browser, &app, "alice", "tools", "Build tools", true).await;
    assert_eq!(browser.current_path().await, "/r/alice/tools");
    assert!(browser.text(".repo-name").await.contains("Private"));
    assert!(browser.text(".lead-left").await.contains("Build tools"));
    assert!(
        !browser.exists("#pull-command").await,
        "nothing to pull yet"
    );
    assert_eq!(
        value(&browser, "#push-command").await,
        format!("docker push {host}/alice/tools:latest")
    );
    assert_eq!(
        value(&browser, "#push-tag").await,
        format!("docker tag my-image {host}/alice/tools:latest")
    );
    screenshots(&browser, "repo-empty").await;

    // And in her organization.
    new_repository(&browser, &app, "acme", "api", "", false).await;
    assert_eq!(browser.current_path().await, "/r/acme/api");
    assert!(browser.exists("#push-help").await);
    let r = call(
        &app,
        Method::GET,
        "/api/v1/repositories/acme/api",
        None,
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK, "acme/api is public");

    // Both are on her dashboard now.
    browser.goto(&app.url("/")).await;
    let list = inner_html(&browser, "#my-repositories").await;
    assert!(list.contains("/r/alice/tools\"") && list.contains("/r/acme/api\""));

    // A taken name and a bad name: the form again, saying why, with what she typed.
    new_repository(&browser, &app, "alice", "tools", "Again", false).await;
    assert_eq!(browser.current_path().await, "/repositories/new");
    assert!(
        browser.text(".form-error").await.contains("already exists"),
        "taken name"
    );
    assert_eq!(value(&browser, "#repo-name").await, "tools");
    assert_eq!(value(&browser, "#repo-description").await, "Again");
    new_repository(&browser, &app, "acme", "Bad Name!", "Kept", true).await;
    assert!(
        browser.text(".form-error").await.contains("not a valid"),
        "bad name"
    );
    assert_eq!(value(&browser, "#repo-name").await, "Bad Name!");
    assert_eq!(value(&browser, "#repo-description").await, "Kept");
    assert_eq!(
        browser
            .attr("#repo-namespace option:checked", "value")
            .await
            .as_deref(),
        Some("acme")
    );
    assert!(
        browser
            .exists("input[name='visibility'][value='private']:checked")
            .await
    );
    screenshots(&browser, "repo-new-error").await;

    // Carol is no member of acme: the form does not offer it, and posting it anyway is refused.
    log_out(&browser).await;
    log_in(&browser, &app, "carol").await;
    let page = html(&browser).await;
    assert!(page.contains("/r/carol/hidden"), "carol's own");
    for private in ["alice/notes", "alice/tools", "acme/site"] {
        assert!(!page.contains(private), "carol sees {private}");
    }
    browser.goto(&app.url("/repositories/new")).await;
    assert!(!browser.exists("#repo-namespace option[value='acme']").await);
    screenshots(&browser, "repo-new-form").await;
    browser
        .execute(
            "const o = document.createElement('option');
             o.value = 'acme'; o.textContent = 'acme';
             document.querySelector('#repo-namespace').append(o);",
        )
        .await;
    choose(&browser, "#repo-namespace", "acme").await;
    browser.fill("#repo-name", "intruder").await;
    browser.submit("form[action='/repositories/new']").await;
    assert!(
        browser
            .text(".form-error")
            .await
            .contains("cannot create repositories in \"acme\""),
        "refused"
    );
    let r = call(
        &app,
        Method::GET,
        "/api/v1/repositories/acme/intruder",
        None,
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "nothing was created");
    browser.close().await;
}

/// The feed of `auth` (or anonymous) as JSON.
async fn feed(app: &TestApp, auth: Option<&str>, query: &str) -> serde_json::Value {
    let r = call(
        app,
        Method::GET,
        &format!("/api/v1/activity{query}"),
        auth,
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK, "GET /api/v1/activity{query}");
    r.json().await.expect("feed JSON")
}

fn has(feed: &serde_json::Value, kind: &str, repository: &str) -> bool {
    feed["activity"]
        .as_array()
        .expect("activity")
        .iter()
        .any(|e| e["kind"] == kind && e["repository"] == repository)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activity_tells_what_happened_to_what_you_may_see() {
    let app = TestApp::start().await;
    let alice = user(&app, "alice").await;
    let carol = user(&app, "carol").await;
    create_repo(&app, &alice, "alice", "pub", false).await;
    create_repo(&app, &alice, "alice", "priv", true).await;
    app.push_image("alice/pub", "1.0", b"one").await;
    app.push_image("alice/pub", "2.0", b"two").await;
    app.push_image("alice/priv", "secret-tag", b"three").await;
    let r = call(
        &app,
        Method::DELETE,
        "/api/v1/repositories/alice/pub/tags/1.0",
        Some(&alice),
        None,
    )
    .await;
    assert!(r.status().is_success(), "tag delete: {}", r.status());
    for repo in ["alice/pub", "alice/priv"] {
        let r = call(
            &app,
            Method::PUT,
            &format!("/api/v1/repositories/{repo}/star"),
            Some(&alice),
            None,
        )
        .await;
        assert!(r.status().is_success(), "star {repo}");
        let r = call(
            &app,
            Method::POST,
            &format!("/api/v1/repositories/{repo}/comments"),
            Some(&alice),
            Some(json!({ "body": "Looks good" })),
        )
        .await;
        assert!(r.status().is_success(), "comment on {repo}");
    }

    // Alice sees everything, newest first.
    let mine = feed(&app, Some(&alice), "").await;
    for kind in ["push", "tag_delete", "star", "comment"] {
        assert!(has(&mine, kind, "alice/pub"), "{kind} on alice/pub: {mine}");
    }
    assert!(has(&mine, "push", "alice/priv") && has(&mine, "comment", "alice/priv"));
    let ids: Vec<i64> = mine["activity"]
        .as_array()
        .expect("activity")
        .iter()
        .map(|e| e["id"].as_i64().expect("id"))
        .collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    assert_eq!(mine["activity"][0]["kind"], "comment");

    // Paged: two at a time, each page older than the last.
    let first = feed(&app, Some(&alice), "?limit=2").await;
    assert_eq!(first["activity"].as_array().map(Vec::len), Some(2));
    let next = first["next"].as_str().expect("a next page");
    let query = next.trim_start_matches("/api/v1/activity");
    let second = feed(&app, Some(&alice), query).await;
    assert_eq!(second["activity"][0]["id"].as_i64(), Some(ids[2]));

    // Outsiders and anonymous callers see the public repository's activity only.
    for (who, auth) in [("carol", Some(carol.as_str())), ("anonymous", None)] {
        let theirs = feed(&app, auth, "?limit=100").await;
        assert!(has(&theirs, "push", "alice/pub"), "{who}: {theirs}");
        assert!(has(&theirs, "tag_delete", "alice/pub"), "{who}: {theirs}");
        let text = theirs.to_string();
        assert!(
            !text.contains("alice/priv") && !text.contains("secret-tag"),
            "{who} learns of the private repository: {text}"
        );
    }

    // The same on the dashboards.
    let browser = Browser::start().await;
    log_in(&browser, &app, "alice").await;
    let activity = browser.text("#activity").await;
    for words in [
        "pushed 2.0 to alice/pub",
        "deleted the tag 1.0 of alice/pub",
        "starred alice/pub",
        "commented on alice/pub",
        "alice/priv",
    ] {
        assert!(activity.contains(words), "{words:?} in {activity}");
    }
    assert!(browser.exists("#activity time[datetime][title]").await);
    screenshots(&browser, "dashboard-activity").await;
    log_out(&browser).await;
    log_in(&browser, &app, "carol").await;
    let activity = browser.text("#activity").await;
    assert!(activity.contains("pushed 2.0 to alice/pub"), "{activity}");
    let page = html(&browser).await;
    assert!(
        !page.contains("alice/priv") && !page.contains("secret-tag"),
        "carol's dashboard names the private repository"
    );

    // Made private, alice/pub leaves carol's feed at once; deleted, alice/priv leaves alice's.
    let r = call(
        &app,
        Method::PATCH,
        "/api/v1/repositories/alice/pub",
        Some(&alice),
        Some(json!({ "visibility": "private" })),
    )
    .await;
    assert!(r.status().is_success(), "made private");
    let theirs = feed(&app, Some(&carol), "?limit=100").await;
    assert!(!theirs.to_string().contains("alice/pub"), "{theirs}");
    let r = call(
        &app,
        Method::DELETE,
        "/api/v1/repositories/alice/priv",
        Some(&alice),
        None,
    )
    .await;
    assert!(r.status().is_success(), "deleted");
    let mine = feed(&app, Some(&alice), "?limit=100").await;
    assert!(!mine.to_string().contains("alice/priv"), "{mine}");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_shows_recent_tags_times_and_pull_commands() {
    let app = TestApp::start().await;
    let host = app.host();
    let alice = user(&app, "alice").await;
    create_repo(&app, &alice, "alice", "app", false).await;
    let mut digests = Vec::new();
    for i in 0..7 {
        if i == 6 {
            // Tags pushed in the same second are listed by name: the newest gets its own.
            tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
        }
        let (_, digest) = app
            .push_image(
                "alice/app",
                &format!("1.{i}"),
                format!("layer {i}").as_bytes(),
            )
            .await;
        digests.push(digest);
    }

    let browser = Browser::start().await;
    browser.goto(&app.url("/r/alice/app")).await;
    let rows = browser.find_all("#recent-tags tbody tr").await;
    assert_eq!(rows.len(), 5, "five recent tags");
    let first = browser.text("#recent-tags tbody tr:first-child").await;
    assert!(first.contains("1.6"), "the newest first: {first}");
    assert!(first.contains("linux/amd64"), "its platform: {first}");
    assert!(first.contains(" B"), "its size: {first}");
    assert_eq!(
        browser
            .attr("#recent-tags a[href='/r/alice/app/tags']", "href")
            .await
            .as_deref(),
        Some("/r/alice/app/tags")
    );
    assert!(browser.text("#recent-tags").await.contains("All 7 tags"));
    assert_eq!(
        value(&browser, "#pull-command").await,
        format!("docker pull {host}/alice/app")
    );
    assert!(!browser.exists("#push-help").await);

    // Times: relative words, the exact UTC time in the title, ISO in datetime.
    let time = "#recent-tags tbody tr:first-child time";
    let text = browser.text(time).await;
    assert!(
        text == "just now" || text.ends_with(" ago"),
        "relative: {text:?}"
    );
    let title = browser.attr(time, "title").await.unwrap_or_default();
    assert!(
        title.ends_with(" UTC") && title.starts_with("20"),
        "{title:?}"
    );
    let datetime = browser.attr(time, "datetime").await.unwrap_or_default();
    assert!(
        datetime.ends_with('Z') && datetime.starts_with(&title[..10]),
        "{datetime:?}"
    );
    assert!(browser.exists(".repo-stats time[datetime][title]").await);
    screenshots(&browser, "repo-overview-recent-tags").await;

    // A tag's page: pull by tag and by digest, full width.
    browser.goto(&app.url("/r/alice/app/tags/1.6")).await;
    assert_eq!(
        value(&browser, "#pull-command").await,
        format!("docker pull {host}/alice/app:1.6")
    );
    assert_eq!(
        value(&browser, "#pull-digest").await,
        format!("docker pull {host}/alice/app@{}", digests[6])
    );
    assert!(
        browser
            .exists("button[data-copy^='docker pull'][data-copy*='@sha256:']")
            .await
    );
    let widths = browser
        .execute(
            "return [document.querySelector('#pull-command').getBoundingClientRect().width,
                     document.querySelector('main').getBoundingClientRect().width];",
        )
        .await;
    let input = widths[0].as_f64().unwrap_or_default();
    let main = widths[1].as_f64().unwrap_or(1.0);
    assert!(
        input > main * 0.6,
        "the pull command is wide: {input} of {main}"
    );
    screenshots(&browser, "repo-tag-pull").await;
    browser.close().await;
}
