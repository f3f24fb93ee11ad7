//! Search, explore and repository pages as a browser sees them (without one): what each
//! visitor finds, the README and comments made safe, stars, tags, and the settings forms.

use crate::common;

use common::web::*;
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn api(
    app: &TestApp,
    method: Method,
    path: &str,
    auth: &str,
    body: serde_json::Value,
) -> StatusCode {
    app.anonymous
        .request(method, app.url(path))
        .header("Authorization", auth)
        .json(&body)
        .send()
        .await
        .expect("API call")
        .status()
}

/// alice with a public `alice/web` (pushed, with a README) and a private `alice/vault`.
async fn alice_with_repositories(app: &TestApp) -> reqwest::Client {
    let alice = sign_up_web(app, "alice").await;
    let auth = basic("alice", "alice password");
    app.push_image("alice/web", "1.0", b"layer one").await;
    app.push_image("alice/web", "2.0", b"layer two").await;
    app.push_image("alice/vault", "1.0", b"secret layer").await;
    let readme = "# Web server\n\nRun it.\n\n<script>window.__pwned=1</script>\n\n[bad](javascript:alert(1))";
    let s = api(
        app,
        Method::PATCH,
        "/api/v1/repositories/alice/web",
        &auth,
        json!({"description": "A small web server", "full_description": readme}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let s = api(
        app,
        Method::PATCH,
        "/api/v1/repositories/alice/vault",
        &auth,
        json!({"visibility": "private", "description": "Secret things"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    // Pushes are timed by the counter flush, once a second.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    alice
}

#[tokio::test]
async fn search_and_explore_show_only_what_the_visitor_may_see() {
    let app = TestApp::start().await;
    let alice = alice_with_repositories(&app).await;
    let outsider = browser();

    let (status, html) = page(&outsider, &app, "/search?q=web").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("href=\"/r/alice/web\""), "{html}");
    assert!(html.contains("A small web server"));
    for path in [
        "/",
        "/search?q=",
        "/search?q=vault",
        "/search?q=secret",
        "/search?namespace=alice",
        "/u/alice",
    ] {
        let (status, html) = page(&outsider, &app, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(
            !html.contains("alice/vault") && !html.contains("Secret things"),
            "{path} shows a private repository"
        );
    }
    let (_, html) = page(&outsider, &app, "/search?namespace=alice").await;
    assert!(
        html.contains("1 repository"),
        "the count leaves the private one out"
    );

    // Its owner finds it everywhere.
    let (_, html) = page(&alice, &app, "/search?q=vault").await;
    assert!(html.contains("href=\"/r/alice/vault\""));
    let (_, html) = page(&alice, &app, "/search?namespace=alice").await;
    assert!(html.contains("2 repositories"));

    // The home page lists what was pushed.
    let (_, html) = page(&outsider, &app, "/").await;
    assert!(html.contains("Recently pushed") && html.contains("href=\"/r/alice/web\""));

    // Sorting is by known orders only.
    let (status, html) = page(&outsider, &app, "/search?q=web&sort=password").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(is_site_page(&html));
}

#[tokio::test]
async fn a_repository_page_shows_its_readme_safely_and_its_tags() {
    let app = TestApp::start().await;
    let _alice = alice_with_repositories(&app).await;
    let visitor = browser();

    let (status, html) = page(&visitor, &app, "/r/alice/web").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<h1>Web server</h1>"), "README rendered");
    assert!(
        !html.contains("window.__pwned") && !html.contains("javascript:alert"),
        "README made inert"
    );
    assert!(html.contains(&format!("docker pull {}/alice/web", app.host())));
    assert!(html.contains("id=\"star-count\">0<"));

    let (status, html) = page(&visitor, &app, "/r/alice/web/tags").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("href=\"/r/alice/web/tags/1.0\"")
            && html.contains("href=\"/r/alice/web/tags/2.0\"")
    );
    assert!(html.contains("linux/amd64"));
    assert!(
        html.contains(&format!("by <a href=\"/u/{ADMIN}\">{ADMIN}</a>")),
        "who pushed"
    );

    let (status, html) = page(&visitor, &app, "/r/alice/web/tags/1.0").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("class=\"layers-table\""));
    assert!(html.contains("9 B"), "the layer's size: {html}");
    assert!(html.contains("schemaVersion"), "the manifest");
    let (status, _) = page(&visitor, &app, "/r/alice/web/tags/9.9").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A private repository is a 404 that does not even name it.
    for path in [
        "/r/alice/vault",
        "/r/alice/vault/tags",
        "/r/alice/vault/tags/1.0",
        "/r/alice/vault/settings",
    ] {
        let (status, html) = page(&visitor, &app, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(is_site_page(&html) && !html.contains("vault"), "{path}");
    }
}

#[tokio::test]
async fn stars_and_comments_through_forms() {
    let app = TestApp::start().await;
    let alice = alice_with_repositories(&app).await;
    let bob = sign_up_web(&app, "bobby").await;

    // Star, then unstar.
    let r = submit(&bob, &app, "/r/alice/web", "/r/alice/web/star", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&bob, &app, "/r/alice/web").await;
    assert!(html.contains("id=\"star-count\">1<") && html.contains("aria-pressed=\"true\""));
    let (_, profile) = page(&browser(), &app, "/u/bobby").await;
    assert!(
        profile.contains("id=\"starred-h\"") && profile.contains("href=\"/r/alice/web\""),
        "starred on the profile"
    );
    // Without the token nothing happens.
    let r = post(&bob, &app, "/r/alice/web/unstar", &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let (_, html) = page(&bob, &app, "/r/alice/web").await;
    assert!(html.contains("id=\"star-count\">1<"));
    let r = submit(&bob, &app, "/r/alice/web", "/r/alice/web/unstar", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&bob, &app, "/r/alice/web").await;
    assert!(html.contains("id=\"star-count\">0<"));

    // Comment: Markdown, made safe.
    let r = submit(
        &bob,
        &app,
        "/r/alice/web",
        "/r/alice/web/comments",
        &[(
            "body",
            "**Nice** <script>window.__pwned=1</script> [x](javascript:alert(1))",
        )],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&bob, &app, "/r/alice/web").await;
    assert!(html.contains("<strong>Nice</strong>"));
    // Inert: no live script and no javascript: link (the author's edit box shows the source
    // as escaped text).
    assert!(!html.contains("<script>window") && !html.contains("href=\"javascript:"));
    let r = submit(
        &bob,
        &app,
        "/r/alice/web",
        "/r/alice/web/comments",
        &[("body", "  ")],
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "an empty comment is refused"
    );

    // bob edits his own; alice, the repository's admin, deletes it.
    let list = app.json("/api/v1/repositories/alice/web/comments").await;
    let id = list["results"][0]["id"].as_i64().expect("id");
    let r = submit(
        &bob,
        &app,
        "/r/alice/web",
        &format!("/r/alice/web/comments/{id}/edit"),
        &[("body", "Edited")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&alice, &app, "/r/alice/web").await;
    assert!(html.contains("Edited") && html.contains(&format!("/comments/{id}/delete")));
    let r = submit(
        &alice,
        &app,
        "/r/alice/web",
        &format!("/r/alice/web/comments/{id}/delete"),
        &[],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let list = app.json("/api/v1/repositories/alice/web/comments").await;
    assert_eq!(list["count"], 0);

    // Anonymous visitors are asked to log in.
    let anonymous = browser();
    let r = submit(&anonymous, &app, "/login", "/r/alice/web/star", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with("/login?next="));
}

#[tokio::test]
async fn settings_are_for_administrators_and_delete_needs_the_name() {
    let app = TestApp::start().await;
    let alice = alice_with_repositories(&app).await;
    let bob = sign_up_web(&app, "bobby").await;

    let (status, html) = page(&bob, &app, "/r/alice/web/settings").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(is_site_page(&html));
    let r = submit(
        &bob,
        &app,
        "/r/alice/web",
        "/r/alice/web/settings",
        &[("description", "hacked")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let r = submit(
        &alice,
        &app,
        "/r/alice/web/settings",
        "/r/alice/web/settings",
        &[
            ("description", "Renamed"),
            ("full_description", "## New readme"),
            ("visibility", "public"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/r/alice/web/settings?saved=1");
    let (_, html) = page(&alice, &app, &location(&r)).await;
    assert!(html.contains("Settings saved."));
    let (_, html) = page(&bob, &app, "/r/alice/web").await;
    assert!(html.contains("Renamed") && html.contains("<h2>New readme</h2>"));
    let r = submit(
        &alice,
        &app,
        "/r/alice/web/settings",
        "/r/alice/web/settings",
        &[("description", &"x".repeat(101))],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Delete: the name must be typed.
    let r = submit(
        &alice,
        &app,
        "/r/alice/web/settings",
        "/r/alice/web/settings/delete",
        &[("confirm_name", "alice/wrong")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.get("/v2/alice/web/tags/list").await.status(),
        StatusCode::OK
    );
    let r = submit(
        &alice,
        &app,
        "/r/alice/web/settings",
        "/r/alice/web/settings/delete",
        &[("confirm_name", "alice/web")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (status, _) = page(&alice, &app, "/r/alice/web").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get("/v2/alice/web/tags/list").await.status(),
        StatusCode::NOT_FOUND
    );
}

/// A refused form lands where it is: the page it came from posts it to `to#id`, so the browser
/// scrolls the answer to the element `id`, and the answer draws the refusal inside that element
/// (and nowhere above it).
fn lands_at(form_page: &str, to: &str, answer: &str, id: &str) {
    assert!(
        form_page.contains(&format!("action=\"{to}#{id}\"")),
        "the form posting to {to} carries #{id}"
    );
    let start = answer
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("the answer has #{id}"));
    let end = answer[start..]
        .find("</section>")
        .map_or(answer.len(), |e| start + e);
    let error = answer
        .find("class=\"form-error\"")
        .expect("the refusal is shown");
    assert!(
        (start..end).contains(&error),
        "the refusal of {to} is drawn inside #{id}"
    );
}

#[tokio::test]
async fn refused_forms_show_their_error_next_to_the_form_and_land_there() {
    let app = TestApp::start().await;
    let alice = alice_with_repositories(&app).await;

    // A repository delete with the wrong name, at the bottom of its settings.
    let settings = "/r/alice/web/settings";
    let (_, form_page) = page(&alice, &app, settings).await;
    let r = submit(
        &alice,
        &app,
        settings,
        "/r/alice/web/settings/delete",
        &[("confirm_name", "alice/wrong")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let answer = r.text().await.expect("body");
    lands_at(
        &form_page,
        "/r/alice/web/settings/delete",
        &answer,
        "delete",
    );
    // The general form too (a description too long).
    let r = submit(
        &alice,
        &app,
        settings,
        settings,
        &[("description", &"x".repeat(101))],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let answer = r.text().await.expect("body");
    lands_at(&form_page, settings, &answer, "general");

    // An empty comment, below the README.
    let (_, overview) = page(&alice, &app, "/r/alice/web").await;
    let r = submit(
        &alice,
        &app,
        "/r/alice/web",
        "/r/alice/web/comments",
        &[("body", " ")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let answer = r.text().await.expect("body");
    lands_at(&overview, "/r/alice/web/comments", &answer, "new-comment");

    // A robot with a bad grant, below the members and teams of its organization.
    let r = submit(&alice, &app, "/orgs/new", "/orgs/new", &[("name", "acme")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let org_settings = "/o/acme/settings";
    let (_, form_page) = page(&alice, &app, org_settings).await;
    let r = submit(
        &alice,
        &app,
        org_settings,
        "/o/acme/settings/robots",
        &[("name", "ci"), ("grants", "app sudo")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let answer = r.text().await.expect("body");
    lands_at(&form_page, "/o/acme/settings/robots", &answer, "robots");
    assert!(answer.contains("app sudo"), "what she wrote is kept");
    // A bad new token, below the token list.
    let (_, form_page) = page(&alice, &app, "/settings").await;
    let r = submit(
        &alice,
        &app,
        "/settings",
        "/settings/tokens",
        &[
            ("name", "laptop"),
            ("scope", "root"),
            ("expires_in_days", "7"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let answer = r.text().await.expect("body");
    lands_at(&form_page, "/settings/tokens", &answer, "new-token");

    // The sticky header does not cover an anchored section.
    let css_at = form_page
        .find("rel=\"stylesheet\" href=\"")
        .expect("a stylesheet")
        + "rel=\"stylesheet\" href=\"".len();
    let css_url: String = form_page[css_at..]
        .chars()
        .take_while(|c| *c != '"')
        .collect();
    let (status, css) = page(&alice, &app, &css_url).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        css.contains("[id] { scroll-margin-top:"),
        "scroll-margin-top"
    );
}

#[tokio::test]
async fn counts_read_as_words_one_pull_many_pulls() {
    let app = TestApp::start().await;
    let alice = alice_with_repositories(&app).await;
    let (_, digest) = app.push_image("alice/once", "v1", b"pulled once").await;
    let r = app.get(&format!("/v2/alice/once/manifests/{digest}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    // The background flush may be writing at the same moment: flush until it has landed.
    for _ in 0..50 {
        app.state.accounts.flush_counters().await.expect("flush");
        let v = app.json("/api/v1/repositories/alice/once").await;
        if v["pull_count"] == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (_, html) = page(&alice, &app, "/r/alice/once").await;
    assert!(
        html.contains("id=\"pull-count\">1 pull<"),
        "the repository's head"
    );
    let (_, html) = page(&alice, &app, "/r/alice/web").await;
    assert!(html.contains("id=\"pull-count\">0 pulls<"));
    for path in ["/u/alice", "/search?q=once"] {
        let (_, html) = page(&alice, &app, path).await;
        assert!(html.contains(">1 pull<"), "{path}: {html}");
        assert!(!html.contains("1 pulls"), "{path}");
    }
    let (_, html) = page(&alice, &app, "/search?q=once").await;
    assert!(html.contains("1 repository<") && html.contains("title=\"0 stars\""));
}

#[tokio::test]
async fn an_administrator_deletes_a_tag_from_its_page_after_typing_its_name() {
    let app = TestApp::start().await;
    let alice = alice_with_repositories(&app).await;
    let bobby = sign_up_web(&app, "bobby").await;
    let (_, digest) = app.push_image("alice/web", "3.0", b"layer three").await;

    // The tags tab links each tag's delete confirmation; only administrators see either.
    let (status, html) = page(&alice, &app, "/r/alice/web/tags").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("href=\"/r/alice/web/tags/3.0/delete\""),
        "{html}"
    );
    let (_, html) = page(&alice, &app, "/r/alice/web/tags/3.0").await;
    assert!(html.contains("id=\"delete\""));
    for path in ["/r/alice/web/tags", "/r/alice/web/tags/3.0"] {
        let (status, html) = page(&bobby, &app, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(
            !html.contains("#delete")
                && !html.contains("id=\"delete\"")
                && !html.contains("/delete\""),
            "{path}"
        );
    }

    // Someone else's delete is refused, whatever they type.
    let r = submit(
        &bobby,
        &app,
        "/r/alice/web/tags/3.0",
        "/r/alice/web/tags/3.0/delete",
        &[("confirm_name", "3.0")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // The wrong name deletes nothing and says why, next to the form.
    let r = submit(
        &alice,
        &app,
        "/r/alice/web/tags/3.0",
        "/r/alice/web/tags/3.0/delete",
        &[("confirm_name", "2.0")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/r/alice/web/tags/3.0?unconfirmed=1#delete");
    let (_, html) = page(&alice, &app, "/r/alice/web/tags/3.0?unconfirmed=1").await;
    assert!(
        html.contains("Type the tag&#x27;s name, 3.0, to confirm.")
            || html.contains("Type the tag's name, 3.0, to confirm."),
        "{html}"
    );
    assert_eq!(
        app.get("/v2/alice/web/manifests/3.0").await.status(),
        StatusCode::OK
    );

    let r = submit(
        &alice,
        &app,
        "/r/alice/web/tags/3.0",
        "/r/alice/web/tags/3.0/delete",
        &[("confirm_name", "3.0")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/r/alice/web/tags?deleted=1");
    let (_, html) = page(&alice, &app, "/r/alice/web/tags?deleted=1").await;
    assert!(html.contains("Tag deleted."));
    assert!(
        !html.contains("/r/alice/web/tags/3.0\""),
        "3.0 is no longer listed"
    );
    assert_eq!(
        app.get("/v2/alice/web/manifests/3.0").await.status(),
        StatusCode::NOT_FOUND
    );
    // Only the tag went: the manifest is still there by digest, the other tags untouched.
    let by_digest = format!("/v2/alice/web/manifests/{digest}");
    assert_eq!(app.get(&by_digest).await.status(), StatusCode::OK);
    assert_eq!(
        app.get("/v2/alice/web/manifests/2.0").await.status(),
        StatusCode::OK
    );
    let (status, _) = page(&alice, &app, "/r/alice/web/tags/3.0").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
