#![cfg(feature = "e2e")]
//! What people write and manage in the browser: a README with task lists, alerts, links,
//! highlighted code and images from other sites, previewed before it is saved; an
//! organization's avatar, description and web site, member forms that suggest names, notices
//! that say who and what, and destructive buttons that ask first; a webhook's "Send test" and
//! a delivery log that says why a delivery failed.

use std::sync::Arc;
use std::time::Duration;

use berth_webhooks::guard::Allowlist;
use reqwest::{Method, StatusCode};

use crate::common;

use common::browser::Browser;
use common::receiver::Receiver;
use common::ui::*;
use common::*;

const README: &str = "# App\n\n\
- [x] pushed\n- [ ] signed\n\n\
> [!NOTE]\n> Pull by digest in production.\n\n\
> Plain quote.\n\n\
Docs at https://docs.example.com/app.\n\n\
![build](https://badges.invalid/build.svg) ![old](http://badges.invalid/old.svg)\n\n\
```rust\nfn main() {\n    let n = 42; // the answer\n    println!(\"{n}\");\n}\n```\n\n\
<script>window.__pwned = 1</script><img src=x onerror=\"window.__pwned = 2\">\n\n\
[click](javascript:window.__pwned=3)\n";

/// CSP violations the console reported since the last look.
async fn csp_violations(browser: &Browser) -> Vec<String> {
    browser
        .console()
        .await
        .into_iter()
        .filter(|m| m.contains("Content Security Policy"))
        .collect()
}

/// Alice previews her README (rendered on the server, shown above the form with what she typed,
/// nothing saved), then saves it: task lists are disabled checkboxes, the alert and the quote
/// are styled blockquotes, the bare address is a link, the Rust block is highlighted with
/// classes, the https badge loads under the CSP while the http one is dropped, and the hostile
/// parts stay inert.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_readme_is_previewed_then_rendered_with_markdown_extras() {
    let app = TestApp::start().await;
    let alice = Browser::start().await;
    sign_up_in(&alice, &app, "alice").await;
    app.push_image("alice/app", "latest", b"app layer").await;

    alice.goto(&app.url("/r/alice/app/settings")).await;
    alice
        .execute(&format!(
            "document.getElementById('full_description').value = {}; return null;",
            serde_json::to_string(README).expect("JSON")
        ))
        .await;
    alice
        .click_and_wait("#general button[name='preview']")
        .await;
    let preview = alice.text("#preview").await;
    assert!(preview.contains("Pull by digest"), "{preview}");
    assert!(
        alice.exists("#preview .markdown-alert-note").await,
        "the alert is rendered in the preview"
    );
    let typed = alice
        .execute("return document.getElementById('full_description').value;")
        .await;
    assert!(
        typed
            .as_str()
            .unwrap_or_default()
            .contains("Pull by digest"),
        "the form keeps what was typed: {typed}"
    );
    assert_inert(&alice, "#preview").await;
    screenshots(&alice, "repo-settings-readme-preview").await;
    alice.goto(&app.url("/r/alice/app")).await;
    assert!(
        !alice.text("main").await.contains("Pull by digest"),
        "a preview saves nothing"
    );

    alice.goto(&app.url("/r/alice/app/settings")).await;
    alice
        .execute(&format!(
            "document.getElementById('full_description').value = {}; return null;",
            serde_json::to_string(README).expect("JSON")
        ))
        .await;
    alice
        .click_and_wait("#general button.button-primary[type='submit']")
        .await;
    alice.goto(&app.url("/r/alice/app")).await;
    let _ = csp_violations(&alice).await;
    alice.goto(&app.url("/r/alice/app")).await;
    alice.wait_for("#readme").await;
    // Task lists: disabled checkboxes, one ticked.
    let boxes = alice
        .execute(
            "return Array.from(document.querySelectorAll('#readme input[type=checkbox]'))
               .map(b => [b.disabled, b.checked]);",
        )
        .await;
    assert_eq!(
        boxes,
        serde_json::json!([[true, true], [true, false]]),
        "task list boxes"
    );
    // Blockquotes: the alert and the plain quote, styled (a border and a background).
    let quotes = alice
        .execute(
            "return Array.from(document.querySelectorAll('#readme blockquote')).map(q => {
               const s = getComputedStyle(q);
               return [q.className, s.borderLeftStyle, s.backgroundColor];
             });",
        )
        .await;
    let quotes = quotes.as_array().cloned().unwrap_or_default();
    assert_eq!(quotes.len(), 2, "{quotes:?}");
    assert_eq!(quotes[0][0], "markdown-alert-note");
    for q in &quotes {
        assert_eq!(q[1], "solid", "a styled blockquote: {q}");
        assert_ne!(q[2], "rgba(0, 0, 0, 0)", "a styled blockquote: {q}");
    }
    let note_title = alice
        .execute(
            "return getComputedStyle(document.querySelector('#readme .markdown-alert-note'), '::before').content;",
        )
        .await;
    assert_eq!(note_title, "\"Note\"");
    // The bare address is a link.
    assert_eq!(
        alice
            .attr("#readme a[href='https://docs.example.com/app']", "rel")
            .await
            .as_deref(),
        Some("nofollow noopener noreferrer")
    );
    // The Rust block: highlighted spans with classes, no inline style.
    let code = inner_html(&alice, "#readme pre code").await;
    assert!(code.contains("<span class=\"hl-k\">fn</span>"), "{code}");
    assert!(code.contains("<span class=\"hl-n\">42</span>"), "{code}");
    assert!(code.contains("class=\"hl-c\""), "{code}");
    let readme = inner_html(&alice, "#readme").await;
    assert!(!readme.contains("style="), "no inline style: {readme}");
    let keyword_colour = alice
        .execute("return getComputedStyle(document.querySelector('#readme .hl-k')).color;")
        .await;
    let plain_colour = alice
        .execute("return getComputedStyle(document.querySelector('#readme pre code')).color;")
        .await;
    assert_ne!(keyword_colour, plain_colour, "keywords are coloured");
    // Images: the https badge is kept (lazy, no referrer) and allowed by the CSP; the http one
    // is dropped.
    assert_eq!(
        alice
            .attr(
                "#readme img[src='https://badges.invalid/build.svg']",
                "referrerpolicy"
            )
            .await
            .as_deref(),
        Some("no-referrer")
    );
    assert_eq!(
        alice
            .attr(
                "#readme img[src='https://badges.invalid/build.svg']",
                "loading"
            )
            .await
            .as_deref(),
        Some("lazy")
    );
    assert!(
        !alice.exists("#readme img[src^='http:']").await,
        "http images are dropped"
    );
    // Give the image its chance to be refused by the CSP.
    alice
        .execute(
            "document.querySelector('#readme img').scrollIntoView();
             return null;",
        )
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let violations = csp_violations(&alice).await;
    assert!(
        violations.is_empty(),
        "the README's https image is refused by the CSP: {violations:#?}"
    );
    assert_inert(&alice, "#readme").await;
    screenshots(&alice, "repo-readme-markdown").await;
    alice.close().await;
}

/// Alice founds acme: its generated avatar is served as SVG and shown; she gives it a
/// description and a web site (a `javascript:` one is refused); the member form suggests
/// active users as she types; the notices name who and what; removing a member asks first, and
/// Cancel keeps them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organization_has_an_avatar_a_profile_and_careful_member_forms() {
    let app = TestApp::start().await;
    let bobby = sign_up_basic(&app, "bobby").await;
    sign_up(&app, "bobcat").await;
    sign_up(&app, "carol").await;
    sqlx::query("UPDATE accounts SET active = 0 WHERE name = 'bobcat'")
        .execute(&app.state.pool)
        .await
        .expect("deactivate bobcat");
    let alice = Browser::start().await;
    sign_up_in(&alice, &app, "alice").await;
    alice.goto(&app.url("/orgs/new")).await;
    alice.fill("#org-name", "acme").await;
    alice.submit("form[action='/orgs/new']").await;

    // The avatar: a deterministic SVG, cached, shown on the page.
    let r = app
        .anonymous
        .get(app.url("/avatars/acme.svg"))
        .send()
        .await
        .expect("avatar");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "content-type"), "image/svg+xml");
    assert!(header(&r, "cache-control").contains("max-age"), "cached");
    let svg = r.text().await.expect("svg");
    assert!(svg.starts_with("<svg") && svg.contains("<rect"), "{svg}");
    let again = app
        .anonymous
        .get(app.url("/avatars/acme.svg"))
        .send()
        .await
        .expect("avatar")
        .text()
        .await
        .expect("svg");
    assert_eq!(svg, again, "the same name draws the same avatar");
    let other = app
        .anonymous
        .get(app.url("/avatars/bobby.svg"))
        .send()
        .await
        .expect("avatar");
    assert_ne!(
        other.text().await.expect("svg"),
        svg,
        "another name, another avatar"
    );
    alice.goto(&app.url("/o/acme")).await;
    let loaded = alice
        .execute(
            "const i = document.querySelector('.profile-card img.identicon');
             return i && i.complete && i.naturalWidth > 0 && new URL(i.src).pathname;",
        )
        .await;
    assert_eq!(loaded, "/avatars/acme.svg", "the avatar is shown");

    // Profile: a javascript: address is refused, an https one saved and shown.
    alice.goto(&app.url("/o/acme/settings")).await;
    alice
        .fill("#org-description", "Containers for the Acme fleet")
        .await;
    alice
        .execute("document.getElementById('org-url').type = 'text'; return null;")
        .await;
    alice.fill("#org-url", "javascript:alert(1)").await;
    alice
        .submit("form[action='/o/acme/settings/profile#profile']")
        .await;
    let error = alice.text("#profile .form-error").await;
    assert!(
        error.contains("http://") && error.contains("https://"),
        "{error}"
    );
    let api = app.json("/api/v1/orgs/acme").await;
    assert_eq!(api["url"], "", "nothing saved: {api}");
    alice.fill("#org-url", "https://acme.example/").await;
    alice
        .submit("form[action='/o/acme/settings/profile#profile']")
        .await;
    assert!(alice.text(".notice").await.contains("Profile saved"));
    alice.goto(&app.url("/o/acme")).await;
    assert_eq!(
        alice.text("#org-description").await,
        "Containers for the Acme fleet"
    );
    assert_eq!(
        alice.attr("#org-url", "href").await.as_deref(),
        Some("https://acme.example/")
    );
    assert_eq!(
        alice.attr("#org-url", "rel").await.as_deref(),
        Some("nofollow noopener")
    );
    screenshots(&alice, "org-page").await;
    let api = app.json("/api/v1/orgs/acme").await;
    assert_eq!(api["description"], "Containers for the Acme fleet");
    assert_eq!(api["url"], "https://acme.example/");

    // Completion: active users only, signed-in callers only.
    let r = app
        .anonymous
        .get(app.url("/api/v1/users?q=bo"))
        .send()
        .await
        .expect("complete");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    alice.goto(&app.url("/o/acme/settings")).await;
    alice.fill("#new-member", "bo").await;
    let mut offered = serde_json::Value::Null;
    for _ in 0..50 {
        offered = alice
            .execute(
                "return Array.from(document.querySelectorAll('#user-names option')).map(o => o.value);",
            )
            .await;
        if offered.as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(offered, serde_json::json!(["bobby"]), "bobcat is inactive");

    // Notices say who and what.
    alice.fill("#new-member", "bobby").await;
    alice
        .submit("form[action='/o/acme/settings/members#members']:has(#new-member)")
        .await;
    let notice = alice.text(".notice").await;
    assert!(notice.contains("bobby was invited to acme"), "{notice}");
    let invitations = call(
        &app,
        Method::GET,
        "/api/v1/user/invitations",
        Some(&bobby),
        None,
    )
    .await
    .json::<serde_json::Value>()
    .await
    .expect("invitations");
    let id = invitations[0]["id"].as_i64().expect("an invitation");
    let r = call(
        &app,
        Method::POST,
        &format!("/api/v1/user/invitations/{id}/accept"),
        Some(&bobby),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    alice.fill("#new-team", "devs").await;
    alice
        .submit("form[action='/o/acme/settings/teams#teams']")
        .await;
    assert!(alice
        .text(".notice")
        .await
        .contains("Team devs was created"));
    alice.fill("#tm-devs", "carol").await;
    alice
        .submit("form[action='/o/acme/settings/teams/members#teams']")
        .await;
    let notice = alice.text(".notice").await;
    assert!(
        notice.contains("carol was invited to team devs"),
        "{notice}"
    );
    // A reload shows the named notice no more (its flash was taken).
    let here = alice.current_url().await;
    alice.goto(here.split('#').next().unwrap_or_default()).await;
    let notice = alice
        .execute("const n = document.querySelector('.notice'); return n ? n.textContent : '';")
        .await;
    assert!(
        !notice.as_str().unwrap_or_default().contains("carol"),
        "the notice was shown once: {notice}"
    );

    // Removing a member asks first; Cancel keeps them.
    alice.goto(&app.url("/o/acme/settings#members")).await;
    let remove = "#members summary[aria-label='Remove bobby']";
    let confirm = "#members details.confirm[open] button[type=submit]";
    alice.click(remove).await;
    assert_eq!(alice.text(confirm).await, "Yes, remove bobby");
    screenshots(&alice, "org-settings-confirm").await;
    assert_eq!(alice.text(remove).await, "Cancel");
    alice.click(remove).await;
    assert!(!alice.exists(confirm).await, "Cancel closes the question");
    alice.goto(&app.url("/o/acme/settings")).await;
    let members = alice.text("#members table").await;
    assert!(members.contains("bobby"), "Cancel kept bobby: {members}");
    alice.click(remove).await;
    alice.click_and_wait(confirm).await;
    let notice = alice.text(".notice").await;
    assert!(notice.contains("bobby was removed from acme"), "{notice}");
    assert!(!alice.text("#members table").await.contains("bobby"));
    screenshots(&alice, "org-settings").await;
    alice.close().await;
}

/// "Send test" posts a signed ping to the receiver through the webhook sender; a hook to a name
/// that does not resolve says "DNS failure"; a hook to a name on loopback is refused by the
/// guard and says so; the delivery log says why a delivery failed and keeps opened bodies
/// inside their cell.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_is_tested_and_its_failures_are_explained() {
    let receiver = Receiver::start().await;
    let port = receiver.port;
    let app = TestApp::start_with(move |c| {
        c.webhooks.allowed_targets =
            Arc::new(Allowlist::parse(&format!("127.0.0.1:{port}")).expect("allowlist"));
        c.webhooks.retry_base = Duration::from_secs(600);
        c.webhooks.timeout = Duration::from_secs(5);
    })
    .await;
    let alice = Browser::start().await;
    sign_up_in(&alice, &app, "alice").await;
    app.push_image("alice/app", "v1", b"first").await;

    let add = |name: &'static str, url: String| {
        let alice = &alice;
        let app = &app;
        async move {
            alice
                .goto(&app.url("/r/alice/app/settings/webhooks/new"))
                .await;
            alice.fill("#hook_name", name).await;
            alice
                .execute("document.getElementById('url').type = 'text'; return null;")
                .await;
            alice.fill("#url", &url).await;
            alice
                .submit("form[action='/r/alice/app/settings/webhooks']")
                .await;
            assert!(
                alice.text(".notice").await.contains("Webhook saved"),
                "{name} saved"
            );
            alice.current_path().await
        }
    };

    // Send test reaches the receiver, signed, as a ping.
    let ci = add("ci", receiver.url("/ci")).await;
    alice.fill("#secret", "s3cret").await;
    alice.submit(&format!("form[action='{ci}']")).await;
    alice
        .submit(&format!("form[action='{ci}/ping#test']"))
        .await;
    let result = alice.text(".ping-result").await;
    assert!(
        result.contains("Ping delivered") && result.contains("HTTP 200"),
        "{result}"
    );
    let got = receiver.wait_for(1, 10).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["event"], "ping");
    assert!(
        got[0].signed_with("s3cret"),
        "signed with the hook's secret"
    );
    screenshots(&alice, "webhook-ping").await;

    // An unresolvable name: the DNS failure, on the page and in the log.
    let nowhere = add("nowhere", "http://berth-test.invalid/hook".into()).await;
    alice
        .submit(&format!("form[action='{nowhere}/ping#test']"))
        .await;
    let result = alice.text(".ping-result").await;
    assert!(
        result.contains("Ping failed") && result.contains("DNS failure"),
        "{result}"
    );

    // A name on loopback: the guard refuses it (only the receiver's port is allowed).
    let local = add("local", "http://localhost:1/hook".into()).await;
    alice
        .submit(&format!("form[action='{local}/ping#test']"))
        .await;
    let result = alice.text(".ping-result").await;
    assert!(
        result.contains("Ping failed") && result.contains("refused"),
        "{result}"
    );
    assert!(
        receiver.received().len() == 1,
        "nothing else reached the receiver"
    );

    // A push: the log shows each delivery's reason, and a real response time for the answer.
    app.push_image("alice/app", "v2", b"second").await;
    for (hook, reason) in [(&nowhere, "DNS failure"), (&local, "refused")] {
        let mut shown = String::new();
        for _ in 0..100 {
            alice.goto(&app.url(hook)).await;
            if alice.exists("#deliveries .delivery-reason").await {
                shown = alice.text("#deliveries tbody tr").await;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(shown.contains(reason), "{hook}: {shown}");
        assert!(
            shown.contains("no answer"),
            "no response time without an answer: {shown}"
        );
    }
    let mut shown = String::new();
    for _ in 0..100 {
        alice.goto(&app.url(&ci)).await;
        if alice.exists("#deliveries .status-delivered").await {
            shown = alice.text("#deliveries tbody tr").await;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(shown.contains("200 in") && shown.contains(" ms"), "{shown}");

    // Opening a delivery keeps the status column on screen.
    alice.click("#deliveries tbody tr summary").await;
    let fits = alice
        .execute(
            "const wrap = document.querySelector('#deliveries .table-wrap').getBoundingClientRect();
             const status = document.querySelector('#deliveries .status-delivered').getBoundingClientRect();
             return status.right <= wrap.right + 1 && status.left >= wrap.left - 1;",
        )
        .await;
    assert_eq!(
        fits, true,
        "the status column stays in view with a delivery open"
    );
    screenshots(&alice, "webhook-deliveries").await;
    alice.close().await;
    receiver.stop().await;
}
