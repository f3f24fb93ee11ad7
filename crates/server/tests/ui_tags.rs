#![cfg(feature = "e2e")]
//! The tags tab as people work with it, in a real headless Chromium: alice's repository holds
//! 31 tags (29 builds, `latest`, pushed first, and a three-platform `multi`). She filters for
//! `latest` and finds it on the first page, sorts by name, pages through a filter that stays
//! put, reads each tag's platforms and when it was last pulled, and deletes a tag through its
//! confirmation page (after cancelling once). carol, who may only read, sees no Delete button
//! and cannot open the confirmation page. Each platform of `multi` has a page of its own with
//! its layers beside the history that made them and its own size. At a 390 px phone width the
//! tags table, the tag page and an organization's members table stay inside the screen. And
//! the last-pulled times behind the tab: written in batches, never by the pull, and never
//! backwards whichever replica writes.

use crate::common;

use common::browser::{Browser, PHONE};
use common::ui::*;
use common::*;
use reqwest::StatusCode;

/// The platforms of `multi`, with their layers' sizes (bytes).
const PLATFORMS: [(&str, &str, &[usize]); 3] = [
    ("amd64", "", &[1200, 3400]),
    ("arm64", "v8", &[900]),
    ("s390x", "", &[2500, 100, 40]),
];

/// Pushes an image for `arch` with layers of `sizes` bytes and a build history: an `ADD` for
/// the first layer, an `ENV` that made none, and a `RUN` for each further layer. Returns the
/// manifest's digest and bytes, and its own size (config plus layers).
async fn push_platform(
    app: &TestApp,
    repo: &str,
    arch: &str,
    variant: &str,
    sizes: &[usize],
) -> (String, Vec<u8>, usize) {
    let mut layers = Vec::new();
    for (i, size) in sizes.iter().enumerate() {
        let bytes: Vec<u8> = format!("{arch}-{i}-").bytes().cycle().take(*size).collect();
        layers.push((app.push_blob(repo, &bytes).await, *size));
    }
    let mut history = vec![
        r#"{"created_by":"ADD rootfs.tar /"}"#.to_owned(),
        r#"{"created_by":"ENV PATH=/usr/bin","empty_layer":true}"#.to_owned(),
    ];
    for i in 1..sizes.len() {
        history.push(format!(r#"{{"created_by":"RUN make step-{i}"}}"#));
    }
    let variant = if variant.is_empty() {
        String::new()
    } else {
        format!(r#","variant":"{variant}""#)
    };
    let config = format!(
        r#"{{"architecture":"{arch}","os":"linux"{variant},"config":{{"Env":["PATH=/usr/bin"],"Entrypoint":["/bin/app"],"User":"app","WorkingDir":"/srv","ExposedPorts":{{"8080/tcp":{{}}}},"Labels":{{"org.example.arch":"{arch}"}}}},"history":[{}],"rootfs":{{"type":"layers","diff_ids":[]}}}}"#,
        history.join(",")
    );
    let config_digest = app.push_blob(repo, config.as_bytes()).await;
    let refs: Vec<(&str, usize)> = layers.iter().map(|(d, s)| (d.as_str(), *s)).collect();
    let manifest = image_manifest((&config_digest, config.len()), &refs, "");
    let digest = sha256(&manifest);
    let r = app
        .put_manifest(repo, &digest, OCI_MANIFEST, &manifest)
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "push the {arch} image");
    let size = config.len() + sizes.iter().sum::<usize>();
    (digest, manifest, size)
}

/// Pushes `multi`, an index of the three [`PLATFORMS`]; returns each platform's digest and
/// own size.
async fn push_multi(app: &TestApp, repo: &str) -> Vec<(String, usize)> {
    let mut entries = Vec::new();
    let mut out = Vec::new();
    for (arch, variant, sizes) in PLATFORMS {
        let (digest, manifest, size) = push_platform(app, repo, arch, variant, sizes).await;
        let variant = if variant.is_empty() {
            String::new()
        } else {
            format!(r#","variant":"{variant}""#)
        };
        entries.push(format!(
            r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{digest}","size":{},"platform":{{"os":"linux","architecture":"{arch}"{variant}}}}}"#,
            manifest.len()
        ));
        out.push((digest, size));
    }
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{}]}}"#,
        entries.join(",")
    );
    let r = app
        .put_manifest(repo, "multi", OCI_INDEX, index.as_bytes())
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "push the index");
    out
}

/// Sets when `tag` was pushed: `age` seconds ago.
async fn age(app: &TestApp, repo: &str, tag: &str, age: i64) {
    sqlx::query(
        "UPDATE tags SET updated_at = $1 WHERE name = $2
         AND repository_id = (SELECT id FROM repositories WHERE name = $3)",
    )
    .bind(berth_registry::clock::now() - age)
    .bind(tag)
    .bind(repo)
    .execute(&app.state.pool)
    .await
    .expect("age a tag");
}

/// 31 tags in `alice/app`: `latest` first (the oldest), then `build-01` … `build-29`, then the
/// index `multi` (the newest).
async fn thirty_one_tags(app: &TestApp) -> Vec<(String, usize)> {
    app.push_image("alice/app", "latest", b"latest layer").await;
    age(app, "alice/app", "latest", 10_000).await;
    for i in 1..=29 {
        let tag = format!("build-{i:02}");
        app.push_image("alice/app", &tag, tag.as_bytes()).await;
        age(app, "alice/app", &tag, 5_000 - i).await;
    }
    push_multi(app, "alice/app").await
}

/// The tag names of the rows on the page, top to bottom.
async fn rows(browser: &Browser) -> Vec<String> {
    let mut names = Vec::new();
    for a in browser.find_all(".tags-table tbody th a.tag-link").await {
        names.push(a.text().await.expect("a tag's name"));
    }
    names
}

/// The text of the cell `css` of `tag`'s row.
async fn cell(browser: &Browser, tag: &str, css: &str) -> String {
    let js = format!(
        "const row = Array.from(document.querySelectorAll('.tags-table tbody tr'))
           .find(r => r.querySelector('a.tag-link').textContent === {tag:?});
         const cell = row && row.querySelector({css:?});
         return cell ? cell.textContent : null;"
    );
    browser
        .execute(&js)
        .await
        .as_str()
        .unwrap_or_else(|| panic!("no {css} in the row of {tag}"))
        .trim()
        .to_owned()
}

async fn sign_up_carol(app: &TestApp) -> Browser {
    let carol = Browser::start().await;
    sign_up_in(&carol, app, "carol").await;
    carol
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tags_tab_filters_sorts_counts_pages_and_deletes() {
    let app = TestApp::start_with(|c| {
        c.registry.pull_flush_interval = std::time::Duration::from_millis(200);
    })
    .await;
    let alice = Browser::start().await;
    sign_up_in(&alice, &app, "alice").await;
    thirty_one_tags(&app).await;

    // Newest first: latest, the oldest, is not on the first page.
    alice.goto(&app.url("/r/alice/app/tags")).await;
    assert_eq!(alice.text("#tag-count").await, "31 tags");
    let first = rows(&alice).await;
    assert_eq!(first.len(), 25, "a page holds 25 tags");
    assert_eq!(first[0], "multi", "the newest first");
    assert!(!first.contains(&"latest".to_owned()), "{first:?}");
    screenshots(&alice, "tags-tab").await;

    // The filter finds it on the first page, whatever its case.
    alice.fill("#tags-q", "LATE").await;
    alice.submit("form.tag-filters").await;
    assert_eq!(alice.text("#tag-count").await, "1 of 31 tags matches");
    assert_eq!(rows(&alice).await, ["latest"]);
    assert!(
        alice.current_url().await.contains("q=LATE"),
        "the filter is in the tab's address"
    );
    assert_eq!(cell(&alice, "latest", ".last-pulled").await, "never");
    screenshots(&alice, "tags-tab-filtered").await;

    // A filter that matches nothing says so; one with characters no tag has is no error.
    alice.goto(&app.url("/r/alice/app/tags?q=%25_%00")).await;
    assert_eq!(alice.text("#tag-count").await, "0 of 31 tags match");
    assert!(alice.text(".empty").await.contains("No tag"));

    // By name, A to Z.
    alice.goto(&app.url("/r/alice/app/tags?sort=name")).await;
    let by_name = rows(&alice).await;
    assert_eq!(by_name[0], "build-01");
    assert_eq!(by_name[24], "build-25");
    alice
        .goto(&app.url("/r/alice/app/tags?sort=name&page=2"))
        .await;
    assert_eq!(
        rows(&alice).await,
        ["build-26", "build-27", "build-28", "build-29", "latest", "multi"]
    );

    // Paging keeps the filter and the order.
    alice
        .goto(&app.url("/r/alice/app/tags?q=build&sort=name"))
        .await;
    assert_eq!(alice.text("#tag-count").await, "29 of 31 tags match");
    let next = alice
        .attr("a[rel=next]", "href")
        .await
        .expect("a next page");
    assert!(
        next.contains("q=build") && next.contains("sort=name"),
        "{next}"
    );
    alice.click_and_wait("a[rel=next]").await;
    assert_eq!(
        rows(&alice).await,
        ["build-26", "build-27", "build-28", "build-29"]
    );
    assert_eq!(
        alice.attr("#tags-q", "value").await.as_deref(),
        Some("build"),
        "the filter stays in its box"
    );
    assert!(!alice.exists("a[rel=next]").await, "no third page");

    // Chips: one per platform of the index, one for a single image; the index's size is
    // per platform, never the sum.
    alice.goto(&app.url("/r/alice/app/tags?q=multi")).await;
    let chips: Vec<String> = {
        let mut v = Vec::new();
        for c in alice.find_all(".tags-table .platform-chip").await {
            v.push(c.text().await.expect("chip"));
        }
        v
    };
    assert_eq!(chips, ["linux/amd64", "linux/arm64/v8", "linux/s390x"]);
    let size = cell(&alice, "multi", ".size").await;
    assert!(
        size.contains(" – ") && size.ends_with("per platform"),
        "the index shows its platforms' sizes: {size}"
    );
    alice.goto(&app.url("/r/alice/app/tags?q=build-07")).await;
    assert_eq!(
        cell(&alice, "build-07", ".platform-chip").await,
        "linux/amd64"
    );

    // A pull by tag and one by digest show as the last-pulled time, once flushed; the manifest
    // GET itself writes nothing.
    let r = app
        .anonymous
        .get(app.url("/v2/alice/app/manifests/latest"))
        .header("Accept", OCI_MANIFEST)
        .send()
        .await
        .expect("pull latest");
    assert_eq!(r.status(), StatusCode::OK);
    let digest = app
        .head("/v2/alice/app/manifests/build-03")
        .await
        .headers()
        .get("Docker-Content-Digest")
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .expect("build-03's digest");
    let r = app
        .anonymous
        .get(app.url(&format!("/v2/alice/app/manifests/{digest}")))
        .header("Accept", OCI_MANIFEST)
        .send()
        .await
        .expect("pull build-03 by digest");
    assert_eq!(r.status(), StatusCode::OK);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        alice.goto(&app.url("/r/alice/app/tags?q=latest")).await;
        let latest = cell(&alice, "latest", ".last-pulled").await;
        alice.goto(&app.url("/r/alice/app/tags?q=build-0")).await;
        let build = cell(&alice, "build-03", ".last-pulled").await;
        if latest != "never" && build != "never" {
            assert_eq!(
                cell(&alice, "build-04", ".last-pulled").await,
                "never",
                "only what was pulled"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the pulls never showed: latest {latest:?}, build-03 {build:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    alice.goto(&app.url("/r/alice/app/tags/latest")).await;
    let pulled = alice
        .attr("#tag-pulled time", "title")
        .await
        .unwrap_or_default();
    assert!(pulled.ends_with("UTC"), "the exact pull time: {pulled:?}");

    // Delete, through the confirmation page: Cancel keeps the tag, the button deletes it.
    alice.goto(&app.url("/r/alice/app/tags?q=build-29")).await;
    alice
        .click_and_wait("a[aria-label='Delete build-29']")
        .await;
    assert_eq!(
        alice.current_path().await,
        "/r/alice/app/tags/build-29/delete"
    );
    let ask = alice.text("#confirm-h").await;
    assert_eq!(ask, "Delete tag build-29 of alice/app?");
    assert!(alice
        .text(".confirm-delete")
        .await
        .contains("garbage collection"));
    screenshots(&alice, "tag-delete-confirm").await;
    alice.click_and_wait("#cancel-delete").await;
    assert_eq!(alice.current_path().await, "/r/alice/app/tags");
    assert_eq!(
        app.get("/v2/alice/app/manifests/build-29").await.status(),
        200
    );
    alice
        .goto(&app.url("/r/alice/app/tags/build-29/delete"))
        .await;
    alice.click_and_wait("#confirm-delete").await;
    assert_eq!(alice.text(".notice").await, "Tag deleted.");
    assert_eq!(alice.text("#tag-count").await, "30 tags");
    let r = app.get("/v2/alice/app/manifests/build-29").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "the tag is gone");
    alice.assert_no_alert().await;

    // An immutable tag explains itself instead of offering a button.
    let r = call(
        &app,
        reqwest::Method::PUT,
        "/api/v1/repositories/alice/app/immutable-tags",
        Some(&basic(ADMIN, &app.admin_token)),
        Some(serde_json::json!({"patterns": ["latest"]})),
    )
    .await;
    assert!(
        r.status().is_success(),
        "make latest immutable: {}",
        r.status()
    );
    alice.goto(&app.url("/r/alice/app/tags?q=latest")).await;
    assert!(!alice.exists("a[aria-label='Delete latest']").await);
    assert!(cell(&alice, "latest", "td:last-child")
        .await
        .contains("immutable"));
    alice
        .goto(&app.url("/r/alice/app/tags/latest/delete"))
        .await;
    assert!(alice
        .text("#tag-immutable")
        .await
        .contains("cannot be deleted"));
    assert!(!alice.exists("#confirm-delete").await);
    alice.close().await;

    // carol may read alice/app: no Delete button, and no confirmation page for her.
    let carol = sign_up_carol(&app).await;
    carol.goto(&app.url("/r/alice/app/tags")).await;
    assert_eq!(rows(&carol).await.len(), 25, "carol reads the tags");
    assert!(!carol.exists("a[aria-label^='Delete']").await);
    assert!(!html(&carol).await.contains("/delete\""));
    carol
        .goto(&app.url("/r/alice/app/tags/build-01/delete"))
        .await;
    assert_error_page(&carol, 404, "carol opening a delete page").await;
    // Of a private repository, not even that it exists.
    app.push_image("alice/secret", "v1", b"secret").await;
    let r = call(
        &app,
        reqwest::Method::PATCH,
        "/api/v1/repositories/alice/secret",
        Some(&basic(ADMIN, &app.admin_token)),
        Some(serde_json::json!({"visibility": "private"})),
    )
    .await;
    assert!(r.status().is_success(), "make alice/secret private");
    for page in ["/r/alice/secret/tags/v1/delete", "/r/alice/secret/tags?q=v"] {
        carol.goto(&app.url(page)).await;
        assert_error_page(&carol, 404, page).await;
    }
    let r = app
        .anonymous
        .get(app.url("/r/alice/secret/tags/v1/delete"))
        .send()
        .await
        .expect("anonymous");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    carol.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_platform_of_a_multi_platform_tag_has_its_own_page() {
    let app = TestApp::start().await;
    let alice = Browser::start().await;
    sign_up_in(&alice, &app, "alice").await;
    let platforms = push_multi(&app, "alice/multi").await;
    let human = |bytes: usize| {
        if bytes < 1000 {
            format!("{bytes} B")
        } else {
            format!("{:.1} kB", bytes as f64 / 1000.0)
        }
    };

    alice.goto(&app.url("/r/alice/multi/tags/multi")).await;
    let sizes: Vec<usize> = platforms.iter().map(|(_, s)| *s).collect();
    let (min, max) = (
        sizes.iter().min().copied().unwrap_or(0),
        sizes.iter().max().copied().unwrap_or(0),
    );
    assert_eq!(
        alice.text("#tag-size").await,
        format!("{} – {}", human(min), human(max)),
        "the tag's size is per platform"
    );
    let sum: usize = sizes.iter().sum();
    assert!(
        !html(&alice).await.contains(&human(sum)),
        "the sum of the platforms is shown nowhere"
    );
    let links = alice.find_all("a.platform-link").await;
    assert_eq!(links.len(), 3, "each platform links to its page");
    screenshots(&alice, "tag-multi-platform").await;

    // linux/s390x: three layers, an ENV that made none.
    let (digest, size) = &platforms[2];
    alice
        .click_and_wait(".platforms-table tbody tr:nth-child(3) a.platform-link")
        .await;
    assert_eq!(
        alice.current_path().await,
        format!("/r/alice/multi/tags/multi/platforms/{digest}")
    );
    assert_eq!(alice.text("#platform-name").await, "linux/s390x");
    assert_eq!(alice.text("#platform-size").await, human(*size));
    let steps = alice
        .execute(
            "return Array.from(document.querySelectorAll('.layers-table tbody tr')).map(r =>
               Array.from(r.children).map(c => c.textContent.trim()));",
        )
        .await;
    let steps: Vec<Vec<String>> = serde_json::from_value(steps).expect("rows of cells");
    assert_eq!(steps.len(), 4, "{steps:?}");
    assert_eq!(steps[0][0..3], ["1", "ADD rootfs.tar /", "2.5 kB"]);
    assert_eq!(steps[1][1..3], ["ENV PATH=/usr/bin", "no layer"]);
    assert_eq!(steps[2][0..3], ["2", "RUN make step-1", "100 B"]);
    assert_eq!(steps[3][0..3], ["3", "RUN make step-2", "40 B"]);
    let config = alice.text("#config-h + dl").await;
    for fact in ["linux/s390x", "/bin/app", "/srv", "app", "8080/tcp"] {
        assert!(
            config.contains(fact),
            "{fact} in the configuration: {config}"
        );
    }
    let page = html(&alice).await;
    assert!(page.contains("PATH=/usr/bin") && page.contains("org.example.arch=s390x"));
    assert!(
        alice
            .attr("#platform-pull", "value")
            .await
            .unwrap_or_default()
            .ends_with(digest.as_str()),
        "the pull command names the platform's digest"
    );
    screenshots(&alice, "tag-platform").await;

    // A digest the index does not list is no page of it.
    let other = &platforms[0].0.replace('a', "b");
    alice
        .goto(&app.url(&format!("/r/alice/multi/tags/multi/platforms/{other}")))
        .await;
    assert_error_page(&alice, 404, "a platform the index does not list").await;
    alice.close().await;
}

/// The elements `css` selects whose text is laid out on more than one line (text boxes more
/// than half a line apart vertically).
async fn wraps(browser: &Browser, css: &str) -> serde_json::Value {
    browser
        .execute(&format!(
            "return Array.from(document.querySelectorAll({css:?}))
               .filter(e => {{
                 const r = document.createRange(); r.selectNodeContents(e);
                 const tops = Array.from(r.getClientRects()).map(x => x.top).sort((a, b) => a - b);
                 const line = parseFloat(getComputedStyle(e).fontSize) || 16;
                 return tops.length > 1 && tops[tops.length - 1] - tops[0] > line * 0.6;
               }})
               .map(e => e.textContent);"
        ))
        .await
}

/// Buttons `css` selects whose text does not fit inside them.
async fn cut_buttons(browser: &Browser, css: &str) -> serde_json::Value {
    browser
        .execute(&format!(
            "return Array.from(document.querySelectorAll({css:?}))
               .filter(b => b.scrollWidth > b.clientWidth + 1)
               .map(b => b.textContent);"
        ))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_tag_pages_and_members_fit_a_phone() {
    let app = TestApp::start().await;
    let alice = Browser::start().await;
    sign_up_in(&alice, &app, "alice").await;
    thirty_one_tags(&app).await;
    alice.goto(&app.url("/orgs/new")).await;
    alice.fill("#org-name", "acme").await;
    alice.submit("form[action='/orgs/new']").await;

    for (page, name) in [
        ("/r/alice/app/tags", "phone-tags"),
        ("/r/alice/app/tags/build-01", "phone-tag"),
        ("/r/alice/app/tags/multi", "phone-tag-index"),
        ("/o/acme/settings", "phone-org-members"),
    ] {
        alice.goto(&app.url(page)).await;
        // Fails if the page itself scrolls sideways at 390 px.
        screenshots(&alice, name).await;
        alice.resize(PHONE).await;
        let wrapped = wraps(
            &alice,
            ".size, .when, td.media-type code, .platform-chip, td .button",
        )
        .await;
        assert_eq!(
            wrapped,
            serde_json::json!([]),
            "{page}: split over lines at 390 px"
        );
        let cut = cut_buttons(&alice, ".table-wrap .button").await;
        assert_eq!(
            cut,
            serde_json::json!([]),
            "{page}: buttons cut off at 390 px"
        );
        if page.ends_with("/tags") || page.ends_with("/settings") {
            let table = if page.ends_with("/tags") {
                ".tags-table"
            } else {
                ".members-table"
            };
            let scrolls = alice
                .execute(&format!(
                    "const w = document.querySelector({table:?}).closest('.table-wrap');
                     return w.scrollWidth > w.clientWidth;"
                ))
                .await;
            assert_eq!(
                scrolls,
                serde_json::json!(true),
                "{page}: the table scrolls in its wrapper"
            );
        }
        alice.resize(common::browser::DESKTOP).await;
    }
    alice.close().await;
}

/// The last-pulled time of `tag` in `repo`, as stored.
async fn stored_pull(app: &TestApp, repo: &str, tag: &str) -> Option<i64> {
    sqlx::query_scalar(
        "SELECT last_pulled_at FROM tags WHERE name = $1
         AND repository_id = (SELECT id FROM repositories WHERE name = $2)",
    )
    .bind(tag)
    .bind(repo)
    .fetch_one(&app.state.pool)
    .await
    .expect("a tag's last pull")
}

async fn pull(app: &TestApp, reference: &str) {
    let r = app
        .anonymous
        .get(app.url(&format!("/v2/alice/app/manifests/{reference}")))
        .header("Accept", OCI_MANIFEST)
        .send()
        .await
        .expect("pull");
    assert_eq!(r.status(), StatusCode::OK, "pull {reference}");
}

/// A pull writes nothing itself: its time reaches the database with the next flush, and
/// whichever replica flushes, a time never moves backwards (on SQLite, one process plays both).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_pulled_times_are_flushed_in_batches_and_never_go_back() {
    // No flush on its own during the test: each is asked for.
    let slow = |c: &mut berth::config::Config| {
        c.registry.pull_flush_interval = std::time::Duration::from_secs(3600);
    };
    let a = TestApp::start_with(slow).await;
    let replica = if backend_is_postgres() {
        Some(a.replica(slow).await)
    } else {
        None
    };
    let b = replica.as_ref().unwrap_or(&a);
    let (_, digest) = a.push_image("alice/app", "v1", b"v1").await;
    a.push_image("alice/app", "v2", b"v2").await;

    pull(&a, "v1").await;
    pull(&a, "v1").await;
    assert_eq!(
        stored_pull(&a, "alice/app", "v1").await,
        None,
        "the GET wrote nothing"
    );
    let written = a.state.registry.meta().flush_pulls().await.expect("flush");
    assert_eq!(written, 1, "two pulls of one tag make one write");
    let first = stored_pull(&a, "alice/app", "v1").await.expect("written");
    assert!(first >= berth_registry::clock::now() - 60);
    assert_eq!(stored_pull(&a, "alice/app", "v2").await, None);

    // Another replica saw an older pull: the later time stays.
    let later = first + 1_000;
    sqlx::query("UPDATE tags SET last_pulled_at = $1 WHERE name = 'v1'")
        .bind(later)
        .execute(&a.state.pool)
        .await
        .expect("a later pull");
    pull(b, "v1").await;
    b.state.registry.meta().flush_pulls().await.expect("flush");
    assert_eq!(stored_pull(&a, "alice/app", "v1").await, Some(later));

    // A pull by digest counts for the tags pointing at it.
    pull(b, &digest).await;
    b.state.registry.meta().flush_pulls().await.expect("flush");
    assert_eq!(stored_pull(&a, "alice/app", "v1").await, Some(later));
    sqlx::query("UPDATE tags SET last_pulled_at = 5 WHERE name = 'v1'")
        .execute(&a.state.pool)
        .await
        .expect("an old pull");
    pull(b, &digest).await;
    b.state.registry.meta().flush_pulls().await.expect("flush");
    assert!(stored_pull(&a, "alice/app", "v1").await.expect("written") >= first);
    assert_eq!(
        stored_pull(&a, "alice/app", "v2").await,
        None,
        "v2 was never pulled"
    );
    assert_eq!(
        a.state.registry.meta().flush_pulls().await.expect("flush"),
        0,
        "nothing left to write"
    );
}
