#![cfg(feature = "e2e")]
//! The web UI's story in a real headless Chromium, with the real `docker` CLI alongside:
//! alice signs up, founds `acme` and its team `devs`; bobby, a member of the team, pushes images;
//! alice describes one and hides the other; bobby finds, reads, stars and comments; forms without
//! their CSRF token are refused; logged out, and as the outsider carol, nobody sees the private
//! repository anywhere; and bobby logs Docker in with an access token made on the settings page.
//!
//! Screenshots of every kind of page (desktop and phone width) land in `target/screenshots/`.

use crate::common;

use common::browser::Browser;
use common::docker::{build_context, random_text, Docker};
use common::ui::*;
use common::*;
use reqwest::StatusCode;

/// A README with a heading to find, and every way a README could try to run script.
const README: &str = "# Acme app\n\n\
The app the devs team ships.\n\n\
<script>window.__pwned=1</script>\n\n\
[click me](javascript:window.__pwned=1)\n\n\
<img src=x onerror=\"window.__pwned=1\">\n\n\
<a href=\"javascript:window.__pwned=1\">or me</a>\n";

const COMMENT: &str = "Works for me on **arm64** too.\n\n\
<script>window.__pwned=2</script>\n\n\
[try this](javascript:window.__pwned=2)\n";

async fn star_count(browser: &Browser) -> String {
    browser.text("#star-count").await.trim().to_owned()
}

async fn comment_count(browser: &Browser) -> usize {
    browser.find_all(".comment-list .comment").await.len()
}

/// Nowhere an outsider can look names the private `acme/secret`, while the public `acme/app`
/// shows where it should (so the pages are not simply empty).
async fn assert_secret_hidden(browser: &Browser, app: &TestApp, who: &str) {
    let nowhere = |page: &str, html: &str| {
        assert!(
            !html.contains("acme/secret") && !html.contains("/r/acme/secret"),
            "{who} sees the private acme/secret on {page}"
        );
    };
    browser.goto(&app.url("/")).await;
    let home = html(browser).await;
    nowhere("the home page", &home);
    assert!(
        home.contains("/r/acme/app"),
        "{who} does not see the public acme/app on the home page"
    );

    for (query, expected) in [
        ("/search?q=secret", "0 repositories"),
        ("/search?q=acme", "1 repository"),
        ("/search?namespace=acme", "1 repository"),
        ("/search?q=&namespace=acme&sort=stars", "1 repository"),
    ] {
        browser.goto(&app.url(query)).await;
        let count = browser.text("#result-count").await;
        assert_eq!(count.trim(), expected, "{who}: the count on {query}");
        nowhere(query, &html(browser).await);
        browser.assert_no_alert().await;
    }

    for page in ["/o/acme", "/u/bobby", "/u/alice"] {
        browser.goto(&app.url(page)).await;
        nowhere(page, &html(browser).await);
    }

    for page in [
        "/r/acme/secret",
        "/r/acme/secret/tags",
        "/r/acme/secret/tags/1.0",
        "/r/acme/secret/settings",
    ] {
        browser.goto(&app.url(page)).await;
        assert_error_page(browser, 404, &format!("{who} opening {page}")).await;
        let title = browser.title().await;
        assert!(
            !title.contains("secret"),
            "{who}: the title of {page} names it: {title:?}"
        );
        nowhere(page, &html(browser).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_ui_story_from_sign_up_to_docker_login_with_a_token() {
    let app = TestApp::start().await;
    let host = app.host();
    let mut docker = Docker::new();

    // Alice signs up, founds acme and its team devs.
    let alice = Browser::start().await;
    sign_up_in(&alice, &app, "alice").await;
    alice.goto(&app.url("/orgs/new")).await;
    alice.fill("#org-name", "acme").await;
    alice.submit("form[action='/orgs/new']").await;
    assert_eq!(alice.current_path().await, "/o/acme");
    alice.click_and_wait("a[href='/o/acme/settings']").await;
    alice.fill("#new-team", "devs").await;
    alice
        .submit("form[action='/o/acme/settings/teams#teams']")
        .await;
    assert_eq!(alice.text("#team-devs").await, "devs");

    // Bob signs up in a browser of his own; alice invites him to acme, he accepts on his
    // settings page, and she adds him to devs and gives devs write on two repositories that do
    // not exist yet.
    let bob = Browser::start().await;
    sign_up_in(&bob, &app, "bobby").await;
    alice.fill("#new-member", "bobby").await;
    choose(&alice, "#new-member-role", "member").await;
    alice
        .submit("form.row-form[action='/o/acme/settings/members#members']")
        .await;
    assert!(
        alice
            .exists("form[action='/o/acme/settings/invitations/cancel']")
            .await
            && !alice.exists("#role-bobby").await,
        "bob is invited, not yet a member"
    );
    screenshot(&alice, "org-settings-invitation").await;
    bob.goto(&app.url("/settings#invitations")).await;
    screenshot(&bob, "settings-invitation").await;
    bob.submit("form[action='/settings/invitations/accept']")
        .await;
    assert_eq!(bob.current_path().await, "/o/acme", "bob joined acme");
    alice.goto(&app.url("/o/acme/settings")).await;
    assert_eq!(
        alice
            .attr("#role-bobby option:checked", "value")
            .await
            .as_deref(),
        Some("member"),
        "bob is listed as a member of acme"
    );
    alice.fill("#tm-devs", "bobby").await;
    alice
        .submit("form[action='/o/acme/settings/teams/members#teams']")
        .await;
    assert!(
        alice
            .exists("article.team .pill-list a[href='/u/bobby']")
            .await,
        "bob is listed in devs"
    );
    for repository in ["app", "secret"] {
        alice.fill("#tg-devs", repository).await;
        choose(&alice, "#tp-devs", "write").await;
        alice
            .submit("form[action='/o/acme/settings/teams/grants#teams']")
            .await;
        let grants = alice.text("article.team").await;
        assert!(
            grants.contains(&format!("acme/{repository}")) || grants.contains(repository),
            "devs' grant on {repository} is listed: {grants}"
        );
    }
    alice.assert_no_alert().await;

    // Bob pushes two images with the docker CLI, logged in with his password.
    let o = docker.login_stdin(&host, "bobby", &password("bobby")).await;
    assert!(
        o.status.success(),
        "docker login as bob: {}{}",
        o.stdout_text(),
        o.stderr_text()
    );
    let ctx = build_context(
        "FROM scratch\n\
         COPY app.txt /app.txt\n\
         COPY config.txt /etc/app/config.txt\n\
         LABEL org.opencontainers.image.title=acme-app\n\
         ENV APP_MODE=production\n\
         ENTRYPOINT [\"/app\"]\n\
         CMD [\"--serve\"]\n",
        &[("app.txt", &random_text()), ("config.txt", &random_text())],
    );
    let image = format!("{host}/acme/app:1.0");
    docker.build(ctx.path(), &image).await;
    docker.ok(&["push", &image]).await;
    let secret = format!("{host}/acme/secret:1.0");
    docker.ok(&["tag", &image, &secret]).await;
    docker.remember(&secret);
    docker.ok(&["push", &secret]).await;

    // Alice describes acme/app and makes acme/secret private, in their settings pages.
    alice.goto(&app.url("/r/acme/app/settings")).await;
    alice
        .fill("#description", "The acme app, built by the devs team")
        .await;
    alice.fill("#full_description", README).await;
    alice
        .submit("form[action='/r/acme/app/settings#general']")
        .await;
    assert_eq!(
        alice.attr("#description", "value").await.as_deref(),
        Some("The acme app, built by the devs team"),
        "the short description was saved"
    );
    alice.assert_no_alert().await;
    screenshot(&alice, "repository-settings").await;
    alice.goto(&app.url("/r/acme/secret/settings")).await;
    alice.click("input[name=visibility][value=private]").await;
    alice
        .submit("form[action='/r/acme/secret/settings#general']")
        .await;
    assert!(
        alice.exists(".repo-head .badge-private").await,
        "acme/secret shows as private after saving"
    );

    // `docker search <host>/<term>` finds the public repository; the private one only for
    // those who may pull it (bob is logged in to Docker, a second Docker is not).
    let search = |docker: &Docker, term: &str| {
        let args = ["search", "--no-trunc", "--format", "{{.Name}}"].map(str::to_owned);
        let mut args = args.to_vec();
        args.push(format!("{host}/{term}"));
        let cmd = docker.command(&args.iter().map(String::as_str).collect::<Vec<_>>());
        async move { run_command_ok(cmd).await.stdout_text() }
    };
    let names = |out: &str| -> Vec<String> { out.lines().map(|l| l.trim().to_owned()).collect() };
    let found = names(&search(&docker, "app").await);
    assert!(
        found.iter().any(|n| n == "acme/app"),
        "docker search {host}/app lists acme/app: {found:?}"
    );
    let found = names(&search(&docker, "acme").await);
    assert!(
        found.iter().any(|n| n == "acme/secret") && found.iter().any(|n| n == "acme/app"),
        "docker search {host}/acme as a member of devs lists both: {found:?}"
    );
    let stranger = Docker::new();
    let found = names(&search(&stranger, "acme").await);
    assert_eq!(
        found,
        vec!["acme/app".to_owned()],
        "docker search {host}/acme, not logged in, lists only the public repository"
    );

    // Bob finds acme/app from the home page's search box and reads it.
    bob.goto(&app.url("/")).await;
    assert!(
        bob.exists(".repo-list a[href='/r/acme/app']").await,
        "the home page lists acme/app"
    );
    screenshot(&bob, "home").await;
    bob.fill("#hero-q", "app").await;
    bob.submit("form.hero-search").await;
    assert_eq!(bob.current_path().await, "/search");
    let hit = ".repo-list a[href='/r/acme/app']";
    assert!(bob.exists(hit).await, "searching `app` finds acme/app");
    let result = bob.text(".repo-list").await;
    assert!(
        result.contains("The acme app, built by the devs team"),
        "the result shows the short description: {result}"
    );
    screenshot(&bob, "search").await;
    bob.click_and_wait(hit).await;
    assert_eq!(bob.current_path().await, "/r/acme/app");
    assert_eq!(bob.text("#readme h1").await, "Acme app");
    assert_inert(&bob, "#readme").await;
    for link in bob.find_all("#readme a").await {
        // Whatever became of the hostile links, following them runs nothing.
        let _ = link.click().await;
    }
    bob.assert_no_alert().await;
    bob.goto(&app.url("/r/acme/app")).await;

    // He stars it, and the count goes up; unstarring brings it down, starring again up.
    assert_eq!(star_count(&bob).await, "0");
    bob.submit("form.star-form").await;
    assert_eq!(star_count(&bob).await, "1");
    assert_eq!(
        bob.attr(".star-button", "aria-pressed").await.as_deref(),
        Some("true")
    );
    bob.submit("form.star-form").await;
    assert_eq!(star_count(&bob).await, "0");
    bob.submit("form.star-form").await;
    assert_eq!(star_count(&bob).await, "1");

    // He comments, with a script and a javascript: link in it: shown, rendered, inert.
    bob.fill("#comment-body", COMMENT).await;
    bob.submit("#new-comment").await;
    assert_eq!(comment_count(&bob).await, 1);
    let comment = bob.text(".comment-list .comment").await;
    assert!(
        comment.contains("bobby") && comment.contains("Works for me on arm64 too."),
        "the comment is listed with its author: {comment}"
    );
    assert_eq!(
        bob.text(".comment-list .comment-body strong").await,
        "arm64",
        "the comment's Markdown is rendered"
    );
    assert_inert(&bob, ".comment-list").await;
    // From the top (the comment form leaves the page scrolled to the new comment).
    bob.goto(&app.url("/r/acme/app")).await;
    screenshot(&bob, "repository").await;

    // The Tags tab lists 1.0; its page shows the layers and the configuration.
    bob.click_and_wait("nav.repo-tabs a[href='/r/acme/app/tags']")
        .await;
    let tags = bob.text(".tags-table").await;
    assert!(tags.contains("1.0"), "the tags table lists 1.0: {tags}");
    assert!(
        tags.contains("bobby"),
        "the tags table says who pushed: {tags}"
    );
    screenshot(&bob, "tags").await;
    bob.click_and_wait(".tags-table a[href='/r/acme/app/tags/1.0']")
        .await;
    assert_eq!(bob.text("#tag-name").await, "1.0");
    // The build history sits beside the layers: steps that made none are rows of their own.
    let layers = bob
        .find_all(".layers-table tbody tr:not(.step-empty)")
        .await
        .len();
    assert_eq!(layers, 2, "two COPY lines make two layers");
    let config = bob.text("#config-h").await;
    assert_eq!(config, "Configuration");
    let page = bob.text("main").await;
    for expected in [
        "org.opencontainers.image.title=acme-app",
        "APP_MODE=production",
        "/app",
        "--serve",
        "linux/amd64",
    ] {
        assert!(
            page.contains(expected),
            "the tag page shows {expected}:\n{page}"
        );
    }
    screenshot(&bob, "tag").await;

    // As a member, bob sees both of acme's repositories on its page.
    bob.goto(&app.url("/o/acme")).await;
    assert!(bob.exists("a[href='/r/acme/app']").await);
    assert!(
        bob.exists("a[href='/r/acme/secret']").await,
        "a member of devs sees the private acme/secret on /o/acme"
    );
    screenshot(&bob, "org").await;

    // A form without its CSRF token is refused with the 403 page, and changes nothing.
    bob.goto(&app.url("/r/acme/app")).await;
    bob.execute("document.querySelector('form.star-form input[name=csrf]').remove(); return null;")
        .await;
    bob.submit("form.star-form").await;
    assert_error_page(&bob, 403, "starring without the CSRF token").await;
    bob.goto(&app.url("/r/acme/app")).await;
    assert_eq!(
        star_count(&bob).await,
        "1",
        "the refused unstar changed nothing"
    );
    bob.execute("document.querySelector('#new-comment input[name=csrf]').remove(); return null;")
        .await;
    bob.fill("#comment-body", "sent without a token").await;
    bob.submit("#new-comment").await;
    assert_error_page(&bob, 403, "commenting without the CSRF token").await;
    bob.goto(&app.url("/r/acme/app")).await;
    assert_eq!(
        comment_count(&bob).await,
        1,
        "the refused comment was not saved"
    );

    // And from outside the browser: bob's own session cookie, but no token or a wrong one.
    let session = bob
        .client()
        .get_named_cookie("berth_session")
        .await
        .expect("bob's session cookie")
        .value()
        .to_owned();
    for form in [vec![], vec![("csrf", "0".repeat(64))]] {
        let r = app
            .anonymous
            .post(app.url("/r/acme/app/unstar"))
            .header("Cookie", format!("berth_session={session}"))
            .form(&form)
            .send()
            .await
            .expect("POST unstar");
        assert_eq!(
            r.status(),
            StatusCode::FORBIDDEN,
            "unstar with form {form:?}"
        );
    }
    let r = app
        .anonymous
        .post(app.url("/r/acme/app/comments"))
        .header("Cookie", format!("berth_session={session}"))
        .form(&[("body", "forged")])
        .send()
        .await
        .expect("POST comment");
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "comment without a token");
    bob.goto(&app.url("/r/acme/app")).await;
    assert_eq!(star_count(&bob).await, "1");
    assert_eq!(comment_count(&bob).await, 1);

    // Logged out, and then as carol, who belongs to nothing: acme/secret is nowhere.
    log_out(&bob).await;
    assert_secret_hidden(&bob, &app, "an anonymous visitor").await;
    let v1: serde_json::Value = app
        .anonymous
        .get(app.url("/v1/search?q=secret"))
        .send()
        .await
        .expect("GET /v1/search")
        .json()
        .await
        .expect("v1 search JSON");
    assert_eq!(v1["num_results"], 0, "/v1/search?q=secret: {v1}");
    sign_up_in(&bob, &app, "carol").await;
    assert_secret_hidden(&bob, &app, "carol").await;
    log_out(&bob).await;

    // Bob logs in again and makes an access token in his settings; docker logs in with it.
    log_in(&bob, &app, "bobby").await;
    bob.goto(&app.url("/settings")).await;
    bob.fill("#token-name", "laptop").await;
    bob.click("input[name=scope][value=read-write]").await;
    bob.submit("form[action='/settings/tokens#new-token']")
        .await;
    let token = bob
        .attr("#secret", "value")
        .await
        .expect("the new token is shown");
    assert!(token.len() >= 20, "token looks too short: {token:?}");
    let shown = bob.text("main").await;
    assert!(
        shown.contains(&format!("docker login -u bobby --password-stdin {host}")),
        "the token page shows how to log in:\n{shown}"
    );
    // A reload (a GET after the form's redirect) neither shows it again nor makes another.
    let shown_at = bob.current_path().await;
    assert!(
        shown_at.starts_with("/settings/tokens/created/"),
        "{shown_at}"
    );
    bob.goto(&app.url(&shown_at)).await;
    assert!(!bob.exists("#secret").await, "the secret is shown once");
    bob.goto(&app.url("/settings#tokens")).await;
    let tokens = bob.text("#tokens").await;
    assert_eq!(
        tokens.matches("laptop").count(),
        1,
        "one token:
{tokens}"
    );
    assert!(
        tokens.contains("laptop") && !tokens.contains(&token),
        "the token is listed by name, its secret not shown again:\n{tokens}"
    );
    screenshot(&bob, "settings").await;

    docker.ok(&["logout", &host]).await;
    let o = docker.login_stdin(&host, "bobby", &token).await;
    assert!(
        o.status.success() && o.stdout_text().contains("Login Succeeded"),
        "docker login with the token: {}{}",
        o.stdout_text(),
        o.stderr_text()
    );
    docker.ok(&["rmi", &image, &secret]).await;
    docker.ok(&["pull", &image]).await;
    docker.ok(&["pull", &secret]).await;

    bob.close().await;
    alice.close().await;
}

/// Alice makes release tags of her organization immutable and `v*` tags of one repository,
/// on the two settings pages; the tags tab marks the tag they protect.
#[tokio::test]
async fn immutable_tag_rules_are_set_on_the_settings_pages() {
    let app = TestApp::start().await;
    let alice = Browser::start().await;
    sign_up_in(&alice, &app, "alice").await;
    alice.goto(&app.url("/orgs/new")).await;
    alice.fill("#org-name", "acme").await;
    alice.submit("form[action='/orgs/new']").await;
    app.push_image("acme/app", "v1.0", b"one").await;
    app.push_image("acme/app", "latest", b"one").await;

    alice.goto(&app.url("/o/acme/settings#immutable")).await;
    alice.fill("#immutable-patterns", "release-*").await;
    alice
        .submit("form[action='/o/acme/settings/immutable-tags#immutable']")
        .await;
    assert!(
        alice
            .text(".notice")
            .await
            .contains("Immutable tag rules saved."),
        "the organization's rules were saved"
    );
    alice.assert_no_alert().await;

    alice.goto(&app.url("/r/acme/app/settings#immutable")).await;
    alice.fill("#immutable-patterns", "v*").await;
    alice
        .submit("form[action='/r/acme/app/settings/immutable-tags#immutable']")
        .await;
    assert_eq!(
        alice
            .execute("return document.getElementById('immutable-patterns').value;")
            .await,
        "v*",
        "the repository's rules were saved"
    );
    let card = alice.text("#immutable").await;
    assert!(
        card.contains("Immutable tag rules saved.") && card.contains("release-*"),
        "the card shows the notice and the namespace's rule: {card}"
    );
    alice.assert_no_alert().await;
    alice
        .execute("document.getElementById('immutable').scrollIntoView();")
        .await;
    screenshot(&alice, "settings-immutable-tags").await;

    alice.goto(&app.url("/r/acme/app/tags")).await;
    let tags = inner_html(&alice, ".tags-table").await;
    assert!(
        tags.contains(">immutable<"),
        "v1.0 is marked immutable: {tags}"
    );
    alice.close().await;
}

/// The retention card's preview, drawn by the server without script: alice types a policy on
/// her repository's settings page and presses Preview; the page comes back listing the tags
/// the policy would delete, with what she typed still in the form, and nothing deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retention_preview_lists_the_tags_a_policy_would_delete() {
    let app = TestApp::start().await;
    let alice = Browser::start().await;
    sign_up_in(&alice, &app, "alice").await;
    let tags = [
        "v1.0", "v1.1", "build-7", "build-8", "build-9", "v2.0", "latest",
    ];
    let now = berth_registry::clock::now();
    for (i, tag) in tags.iter().enumerate() {
        app.push_image("alice/app", tag, tag.as_bytes()).await;
        // A week apart, the first pushed six weeks ago.
        let weeks = i64::try_from(tags.len() - 1 - i).expect("small");
        sqlx::query(
            "UPDATE tags SET updated_at = $1 WHERE name = $2
             AND repository_id = (SELECT id FROM repositories WHERE name = 'alice/app')",
        )
        .bind(now - weeks * 7 * 86_400)
        .bind(tag)
        .execute(&app.state.pool)
        .await
        .expect("age a tag");
    }
    alice
        .goto(&app.url("/r/alice/app/settings#retention"))
        .await;
    alice.fill("#keep_most_recent", "2").await;
    alice.fill("#keep_patterns", "latest v*").await;
    alice.fill("#delete_older_than_days", "10").await;
    alice
        .click_and_wait("#retention button[formaction='/r/alice/app/settings/retention/preview#retention-preview']")
        .await;
    let shown = alice.text("#retention-preview").await;
    assert!(shown.contains("These 3 tags would be deleted"), "{shown}");
    for tag in ["build-7", "build-8", "build-9"] {
        assert!(shown.contains(tag), "{tag} is listed:\n{shown}");
    }
    assert!(!shown.contains("v1.0"), "kept by its pattern:\n{shown}");
    assert_eq!(
        alice.attr("#keep_patterns", "value").await.as_deref(),
        Some("latest v*"),
        "what was typed stays in the form"
    );
    alice.assert_no_alert().await;
    alice
        .execute("document.getElementById('retention').scrollIntoView(); return null;")
        .await;
    screenshot(&alice, "settings-retention-preview").await;
    let listed = app.json("/v2/alice/app/tags/list").await;
    assert_eq!(
        listed["tags"].as_array().map(Vec::len),
        Some(tags.len()),
        "a preview deletes nothing"
    );
    alice.close().await;
}

/// The Storage card of an organization's settings: a site administrator, not a member of
/// `acme`, sets its quota with the card's form and sees the usage against it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_administrator_sets_a_quota_on_the_storage_card() {
    let app = TestApp::start().await;
    let r = call(
        &app,
        reqwest::Method::POST,
        "/api/v1/orgs",
        Some(&basic(ADMIN, &app.admin_token)),
        Some(serde_json::json!({"name": "acme"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    app.push_image("acme/app", "v1", &vec![7u8; 300 << 10])
        .await;

    let admin = Browser::start().await;
    admin.goto(&app.url("/login")).await;
    admin.fill("#username", ADMIN).await;
    admin.fill("#password", ADMIN_PASSWORD).await;
    admin.submit("form[action='/login']").await;
    assert_signed_in_as(&admin, ADMIN).await;
    admin.goto(&app.url("/o/acme/settings#storage")).await;
    assert!(admin.text("#storage-used").await.ends_with("KiB"));
    admin.fill("#quota-amount", "1").await;
    choose(&admin, "#quota-unit", "MiB").await;
    admin
        .submit("form.row-form[action='/o/acme/settings/quota#storage']")
        .await;
    assert_eq!(admin.text("#storage-quota").await, "1.0 MiB");
    assert!(
        admin.exists("#storage meter").await,
        "a meter shows how full"
    );
    screenshot(&admin, "settings-storage-usage").await;
    admin.close().await;
}

/// Automated builds in the browser: alice links her repository to a git source and adds a tag
/// rule on the build settings page, then reads the Builds tab; a failed build's page shows the
/// failing step, and script in a log stays text; a running build's log grows on its page as
/// the worker writes it, through the live log and without a reload, until it fails. Builds are
/// written into the database as a worker leaves them: no Docker build runs here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builds_are_linked_read_and_followed_live() {
    use common::builds::{self, Row, FAILED_LOG};

    let app = TestApp::start_with(builds::on).await;
    let alice = Browser::start().await;
    sign_up_in(&alice, &app, "alice").await;
    app.push_image("alice/web", "latest", b"web layer").await;

    // Link a source from the repository's settings.
    alice.goto(&app.url("/r/alice/web/settings")).await;
    alice
        .click_and_wait("a[href='/r/alice/web/settings/builds']")
        .await;
    alice
        .fill("#source_url", "https://git.example.com/alice/web.git")
        .await;
    alice.click("input[name='base_rebuild']").await;
    alice
        .submit("form[action='/r/alice/web/settings/builds#source']")
        .await;
    assert!(alice.text(".notice").await.contains("Source saved."));
    let push_url = alice.attr("#push-url", "value").await.unwrap_or_default();
    assert!(
        push_url.starts_with(&format!("{}/api/v1/build-hooks/", app.base)),
        "the push-event URL: {push_url:?}"
    );

    // Add a rule in the editor's empty row: tags v1.2.3 build 1.2.3.
    choose(&alice, "select[name='rule1_kind']", "tag").await;
    alice
        .fill("input[name='rule1_source']", "/^v([0-9.]+)$/")
        .await;
    alice.fill("input[name='rule1_tag']", "{\\1}").await;
    alice
        .fill("textarea[name='rule1_args']", "CHANNEL=stable")
        .await;
    alice
        .submit("form[action='/r/alice/web/settings/builds/rules#rules']")
        .await;
    assert!(alice.text(".notice").await.contains("Build rules saved."));
    assert_eq!(
        alice
            .attr("input[name='rule1_tag']", "value")
            .await
            .as_deref(),
        Some("{\\1}")
    );
    let rules = app.json("/api/v1/repositories/alice/web/build-rules").await;
    assert_eq!(rules["rules"][1]["source"], "/^v([0-9.]+)$/", "{rules}");
    assert_eq!(rules["rules"][1]["build_args"]["CHANNEL"], "stable");
    alice.assert_no_alert().await;
    alice
        .execute("document.getElementById('rules').scrollIntoView(); return null;")
        .await;
    screenshot(&alice, "build-settings").await;

    // A build that failed, with its log, and one that is running.
    let failed = builds::insert(
        &app,
        Row {
            repository: "alice/web",
            status: "failed",
            ref_name: "main",
            commit: "3f2c9e1a7b4d5c6e7f8091a2b3c4d5e6f7a8b9c0",
            tag: "latest",
            error: "the Dockerfile's build failed: The command '/bin/sh -c false' returned a \
                    non-zero code: 1",
        },
    )
    .await;
    builds::append_log(&app, failed, "echo <script>window.__pwned=1</script>\n").await;
    for piece in FAILED_LOG {
        builds::append_log(&app, failed, piece).await;
    }
    let running = builds::insert(
        &app,
        Row {
            repository: "alice/web",
            status: "building",
            ref_name: "v1.2.3",
            commit: "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b",
            tag: "1.2.3",
            error: "",
        },
    )
    .await;
    builds::append_log(&app, running, "Step 1/3 : FROM alpine:3.20\n").await;

    // The Builds tab lists both, newest first.
    alice.goto(&app.url("/r/alice/web")).await;
    alice.click_and_wait("a[href='/r/alice/web/builds']").await;
    let rows = alice.find_all(".builds-table tbody tr").await;
    assert_eq!(rows.len(), 2);
    let first = alice.text(".builds-table tbody tr:first-child").await;
    assert!(
        first.contains(&format!("#{running}")) && first.contains("building"),
        "{first}"
    );
    assert!(alice.exists("#build-badge").await && alice.exists("#build-now").await);
    alice.assert_no_alert().await;
    screenshot(&alice, "builds-tab").await;
    alice.prefer_dark(true).await;
    screenshot(&alice, "builds-tab-dark").await;
    alice.prefer_dark(false).await;

    // The failed build: its error up top, the failing step in its log, script as text.
    alice
        .click_and_wait(&format!("a[href='/r/alice/web/builds/{failed}']"))
        .await;
    assert_eq!(alice.text("#build-status").await, "failed");
    assert!(alice
        .text("#build-error")
        .await
        .contains("returned a non-zero code: 1"));
    let log = alice.text("#build-log").await;
    for line in [
        "Step 2/3 : RUN false",
        "The command '/bin/sh -c false' returned a non-zero code: 1",
        "echo <script>window.__pwned=1</script>",
    ] {
        assert!(log.contains(line), "the log shows {line:?}:\n{log}");
    }
    assert_eq!(
        alice
            .execute("return document.getElementById('build-log').children.length;")
            .await,
        0,
        "the log is text only"
    );
    alice.assert_no_alert().await;

    // The running build: what its worker writes appears on the open page.
    alice
        .goto(&app.url(&format!("/r/alice/web/builds/{running}")))
        .await;
    assert_eq!(alice.text("#build-status").await, "building");
    let running_for = alice.text("#build-duration").await;
    alice
        .execute("window.__samePage = true; return null;")
        .await;
    let grows = |want: &'static str| {
        let alice = &alice;
        async move {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            loop {
                let log = alice.text("#build-log").await;
                if log.contains(want) {
                    return log;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "the open page never showed {want:?}; its log:\n{log}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    };
    builds::append_log(
        &app,
        running,
        "Step 2/3 : RUN make\n<img src=x onerror=\"window.__pwned=2\">compiling\n",
    )
    .await;
    let log = grows("compiling").await;
    assert!(
        log.contains("Step 1/3 : FROM alpine:3.20\nStep 2/3 : RUN make\n<img src=x"),
        "appended in order, as text:\n{log}"
    );
    assert_eq!(
        alice.execute("return window.__samePage === true;").await,
        true,
        "the page was not reloaded"
    );
    alice.assert_no_alert().await;
    alice
        .execute("document.getElementById('log').scrollIntoView(); return null;")
        .await;
    screenshot(&alice, "build-live-log").await;
    alice.prefer_dark(true).await;
    screenshot(&alice, "build-live-log-dark").await;
    alice.prefer_dark(false).await;

    // It fails: the last lines arrive, then the status, and the Cancel button goes.
    assert!(alice.exists("form[action$='/cancel']").await);
    builds::append_log(
        &app,
        running,
        "The command '/bin/sh -c make' returned a non-zero code: 2\n",
    )
    .await;
    // At least a second after the page was drawn, so its final duration differs.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    builds::set_status(&app, running, "failed", "make failed").await;
    grows("returned a non-zero code: 2").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while alice.text("#build-status").await != "failed" {
        assert!(
            std::time::Instant::now() < deadline,
            "the status never turned to failed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(alice.text("#build-error").await, "make failed");
    let took = alice.text("#build-duration").await;
    assert!(
        took.starts_with("1m ") && took != running_for,
        "the final duration {took:?}, after {running_for:?} when the page was drawn"
    );
    assert_eq!(
        alice
            .execute("return document.querySelector(\"form[action$='/cancel']\").hidden;")
            .await,
        true
    );
    assert_eq!(
        alice.execute("return window.__samePage === true;").await,
        true
    );
    alice.assert_no_alert().await;
    alice.close().await;
}
