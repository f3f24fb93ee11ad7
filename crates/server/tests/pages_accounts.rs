//! The web pages for accounts and organizations, driven as a browser would: forms with their
//! CSRF tokens, cookies, redirects, and what each visitor may see.

use crate::common;

use common::web::*;
use common::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn sign_up_log_out_and_log_in_again() {
    let app = TestApp::start().await;
    let alice = sign_up_web(&app, "alice").await;
    let (_, home) = page(&alice, &app, "/").await;
    assert!(
        home.contains("Signed in as <strong>alice</strong>"),
        "{home}"
    );

    let r = submit(&alice, &app, "/", "/logout", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, home) = page(&alice, &app, "/").await;
    assert!(!home.contains("Signed in as"));
    assert!(home.contains("href=\"/login\""));
    let (status, _) = page(&alice, &app, "/settings").await;
    assert_eq!(status, StatusCode::SEE_OTHER, "settings need a session");

    // A wrong password: the form again, with the name kept and never the password.
    let r = submit(
        &alice,
        &app,
        "/login",
        "/login",
        &[("username", "alice"), ("password", "not her password")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.expect("body");
    assert!(html.contains("value=\"alice\"") && html.contains("class=\"form-error\""));
    assert!(!html.contains("not her password"));

    let r = submit(
        &alice,
        &app,
        "/login",
        "/login",
        &[
            ("username", "alice"),
            ("password", "alice password"),
            ("next", "/settings"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/settings");
    let (status, html) = page(&alice, &app, "/settings").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("alice@example.com"));

    // Sign-up cannot be talked into an administrator.
    let user = berth_accounts::users::by_name(&app.state.accounts.db, "alice")
        .await
        .expect("db")
        .expect("alice");
    assert!(!user.is_admin);
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_refused_and_change_nothing() {
    let app = TestApp::start().await;
    let alice = sign_up_web(&app, "alice").await;
    for bad in [None, Some("not-the-token")] {
        let mut form = vec![
            ("name", "sneaky"),
            ("scope", "read"),
            ("expires_in_days", "7"),
        ];
        if let Some(token) = bad {
            form.push(("csrf", token));
        }
        let r = post(&alice, &app, "/settings/tokens", &form).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{bad:?}");
        let html = r.text().await.expect("body");
        assert!(
            is_site_page(&html),
            "a 403 page in the site's style: {html}"
        );
        assert!(
            html.contains("Signed in as <strong>alice</strong>"),
            "with her header"
        );
    }
    let user = berth_accounts::users::by_name(&app.state.accounts.db, "alice")
        .await
        .expect("db")
        .expect("alice");
    let tokens = berth_accounts::tokens::list(&app.state.accounts.db, &user)
        .await
        .expect("tokens");
    assert!(tokens.is_empty(), "no token was created");

    // Anonymous forms: the hidden field must match the visitor's own CSRF cookie.
    let stranger = browser();
    let r = post(
        &stranger,
        &app,
        "/login",
        &[
            ("csrf", "0".repeat(64).as_str()),
            ("username", "alice"),
            ("password", "alice password"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = post(
        &stranger,
        &app,
        "/signup",
        &[
            ("username", "mallory"),
            ("email", "m@example.com"),
            ("password", "mallory password"),
            ("password_confirmation", "mallory password"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        berth_accounts::users::by_name(&app.state.accounts.db, "mallory")
            .await
            .expect("db")
            .is_none()
    );
}

#[tokio::test]
async fn log_in_redirects_only_within_the_site() {
    let app = TestApp::start().await;
    sign_up(&app, "alice").await;
    for (next, want) in [
        ("//evil.example", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("/o/acme", "/o/acme"),
    ] {
        let client = browser();
        let r = submit(
            &client,
            &app,
            &format!(
                "/login?next={}",
                next.replace('/', "%2F").replace('\\', "%5C")
            ),
            "/login",
            &[
                ("username", "alice"),
                ("password", "alice password"),
                ("next", next),
            ],
        )
        .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{next}");
        assert_eq!(location(&r), want, "next={next}");
    }
}

#[tokio::test]
async fn every_page_carries_the_security_headers() {
    let app = TestApp::start().await;
    let alice = sign_up_web(&app, "alice").await;
    for (client, path) in [
        (&app.anonymous, "/"),
        (&app.anonymous, "/login"),
        (&app.anonymous, "/signup"),
        (&app.anonymous, "/u/alice"),
        (&app.anonymous, "/no/such/page"),
        (&alice, "/settings"),
        (&alice, "/orgs/new"),
    ] {
        let r = client.get(app.url(path)).send().await.expect("GET");
        let csp = header(&r, "content-security-policy");
        assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("object-src 'none'"));
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        assert_eq!(header(&r, "x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header(&r, "x-frame-options"), "DENY", "{path}");
        assert_eq!(header(&r, "referrer-policy"), "same-origin", "{path}");
        let html = r.text().await.expect("body");
        assert!(is_site_page(&html), "{path}");
        // Nothing the policy would block: no inline styles, handlers or scripts.
        for inline in [
            " style=",
            " onclick=",
            " onload=",
            "<script>",
            "javascript:",
        ] {
            assert!(!html.contains(inline), "{path} has {inline}");
        }
    }
    // Assets are cacheable for long, by a URL that changes with their content.
    let (_, html) = page(&app.anonymous, &app, "/").await;
    let at = html
        .find("/static/berth.css?v=")
        .expect("versioned stylesheet");
    let url: String = html[at..].chars().take_while(|c| *c != '"').collect();
    let r = app.anonymous.get(app.url(&url)).send().await.expect("css");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(header(&r, "cache-control").contains("immutable"));
    assert!(header(&r, "content-type").starts_with("text/css"));
    // The registry's responses are its own.
    let r = app.anonymous.get(app.url("/v2/")).send().await.expect("v2");
    assert!(r.headers().get("content-security-policy").is_none());
}

#[tokio::test]
async fn an_access_token_made_in_settings_works_once_shown_and_until_revoked() {
    let app = TestApp::start().await;
    let alice = sign_up_web(&app, "alice").await;
    let r = submit(
        &alice,
        &app,
        "/settings",
        "/settings/tokens",
        &[
            ("name", "laptop"),
            ("scope", "read-write"),
            ("expires_in_days", "30"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = alice
        .get(app.url(&location(&r)))
        .send()
        .await
        .expect("GET the new token's page");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "cache-control"), "no-store");
    let html = r.text().await.expect("body");
    let at = html
        .find("data-copy=\"berth_pat_")
        .expect("the secret, with a copy button")
        + 11;
    let secret: String = html[at..].chars().take_while(|c| *c != '"').collect();

    let ping = |secret: String| {
        let app = &app;
        async move {
            app.anonymous
                .get(app.url("/v2/"))
                .header("Authorization", basic("alice", &secret))
                .send()
                .await
                .expect("GET /v2/")
                .status()
        }
    };
    assert_eq!(ping(secret.clone()).await, StatusCode::OK);

    let (_, settings) = page(&alice, &app, "/settings").await;
    assert!(settings.contains("laptop") && settings.contains("Read &amp; write"));
    assert!(!settings.contains(&secret), "the secret is shown only once");
    let user = berth_accounts::users::by_name(&app.state.accounts.db, "alice")
        .await
        .expect("db")
        .expect("alice");
    let tokens = berth_accounts::tokens::list(&app.state.accounts.db, &user)
        .await
        .expect("tokens");
    assert_eq!(tokens.len(), 1);
    let id = tokens[0].id.to_string();
    let r = submit(
        &alice,
        &app,
        "/settings",
        "/settings/tokens/revoke",
        &[("id", &id)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(ping(secret).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn organizations_are_created_and_managed_from_their_pages() {
    let app = TestApp::start().await;
    let alice = sign_up_web(&app, "alice").await;
    sign_up(&app, "bobby").await;
    let r = submit(&alice, &app, "/orgs/new", "/orgs/new", &[("name", "acme")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/o/acme");
    let (status, html) = page(&alice, &app, "/o/acme").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("href=\"/o/acme/settings\""),
        "owners get the manage link"
    );
    assert!(
        html.contains("href=\"/o/acme\""),
        "the menu lists her organization"
    );

    let settings = "/o/acme/settings";
    let steps: [(&str, Vec<(&str, &str)>); 4] = [
        ("/members", vec![("username", "bobby"), ("role", "member")]),
        ("/teams", vec![("team", "devs")]),
        (
            "/teams/members",
            vec![("team", "devs"), ("username", "bobby")],
        ),
        (
            "/teams/grants",
            vec![
                ("team", "devs"),
                ("repository", "app"),
                ("permission", "write"),
            ],
        ),
    ];
    for (to, fields) in steps {
        let r = submit(&alice, &app, settings, &format!("{settings}{to}"), &fields).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{to}");
    }
    // Bob was invited to acme and to devs; he accepts both.
    let bob = basic("bobby", "bobby password");
    let pending = call(
        &app,
        reqwest::Method::GET,
        "/api/v1/user/invitations",
        Some(&bob),
        None,
    )
    .await
    .json::<serde_json::Value>()
    .await
    .expect("invitations");
    assert_eq!(pending.as_array().map(Vec::len), Some(2), "{pending}");
    for invitation in pending.as_array().into_iter().flatten() {
        let path = format!("/api/v1/user/invitations/{}/accept", invitation["id"]);
        let r = call(&app, reqwest::Method::POST, &path, Some(&bob), None).await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
    }
    let org = berth_accounts::orgs::get(&app.state.accounts.db, "acme")
        .await
        .expect("org");
    let members = berth_accounts::orgs::members(&app.state.accounts.db, &org)
        .await
        .expect("members");
    assert!(members.iter().any(|m| m.name == "bobby"));
    let teams = berth_accounts::orgs::teams(&app.state.accounts.db, &org)
        .await
        .expect("teams");
    assert_eq!(teams.len(), 1);
    assert_eq!(teams[0].members, vec!["bobby".to_owned()]);
    assert_eq!(teams[0].repositories[0].repository, "acme/app");
    assert_eq!(teams[0].repositories[0].permission, "write");

    // A refusal is shown next to its form: the last owner cannot step down.
    let r = submit(
        &alice,
        &app,
        settings,
        &format!("{settings}/members"),
        &[("username", "alice"), ("role", "member")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.expect("body").contains("last owner"));

    // A robot: its secret shown once, and it logs in.
    let r = submit(
        &alice,
        &app,
        settings,
        &format!("{settings}/robots"),
        &[("name", "ci"), ("grants", "app read")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (status, html) = page(&alice, &app, &location(&r)).await;
    assert_eq!(status, StatusCode::OK);
    let at = html.find("data-copy=\"berth_robot_").expect("robot secret") + 11;
    let secret: String = html[at..].chars().take_while(|c| *c != '"').collect();
    let r = app
        .anonymous
        .get(app.url("/v2/"))
        .header("Authorization", basic("acme+ci", &secret))
        .send()
        .await
        .expect("v2");
    assert_eq!(r.status(), StatusCode::OK);

    // Members are not managers.
    let bobby = browser();
    let r = submit(
        &bobby,
        &app,
        "/login",
        "/login",
        &[("username", "bobby"), ("password", "bobby password")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (status, html) = page(&bobby, &app, settings).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(is_site_page(&html));
    let (_, html) = page(&bobby, &app, "/o/acme").await;
    assert!(html.contains("devs"), "members see the teams");

    // Deleting takes the typed name.
    let r = submit(
        &alice,
        &app,
        settings,
        &format!("{settings}/delete"),
        &[("confirm_name", "acm")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = submit(
        &alice,
        &app,
        settings,
        &format!("{settings}/delete"),
        &[("confirm_name", "acme")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (status, _) = page(&alice, &app, "/o/acme").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn create_repo(app: &TestApp, auth: &str, namespace: &str, name: &str, visibility: &str) {
    let r = app
        .anonymous
        .post(app.url("/api/v1/repositories"))
        .header("Authorization", auth)
        .json(&json!({"namespace": namespace, "name": name, "visibility": visibility}))
        .send()
        .await
        .expect("create repository");
    assert_eq!(r.status(), StatusCode::CREATED, "{namespace}/{name}");
}

#[tokio::test]
async fn outsiders_never_see_private_repositories_on_profiles() {
    let app = TestApp::start().await;
    let alice = sign_up_web(&app, "alice").await;
    let alice_auth = basic("alice", "alice password");
    let outsider = sign_up_web(&app, "oscar").await;
    create_repo(&app, &alice_auth, "alice", "open-app", "public").await;
    create_repo(&app, &alice_auth, "alice", "secret-app", "private").await;
    let r = submit(&alice, &app, "/orgs/new", "/orgs/new", &[("name", "acme")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    create_repo(&app, &alice_auth, "acme", "site", "public").await;
    create_repo(&app, &alice_auth, "acme", "hidden-plans", "private").await;

    for (who, client) in [("anonymous", &app.anonymous), ("oscar", &outsider)] {
        let (status, html) = page(client, &app, "/u/alice").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("alice/open-app"), "{who}");
        assert!(
            !html.contains("secret-app") && !html.contains("Private"),
            "{who}: {html}"
        );
        let (status, html) = page(client, &app, "/o/acme").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("acme/site"), "{who}");
        assert!(!html.contains("hidden-plans"), "{who}");
        assert!(!html.contains("Members"), "{who} sees no member list");
    }
    let (_, html) = page(&alice, &app, "/u/alice").await;
    assert!(html.contains("alice/secret-app") && html.contains("Private"));
    let (_, html) = page(&alice, &app, "/o/acme").await;
    assert!(html.contains("acme/hidden-plans"));
}

#[tokio::test]
async fn unknown_users_organizations_and_paths_get_the_sites_404_page() {
    let app = TestApp::start().await;
    for path in [
        "/u/nobody",
        "/o/nobody",
        "/o/nobody/settings",
        "/no/such/page",
    ] {
        let (status, html) = page(&app.anonymous, &app, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(is_site_page(&html), "{path}: {html}");
        assert!(html.contains("Page not found"), "{path}");
    }
    // The JSON API keeps answering JSON.
    let r = app
        .anonymous
        .get(app.url("/api/v1/orgs/nobody"))
        .send()
        .await
        .expect("api");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(header(&r, "content-type").starts_with("application/json"));
}

#[tokio::test]
async fn account_settings_change_email_and_password_and_delete_the_account() {
    let app = TestApp::start().await;
    let alice = sign_up_web(&app, "alice").await;
    sign_up(&app, "bobby").await;
    let r = submit(
        &alice,
        &app,
        "/settings",
        "/settings/profile",
        &[("email", "bobby@example.com")],
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "the address is taken"
    );
    let html = r.text().await.expect("body");
    assert!(html.contains("value=\"bobby@example.com\"") && html.contains("already exists"));
    let r = submit(
        &alice,
        &app,
        "/settings",
        "/settings/profile",
        &[("email", "alice@new.example")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&alice, &app, "/settings").await;
    assert!(html.contains("alice@new.example"));

    let r = submit(
        &alice,
        &app,
        "/settings",
        "/settings/password",
        &[
            ("current_password", "alice password"),
            ("new_password", "a brand new password"),
            ("new_password_confirmation", "a brand new password"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let alice_auth = basic("alice", "a brand new password");
    create_repo(&app, &alice_auth, "alice", "mine", "private").await;

    let r = submit(
        &alice,
        &app,
        "/settings",
        "/settings/delete",
        &[("confirm_name", "bobby")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = submit(
        &alice,
        &app,
        "/settings",
        "/settings/delete",
        &[("confirm_name", "alice")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (status, _) = page(&app.anonymous, &app, "/u/alice").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        berth_accounts::repos::get(&app.state.accounts.db, "alice/mine")
            .await
            .expect("db")
            .is_none()
    );
}

#[tokio::test]
async fn closed_sign_up_has_no_form_and_refuses_posts() {
    let app = TestApp::start_with(|c| c.auth.open_signup = false).await;
    let client = browser();
    let (status, html) = page(&client, &app, "/signup").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(is_site_page(&html) && html.contains("Sign-up is closed"));
    let (_, home) = page(&client, &app, "/").await;
    assert!(!home.contains("href=\"/signup\""), "no sign-up link");
    // Even with a valid anonymous token from the log-in page.
    let r = submit(
        &client,
        &app,
        "/login",
        "/signup",
        &[
            ("username", "mallory"),
            ("email", "m@example.com"),
            ("password", "mallory password"),
            ("password_confirmation", "mallory password"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        berth_accounts::users::by_name(&app.state.accounts.db, "mallory")
            .await
            .expect("db")
            .is_none()
    );
}

#[tokio::test]
async fn repeated_failed_log_ins_are_throttled_on_the_page_too() {
    let app = TestApp::start_with(|c| c.auth.throttle_failures = 2).await;
    sign_up(&app, "alice").await;
    let client = browser();
    let mut last = StatusCode::OK;
    for _ in 0..4 {
        let r = submit(
            &client,
            &app,
            "/login",
            "/login",
            &[("username", "alice"), ("password", "wrong password")],
        )
        .await;
        last = r.status();
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    let r = submit(
        &client,
        &app,
        "/login",
        "/login",
        &[("username", "alice"), ("password", "alice password")],
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    assert!(r
        .text()
        .await
        .expect("body")
        .contains("Too many failed attempts"));
}

#[tokio::test]
async fn pages_answer_head_like_get() {
    let app = TestApp::start().await;
    for path in ["/", "/login", "/u/admin1"] {
        let r = app
            .anonymous
            .head(app.url(path))
            .send()
            .await
            .expect("HEAD");
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert!(header(&r, "content-type").starts_with("text/html"));
        assert!(r.headers().get("content-security-policy").is_some());
    }
}

#[tokio::test]
async fn long_repository_lists_are_paged() {
    let app = TestApp::start().await;
    sign_up(&app, "alice").await;
    let auth = basic("alice", "alice password");
    for i in 0..31 {
        create_repo(&app, &auth, "alice", &format!("app{i:02}"), "public").await;
    }
    create_repo(&app, &auth, "alice", "zz-private", "private").await;
    let (_, first) = page(&app.anonymous, &app, "/u/alice").await;
    assert!(first.contains("alice/app00") && first.contains("alice/app29"));
    assert!(!first.contains("alice/app30"));
    assert!(first.contains("href=\"/u/alice?page=2\""));
    let (_, second) = page(&app.anonymous, &app, "/u/alice?page=2").await;
    assert!(second.contains("alice/app30") && !second.contains("alice/app29"));
    assert!(
        !second.contains("?page=3"),
        "the private one does not make a next page"
    );
    assert!(!second.contains("zz-private"));
    let (status, _) = page(&app.anonymous, &app, "/u/alice?page=nope").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn members_leave_an_organization_but_its_last_owner_cannot() {
    let app = TestApp::start().await;
    let alice = sign_up_web(&app, "alice").await;
    let bobby = sign_up_web(&app, "bobby").await;
    let r = submit(&alice, &app, "/orgs/new", "/orgs/new", &[("name", "acme")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = submit(
        &alice,
        &app,
        "/o/acme/settings",
        "/o/acme/settings/members",
        &[("username", "bobby"), ("role", "member")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let id = invitation_on_settings_page(&bobby, &app, "acme").await;
    let r = submit(
        &bobby,
        &app,
        "/settings",
        "/settings/invitations/accept",
        &[("id", &id)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = submit(&alice, &app, "/o/acme", "/o/acme/leave", &[]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.expect("body").contains("only owner"));
    let r = submit(&bobby, &app, "/o/acme", "/o/acme/leave", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let org = berth_accounts::orgs::get(&app.state.accounts.db, "acme")
        .await
        .expect("org");
    let members = berth_accounts::orgs::members(&app.state.accounts.db, &org)
        .await
        .expect("members");
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].name, "alice");
}

/// The id of the (first) invitation to `org` listed on the user's settings page.
async fn invitation_on_settings_page(client: &reqwest::Client, app: &TestApp, org: &str) -> String {
    let (status, html) = page(client, app, "/settings").await;
    assert_eq!(status, StatusCode::OK);
    let row = html
        .find(&format!("<a href=\"/o/{org}\">{org}</a>"))
        .unwrap_or_else(|| panic!("an invitation to {org} on the settings page"));
    let marker = "name=\"id\" value=\"";
    let start = html[row..].find(marker).expect("its id") + row + marker.len();
    let len = html[start..].find('"').expect("end of the id");
    html[start..start + len].to_owned()
}

/// An owner invites on the organization's settings page, sees the invitation pending and may
/// cancel it; the invitee answers on their own settings page, and has no standing until then.
#[tokio::test]
async fn invitations_are_answered_on_the_settings_page() {
    let app = TestApp::start().await;
    let alice = sign_up_web(&app, "alice").await;
    let bobby = sign_up_web(&app, "bobby").await;
    let r = submit(&alice, &app, "/orgs/new", "/orgs/new", &[("name", "acme")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = submit(
        &alice,
        &app,
        "/o/acme/settings",
        "/o/acme/settings/teams",
        &[("team", "devs")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&bobby, &app, "/settings").await;
    assert!(html.contains("No invitations are waiting for you."));

    // Adding bob to devs invites him; the owner's page says so and lists it.
    let r = submit(
        &alice,
        &app,
        "/o/acme/settings",
        "/o/acme/settings/teams/members",
        &[("team", "devs"), ("username", "bobby")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = location(&r);
    assert!(
        to.starts_with("/o/acme/settings?done=invited&said=") && to.ends_with("#teams"),
        "{to}"
    );
    let (_, html) = page(&alice, &app, "/o/acme/settings?done=invited").await;
    assert!(html.contains("Invitation sent."), "{html}");
    assert!(html.contains("action=\"/o/acme/settings/invitations/cancel\""));
    assert!(html.contains("team devs"));
    let org = berth_accounts::orgs::get(&app.state.accounts.db, "acme")
        .await
        .expect("org");
    let teams = berth_accounts::orgs::teams(&app.state.accounts.db, &org)
        .await
        .expect("teams");
    assert!(teams[0].members.is_empty(), "bob is not in devs yet");
    let (status, _) = page(&bobby, &app, "/o/acme/settings").await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Bob declines on his settings page: gone, and he stays out.
    let id = invitation_on_settings_page(&bobby, &app, "acme").await;
    let r = submit(
        &bobby,
        &app,
        "/settings",
        "/settings/invitations/decline",
        &[("id", &id)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/settings?done=declined#invitations");
    let (_, html) = page(&bobby, &app, "/settings?done=declined").await;
    assert!(html.contains("The invitation was declined."));
    assert!(html.contains("No invitations are waiting for you."));
    let r = submit(
        &bobby,
        &app,
        "/settings",
        "/settings/invitations/accept",
        &[("id", &id)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.text().await.expect("body").contains("answered already"));

    // Invited to the organization as an owner, he accepts and lands on its page.
    let r = submit(
        &alice,
        &app,
        "/o/acme/settings",
        "/o/acme/settings/members",
        &[("username", "bobby"), ("role", "owner")],
    )
    .await;
    let to = location(&r);
    assert!(
        to.starts_with("/o/acme/settings?done=invited&said=") && to.ends_with("#members"),
        "{to}"
    );
    let id = invitation_on_settings_page(&bobby, &app, "acme").await;
    let r = submit(
        &bobby,
        &app,
        "/settings",
        "/settings/invitations/accept",
        &[("id", &id)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/o/acme");
    let (status, _) = page(&bobby, &app, "/o/acme/settings").await;
    assert_eq!(status, StatusCode::OK, "bob is an owner now");

    // An owner cancels a pending invitation from the organization's page.
    sign_up_web(&app, "carol").await;
    let r = submit(
        &alice,
        &app,
        "/o/acme/settings",
        "/o/acme/settings/members",
        &[("username", "carol"), ("role", "member")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let alice_user = berth_accounts::users::by_name(&app.state.accounts.db, "alice")
        .await
        .expect("lookup")
        .expect("alice");
    let pending =
        berth_accounts::orgs::invitations::of_org(&app.state.accounts.db, &org, &alice_user)
            .await
            .expect("pending");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].user, "carol");
    let id = pending[0].id.to_string();
    let r = submit(
        &bobby,
        &app,
        "/o/acme/settings",
        "/o/acme/settings/invitations/cancel",
        &[("id", &id)],
    )
    .await;
    assert_eq!(location(&r), "/o/acme/settings?done=cancelled#members");
    let (_, html) = page(&alice, &app, "/o/acme/settings").await;
    assert!(html.contains("No invitations are waiting for an answer."));
}

/// The `id`s of the visible form controls of a page that no `<label for>` names. Radio
/// buttons are labelled by the `<label>` wrapped around them.
fn unlabelled_controls(html: &str) -> Vec<String> {
    let mut missing = Vec::new();
    for tag in ["<input", "<select", "<textarea"] {
        for (at, _) in html.match_indices(tag) {
            let end = html[at..].find('>').map_or(html.len(), |e| at + e);
            let element = &html[at..end];
            if element.contains("type=\"hidden\"")
                || element.contains(" hidden")
                || element.contains("type=\"radio\"")
            {
                continue;
            }
            let id = element
                .split_once("id=\"")
                .and_then(|(_, rest)| rest.split_once('"'))
                .map(|(id, _)| id.to_owned());
            match id {
                Some(id) if html.contains(&format!("for=\"{id}\"")) => {}
                Some(id) => missing.push(id),
                None => missing.push(element.to_owned()),
            }
        }
    }
    missing
}

#[tokio::test]
async fn every_form_control_has_a_label_and_pages_have_landmarks() {
    let app = TestApp::start().await;
    let alice = sign_up_web(&app, "alice").await;
    let r = submit(&alice, &app, "/orgs/new", "/orgs/new", &[("name", "acme")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = submit(
        &alice,
        &app,
        "/o/acme/settings",
        "/o/acme/settings/teams",
        &[("team", "devs")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    for (client, path) in [
        (&app.anonymous, "/"),
        (&app.anonymous, "/login"),
        (&app.anonymous, "/signup"),
        (&alice, "/settings"),
        (&alice, "/orgs/new"),
        (&alice, "/o/acme/settings"),
    ] {
        let (status, html) = page(client, &app, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(unlabelled_controls(&html), Vec::<String>::new(), "{path}");
        for landmark in [
            "<a class=\"skip\" href=\"#main\">",
            "<header",
            "<main id=\"main\"",
            "<footer",
            "<html lang=\"en\">",
        ] {
            assert!(html.contains(landmark), "{path} lacks {landmark}");
        }
    }
}

/// The secret a "created" page shows with its copy button, if any.
fn shown_secret(html: &str, prefix: &str) -> Option<String> {
    let at = html.find(&format!("data-copy=\"{prefix}"))? + "data-copy=\"".len();
    Some(html[at..].chars().take_while(|c| *c != '"').collect())
}

#[tokio::test]
async fn reloading_the_new_token_page_makes_no_second_token_and_shows_the_secret_once() {
    let app = TestApp::start().await;
    let alice = sign_up_web(&app, "alice").await;
    let (_, settings) = page(&alice, &app, "/settings").await;
    let token = csrf(&settings);
    let form = [
        ("csrf", token.as_str()),
        ("name", "laptop"),
        ("scope", "read"),
        ("expires_in_days", "7"),
    ];
    let r = post(&alice, &app, "/settings/tokens", &form).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "post, then redirect");
    let shown_at = location(&r);
    assert!(
        shown_at.starts_with("/settings/tokens/created/"),
        "{shown_at}"
    );
    assert!(
        !shown_at.contains("berth_pat_") && r.headers().get("set-cookie").is_none(),
        "the secret travels in neither the address nor a cookie"
    );

    let (status, html) = page(&alice, &app, &shown_at).await;
    assert_eq!(status, StatusCode::OK);
    let secret = shown_secret(&html, "berth_pat_").expect("the secret, shown once");
    // A reload is a GET: no second token, and the secret is not shown again.
    for _ in 0..2 {
        let r = alice.get(app.url(&shown_at)).send().await.expect("reload");
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(header(&r, "cache-control"), "no-store");
        let html = r.text().await.expect("body");
        assert!(shown_secret(&html, "berth_pat_").is_none() && !html.contains(&secret));
        assert!(html.contains("not shown again"), "{html}");
    }
    let user = berth_accounts::users::by_name(&app.state.accounts.db, "alice")
        .await
        .expect("db")
        .expect("alice");
    let tokens = berth_accounts::tokens::list(&app.state.accounts.db, &user)
        .await
        .expect("tokens");
    assert_eq!(tokens.len(), 1, "one POST, one token");
    let ping = app
        .anonymous
        .get(app.url("/v2/"))
        .header("Authorization", basic("alice", &secret))
        .send()
        .await
        .expect("GET /v2/");
    assert_eq!(
        ping.status(),
        StatusCode::OK,
        "the secret shown is the token's"
    );

    // Token names are unique: the same name again is refused on the page.
    let r = post(&alice, &app, "/settings/tokens", &form).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // The flash belongs to the session that made it, and lasts minutes.
    let form = [
        ("csrf", token.as_str()),
        ("name", "desktop"),
        ("scope", "read"),
        ("expires_in_days", "7"),
    ];
    let r = post(&alice, &app, "/settings/tokens", &form).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let second = location(&r);
    let other_session = browser();
    let r = submit(
        &other_session,
        &app,
        "/login",
        "/login",
        &[("username", "alice"), ("password", "alice password")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&other_session, &app, &second).await;
    assert!(
        shown_secret(&html, "berth_pat_").is_none(),
        "another session"
    );
    let (_, html) = page(&browser(), &app, &second).await;
    assert!(shown_secret(&html, "berth_pat_").is_none(), "anonymous");
    let expires: i64 = sqlx::query_scalar("SELECT MAX(expires_at) FROM flashes")
        .fetch_one(&app.state.pool)
        .await
        .expect("flash");
    assert!(
        expires <= berth_accounts::now() + 5 * 60,
        "expires within minutes"
    );
    sqlx::query("UPDATE flashes SET expires_at = $1")
        .bind(berth_accounts::now() - 1)
        .execute(&app.state.pool)
        .await
        .expect("age the flash");
    let (_, html) = page(&alice, &app, &second).await;
    assert!(shown_secret(&html, "berth_pat_").is_none(), "expired");
}

#[tokio::test]
async fn reloading_the_new_robot_page_makes_no_second_robot() {
    let app = TestApp::start().await;
    let alice = sign_up_web(&app, "alice").await;
    let r = submit(&alice, &app, "/orgs/new", "/orgs/new", &[("name", "acme")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = submit(
        &alice,
        &app,
        "/o/acme/settings",
        "/o/acme/settings/robots",
        &[("name", "ci"), ("grants", "app read")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "post, then redirect");
    let shown_at = location(&r);
    assert!(
        shown_at.starts_with("/o/acme/settings/robots/created/") && !shown_at.contains("berth_"),
        "{shown_at}"
    );
    let r = alice.get(app.url(&shown_at)).send().await.expect("GET");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "cache-control"), "no-store");
    let html = r.text().await.expect("body");
    let secret = shown_secret(&html, "berth_robot_").expect("the robot's secret");
    let (status, again) = page(&alice, &app, &shown_at).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!again.contains(&secret) && again.contains("not shown again"));
    assert!(again.contains("href=\"/o/acme/settings#robots\""));

    let v2 = app
        .anonymous
        .get(app.url("/v2/"))
        .header("Authorization", basic("acme+ci", &secret))
        .send()
        .await
        .expect("v2");
    assert_eq!(v2.status(), StatusCode::OK);
    let (_, settings) = page(&alice, &app, "/o/acme/settings").await;
    assert_eq!(
        settings.matches("<code>acme+ci</code>").count(),
        1,
        "one robot"
    );
}

#[tokio::test]
async fn the_only_owner_is_shown_how_to_hand_over_instead_of_leave() {
    let app = TestApp::start().await;
    let alice = sign_up_web(&app, "alice").await;
    let bobby = sign_up_web(&app, "bobby").await;
    let r = submit(&alice, &app, "/orgs/new", "/orgs/new", &[("name", "acme")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = submit(
        &alice,
        &app,
        "/o/acme/settings",
        "/o/acme/settings/members",
        &[("username", "bobby"), ("role", "member")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // bobby accepts the invitation on his settings page.
    let (_, settings) = page(&bobby, &app, "/settings").await;
    let form = settings
        .split("action=\"/settings/invitations/accept\"")
        .nth(1)
        .expect("an invitation to accept");
    let id = form
        .split("name=\"id\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("its id")
        .to_owned();
    let r = submit(
        &bobby,
        &app,
        "/settings",
        "/settings/invitations/accept",
        &[("id", &id)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // Her page offers no "Leave" but the way to another owner.
    let (_, html) = page(&alice, &app, "/o/acme").await;
    assert!(
        !html.contains("action=\"/o/acme/leave\""),
        "no Leave for her"
    );
    assert!(html.contains("only owner of acme"), "{html}");
    assert!(html.contains("href=\"/o/acme/settings#members\""));
    // bobby, a member, may leave.
    let (_, html) = page(&bobby, &app, "/o/acme").await;
    assert!(html.contains("action=\"/o/acme/leave\""));

    // Sent anyway, the form gets a page that explains, with the link.
    let r = submit(&alice, &app, "/o/acme", "/o/acme/leave", &[]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let html = r.text().await.expect("body");
    assert!(is_site_page(&html));
    assert!(
        html.contains("You are the only owner of acme: make another member an owner first."),
        "{html}"
    );
    assert!(html.contains("href=\"/o/acme/settings#members\""));
    assert!(
        html.contains("href=\"/r/") || html.contains("No repositories"),
        "the org's page"
    );

    // The link leads to the members form, where bobby can be made an owner.
    let (_, settings) = page(&alice, &app, "/o/acme/settings").await;
    assert!(settings.contains("id=\"members\"") && settings.contains("id=\"role-bobby\""));
    let r = submit(
        &alice,
        &app,
        "/o/acme/settings",
        "/o/acme/settings/members",
        &[("username", "bobby"), ("role", "owner")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&alice, &app, "/o/acme").await;
    assert!(
        html.contains("action=\"/o/acme/leave\""),
        "now she may leave"
    );
    let r = submit(&alice, &app, "/o/acme", "/o/acme/leave", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // Alone in an organization, the way out is another member (or deleting it).
    let r = submit(&alice, &app, "/orgs/new", "/orgs/new", &[("name", "solo")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = submit(&alice, &app, "/o/solo", "/o/solo/leave", &[]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let html = r.text().await.expect("body");
    assert!(html.contains("only owner of solo") && html.contains("delete the organization"));
}

#[tokio::test]
async fn bad_query_strings_get_the_400_page_in_words() {
    let app = TestApp::start().await;
    let alice = sign_up_web(&app, "alice").await;
    let r = submit(&alice, &app, "/orgs/new", "/orgs/new", &[("name", "acme")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    for (path, why) in [
        ("/search?page=abc", "page must be a number"),
        ("/search?q=web&page=", "page must be a number"),
        ("/u/alice?page=1e3", "page must be a number"),
        ("/o/acme?page=99999999999999999999", "page must be a number"),
        (
            "/settings?done=email&done=password",
            "done is given more than once",
        ),
        ("/login?next=/a&next=/b", "next is given more than once"),
    ] {
        let (status, html) = page(&alice, &app, path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert!(is_site_page(&html), "{path}: the site's page");
        assert!(
            html.contains(&format!("The address has a bad query: {why}.")),
            "{path}: {html}"
        );
        for internal in ["deserialize", "invalid digit", "Query", "duplicate field"] {
            assert!(!html.contains(internal), "{path} shows {internal:?}");
        }
    }
    // Path parameters that name nothing are the site's 404 page.
    for path in [
        "/o/acme/settings/webhooks/abc",
        "/o/acme/settings/webhooks/-1",
    ] {
        let (status, html) = page(&alice, &app, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(is_site_page(&html), "{path}");
    }
}
