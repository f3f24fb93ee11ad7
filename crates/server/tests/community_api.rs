//! Search, tags, stars and comments through the JSON API and Docker's `/v1/search`: what
//! people find and say about repositories, and that nothing private shows to outsiders.

use crate::common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn json_of(r: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(r.status(), status, "{}", r.url().clone());
    r.json().await.expect("json")
}

fn names(v: &Value) -> Vec<String> {
    v["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["name"].as_str().expect("name").to_owned())
        .collect()
}

async fn create_repo(
    app: &TestApp,
    auth: &str,
    ns: &str,
    name: &str,
    private: bool,
    description: &str,
) {
    let r = call(
        app,
        Method::POST,
        "/api/v1/repositories",
        Some(auth),
        Some(json!({
            "namespace": ns, "name": name, "description": description,
            "visibility": if private { "private" } else { "public" },
        })),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED, "create {ns}/{name}");
}

#[tokio::test]
async fn search_finds_what_the_caller_may_see_and_nothing_else() {
    let app = TestApp::start().await;
    let alice = sign_up_basic(&app, "alice").await;
    let bob = sign_up_basic(&app, "bobby").await;
    create_repo(
        &app,
        &alice,
        "alice",
        "nginx-proxy",
        false,
        "A reverse proxy",
    )
    .await;
    create_repo(
        &app,
        &alice,
        "alice",
        "secret-nginx",
        true,
        "Internal proxy",
    )
    .await;
    create_repo(
        &app,
        &bob,
        "bobby",
        "cache",
        false,
        "An nginx cache in front of S3",
    )
    .await;
    create_repo(&app, &bob, "bobby", "postgres", false, "Database").await;

    // Anonymous: names and descriptions match, prefixes too; the private one never appears,
    // not even in the count.
    let found = json_of(
        call(&app, Method::GET, "/api/v1/search?q=nginx", None, None).await,
        StatusCode::OK,
    )
    .await;
    let mut got = names(&found);
    got.sort();
    assert_eq!(got, ["alice/nginx-proxy", "bobby/cache"]);
    assert_eq!(found["total"], 2);
    let found = json_of(
        call(&app, Method::GET, "/api/v1/search?q=ngin", None, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(found["total"], 2, "a prefix matches");
    let found = json_of(
        call(&app, Method::GET, "/api/v1/search?q=secret", None, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(found["total"], 0);
    assert!(names(&found).is_empty());

    // The owner sees their private repository; the other user does not.
    let found = json_of(
        call(
            &app,
            Method::GET,
            "/api/v1/search?q=nginx",
            Some(&alice),
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(found["total"], 3);
    assert!(names(&found).contains(&"alice/secret-nginx".to_owned()));
    let found = json_of(
        call(
            &app,
            Method::GET,
            "/api/v1/search?q=nginx",
            Some(&bob),
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(found["total"], 2);

    // A name match outranks a description match.
    let found = json_of(
        call(&app, Method::GET, "/api/v1/search?q=nginx", None, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(names(&found)[0], "alice/nginx-proxy");

    // Filter by namespace; empty text lists everything visible.
    let found = json_of(
        call(
            &app,
            Method::GET,
            "/api/v1/search?namespace=bobby",
            None,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let mut got = names(&found);
    got.sort();
    assert_eq!(got, ["bobby/cache", "bobby/postgres"]);
    let found = json_of(
        call(
            &app,
            Method::GET,
            "/api/v1/search?namespace=alice",
            None,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(names(&found), ["alice/nginx-proxy"]);

    let found = json_of(
        call(
            &app,
            Method::GET,
            "/api/v1/search?q=nginx&namespace=bobby",
            None,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(names(&found), ["bobby/cache"], "text within one namespace");

    // Sorting by stars and paging.
    let r = call(
        &app,
        Method::PUT,
        "/api/v1/repositories/bobby/postgres/star",
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let found = json_of(
        call(
            &app,
            Method::GET,
            "/api/v1/search?sort=stars&page_size=1",
            None,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(names(&found), ["bobby/postgres"]);
    assert_eq!(found["total"], 3);
    let found = json_of(
        call(
            &app,
            Method::GET,
            "/api/v1/search?sort=name&page=2&page_size=2",
            None,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(names(&found), ["bobby/postgres"]);

    // Bad parameters are refused; hostile text is just text.
    for bad in ["sort=password_hash", "page=0", "page_size=1000", "page=x"] {
        let r = call(
            &app,
            Method::GET,
            &format!("/api/v1/search?{bad}"),
            None,
            None,
        )
        .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    for hostile in [
        "%22%27%20OR%201%3D1%20--",
        "%2A",
        "NEAR(a%20b)",
        "a%3A*%20%26%20!b",
        "%00",
    ] {
        let r = call(
            &app,
            Method::GET,
            &format!("/api/v1/search?q={hostile}"),
            None,
            None,
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK, "{hostile}");
    }
}

#[tokio::test]
async fn docker_v1_search_answers_in_dockers_format() {
    let app = TestApp::start().await;
    let alice = sign_up_basic(&app, "alice").await;
    create_repo(
        &app,
        &alice,
        "alice",
        "webapp",
        false,
        "The web application",
    )
    .await;
    create_repo(&app, &alice, "alice", "webapp-private", true, "").await;
    let found = json_of(
        call(&app, Method::GET, "/v1/search?q=webapp&n=25", None, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(found["num_results"], 1);
    assert_eq!(found["query"], "webapp");
    assert_eq!(found["page_size"], 25);
    let hit = &found["results"][0];
    assert_eq!(hit["name"], "alice/webapp");
    assert_eq!(hit["description"], "The web application");
    assert_eq!(hit["star_count"], 0);
    assert_eq!(hit["is_official"], false);
    assert_eq!(hit["is_automated"], false);
    let found = json_of(
        call(&app, Method::GET, "/v1/search?q=webapp", Some(&alice), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(found["num_results"], 2);
}

#[tokio::test]
async fn tags_show_size_platform_and_pusher() {
    let app = TestApp::start().await;
    let alice = sign_up_basic(&app, "alice").await;
    let layer = vec![7u8; 3000];
    app.push_image("alice/app", "v1", &layer).await;
    app.push_image("alice/app", "v2", b"another layer").await;

    let tags = json_of(
        call(
            &app,
            Method::GET,
            "/api/v1/repositories/alice/app/tags",
            None,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(tags["count"], 2);
    let v1 = tags["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|t| t["name"] == "v1")
        .expect("v1 listed");
    assert!(
        v1["size"].as_i64().expect("size") > 3000,
        "config plus layer: {v1}"
    );
    assert_eq!(v1["platforms"], json!(["linux/amd64"]));
    assert_eq!(v1["pushed_by"], ADMIN);
    assert!(v1["digest"]
        .as_str()
        .expect("digest")
        .starts_with("sha256:"));
    let paged = json_of(
        call(
            &app,
            Method::GET,
            "/api/v1/repositories/alice/app/tags?page_size=1&page=2",
            None,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(paged["results"].as_array().expect("results").len(), 1);

    let tag = json_of(
        call(
            &app,
            Method::GET,
            "/api/v1/repositories/alice/app/tags/v1",
            None,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(tag["layers"][0]["size"], 3000);
    assert_eq!(tag["config"]["os"], "linux");
    assert!(tag["manifest"]
        .as_str()
        .expect("manifest")
        .contains("schemaVersion"));
    let r = call(
        &app,
        Method::GET,
        "/api/v1/repositories/alice/app/tags/nope",
        None,
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // A private repository's tags are as unknown as the repository.
    let r = call(
        &app,
        Method::PATCH,
        "/api/v1/repositories/alice/app",
        Some(&alice),
        Some(json!({"visibility": "private"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    for path in [
        "/api/v1/repositories/alice/app/tags",
        "/api/v1/repositories/alice/app/tags/v1",
    ] {
        let r = call(&app, Method::GET, path, None, None).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let r = call(
        &app,
        Method::GET,
        "/api/v1/repositories/alice/app/tags",
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn stars_count_once_per_user_and_only_where_visible() {
    let app = TestApp::start().await;
    let alice = sign_up_basic(&app, "alice").await;
    let bob = sign_up_basic(&app, "bobby").await;
    create_repo(&app, &alice, "alice", "app", false, "").await;
    create_repo(&app, &alice, "alice", "hidden", true, "").await;

    let path = "/api/v1/repositories/alice/app/star";
    assert_eq!(
        call(&app, Method::PUT, path, None, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    for _ in 0..2 {
        let s = json_of(
            call(&app, Method::PUT, path, Some(&bob), None).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(s, json!({"starred": true, "star_count": 1}));
    }
    let s = json_of(
        call(&app, Method::PUT, path, Some(&alice), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(s["star_count"], 2);
    let repo = json_of(
        call(
            &app,
            Method::GET,
            "/api/v1/repositories/alice/app",
            None,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(repo["star_count"], 2);
    assert_eq!(repo["pull_count"], 0);
    assert_eq!(repo["comment_count"], 0);
    let s = json_of(
        call(&app, Method::DELETE, path, Some(&bob), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(s, json!({"starred": false, "star_count": 1}));

    let r = call(
        &app,
        Method::PUT,
        "/api/v1/repositories/alice/hidden/star",
        Some(&bob),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = call(
        &app,
        Method::PUT,
        "/api/v1/repositories/alice/nothing/star",
        Some(&bob),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn comments_are_markdown_made_safe_and_belong_to_their_authors() {
    let app = TestApp::start().await;
    let alice = sign_up_basic(&app, "alice").await;
    let bob = sign_up_basic(&app, "bobby").await;
    let carol = sign_up_basic(&app, "carol").await;
    create_repo(&app, &alice, "alice", "app", false, "").await;
    let path = "/api/v1/repositories/alice/app/comments";

    let r = call(&app, Method::POST, path, None, Some(json!({"body": "hi"}))).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    for bad in [
        json!({"body": "   "}),
        json!({"body": "x".repeat(10_001)}),
        json!({"text": "hi"}),
    ] {
        let r = call(&app, Method::POST, path, Some(&bob), Some(bad)).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    }
    let first = json_of(
        call(&app, Method::POST, path, Some(&bob), Some(json!({"body": "**Works** for me <script>alert(1)</script> [x](javascript:alert(2))"}))).await,
        StatusCode::CREATED,
    )
    .await;
    let html = first["body_html"].as_str().expect("html");
    assert!(html.contains("<strong>Works</strong>"), "{html}");
    assert!(
        !html.contains("<script") && !html.contains("javascript:"),
        "{html}"
    );
    assert_eq!(first["author"], "bobby");
    let second = json_of(
        call(
            &app,
            Method::POST,
            path,
            Some(&carol),
            Some(json!({"body": "Me too"})),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;

    // Newest first, counted on the repository.
    let list = json_of(
        call(&app, Method::GET, path, None, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list["count"], 2);
    assert_eq!(list["results"][0]["id"], second["id"]);
    let repo = json_of(
        call(
            &app,
            Method::GET,
            "/api/v1/repositories/alice/app",
            None,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(repo["comment_count"], 2);

    // Authors edit their own; nobody else does.
    let mine = format!("{path}/{}", first["id"]);
    let r = call(
        &app,
        Method::PATCH,
        &mine,
        Some(&carol),
        Some(json!({"body": "vandalised"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let edited = json_of(
        call(
            &app,
            Method::PATCH,
            &mine,
            Some(&bob),
            Some(json!({"body": "Edited"})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(edited["body"], "Edited");

    // Another user may not delete it; the repository's administrator may.
    assert_eq!(
        call(&app, Method::DELETE, &mine, Some(&carol), None)
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(&app, Method::DELETE, &mine, Some(&alice), None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let theirs = format!("{path}/{}", second["id"]);
    assert_eq!(
        call(&app, Method::DELETE, &theirs, Some(&carol), None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(&app, Method::DELETE, &theirs, Some(&carol), None)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let list = json_of(
        call(&app, Method::GET, path, None, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list["count"], 0);

    // A private repository's comments are invisible to outsiders.
    create_repo(&app, &alice, "alice", "hidden", true, "").await;
    let r = call(
        &app,
        Method::POST,
        "/api/v1/repositories/alice/hidden/comments",
        Some(&bob),
        Some(json!({"body": "hi"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = call(
        &app,
        Method::GET,
        "/api/v1/repositories/alice/hidden/comments",
        None,
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_deleted_repository_takes_its_stars_and_comments_with_it() {
    let app = TestApp::start().await;
    let alice = sign_up_basic(&app, "alice").await;
    let bob = sign_up_basic(&app, "bobby").await;
    create_repo(&app, &alice, "alice", "app", false, "").await;
    call(
        &app,
        Method::PUT,
        "/api/v1/repositories/alice/app/star",
        Some(&bob),
        None,
    )
    .await;
    call(
        &app,
        Method::POST,
        "/api/v1/repositories/alice/app/comments",
        Some(&bob),
        Some(json!({"body": "old"})),
    )
    .await;
    let r = call(
        &app,
        Method::DELETE,
        "/api/v1/repositories/alice/app",
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    create_repo(&app, &alice, "alice", "app", false, "").await;
    let repo = json_of(
        call(
            &app,
            Method::GET,
            "/api/v1/repositories/alice/app",
            None,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(repo["star_count"], 0);
    assert_eq!(repo["comment_count"], 0);
    let list = json_of(
        call(
            &app,
            Method::GET,
            "/api/v1/repositories/alice/app/comments",
            None,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list["count"], 0);
    let found = json_of(
        call(&app, Method::GET, "/api/v1/search?q=app", None, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(found["total"], 1, "one repository indexed, not two");
}

/// `docker search` after `docker login` sends a registry token for `registry:catalog:search`
/// from the token service, not the password: `/v1/search` takes it as its subject (who then
/// sees their private repositories too); an anonymous token, or one without that scope,
/// searches as nobody; a token that does not verify is refused.
#[tokio::test]
async fn v1_search_takes_the_registry_token_docker_search_sends() {
    let app = TestApp::start().await;
    let password = sign_up(&app, "alice").await;
    let alice = basic("alice", &password);
    create_repo(&app, &alice, "alice", "web-public", false, "").await;
    create_repo(&app, &alice, "alice", "web-private", true, "").await;

    let token = |creds: Option<String>, scope: &'static str| {
        let app = &app;
        async move {
            let mut req = app
                .anonymous
                .get(app.url(&format!("/auth/token?service={}&scope={scope}", app.host())));
            if let Some(c) = creds {
                req = req.header("Authorization", c);
            }
            let v = json_of(req.send().await.expect("token"), StatusCode::OK).await;
            format!("Bearer {}", v["token"].as_str().expect("token"))
        }
    };
    let search = |auth: String| {
        let app = &app;
        async move {
            let r = call(app, Method::GET, "/v1/search?q=web", Some(&auth), None).await;
            let v = json_of(r, StatusCode::OK).await;
            let mut got = names(&v);
            got.sort();
            got
        }
    };

    let signed_in = token(Some(alice.clone()), "registry:catalog:search").await;
    assert_eq!(
        search(signed_in).await,
        ["alice/web-private", "alice/web-public"]
    );
    let anonymous = token(None, "registry:catalog:search").await;
    assert_eq!(search(anonymous).await, ["alice/web-public"]);
    let other_scope = token(Some(alice.clone()), "repository:alice/web-public:pull").await;
    assert_eq!(search(other_scope).await, ["alice/web-public"]);

    let r = call(
        &app,
        Method::GET,
        "/v1/search?q=web",
        Some("Bearer eyJhbGciOiJFUzI1NiJ9.e30.c2ln"),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "a forged token");
}

#[tokio::test]
async fn a_repository_administrator_deletes_a_tag_through_the_api() {
    let app = TestApp::start().await;
    let alice = sign_up_basic(&app, "alice").await;
    let bobby = sign_up_basic(&app, "bobby").await;
    let (_, digest) = app.push_image("alice/app", "v1", b"the layer").await;
    app.push_image("alice/app", "v2", b"the layer").await;
    let v1 = "/api/v1/repositories/alice/app/tags/v1";

    let r = call(&app, Method::DELETE, v1, None, None).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Bobby may read the public repository, not delete from it.
    let r = call(&app, Method::DELETE, v1, Some(&bobby), None).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.get("/v2/alice/app/manifests/v1").await.status(),
        StatusCode::OK
    );

    let r = call(&app, Method::DELETE, v1, Some(&alice), None).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/v2/alice/app/manifests/v1").await.status(),
        StatusCode::NOT_FOUND
    );
    let r = call(&app, Method::GET, v1, None, None).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // The manifest stays, and so does the other tag on it.
    let by_digest = format!("/v2/alice/app/manifests/{digest}");
    assert_eq!(app.get(&by_digest).await.status(), StatusCode::OK);
    assert_eq!(
        app.json("/v2/alice/app/tags/list").await["tags"],
        json!(["v2"])
    );
    // Twice is a 404 with the API's error body.
    let r = call(&app, Method::DELETE, v1, Some(&alice), None).await;
    let body = json_of(r, StatusCode::NOT_FOUND).await;
    assert_eq!(body["error"]["code"], "not_found");
    // A repository the caller cannot see is as unknown as the tag.
    let r = call(
        &app,
        Method::DELETE,
        "/api/v1/repositories/alice/nothing/tags/v2",
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    app.assert_consistent().await;

    // Where the registry refuses deletes, so does the API.
    let app = TestApp::start_with(|c| c.registry.delete_enabled = false).await;
    let alice = sign_up_basic(&app, "alice").await;
    app.push_image("alice/app", "v1", b"the layer").await;
    let r = call(&app, Method::DELETE, v1, Some(&alice), None).await;
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        app.get("/v2/alice/app/manifests/v1").await.status(),
        StatusCode::OK
    );
}
