//! Driving the web pages as a browser would, without one: a cookie-keeping client, forms sent
//! with the CSRF token of the page they came from.

use reqwest::{Client, StatusCode};

use super::{location, TestApp};

/// A browser: keeps cookies, does not follow redirects (the tests look at them).
pub fn browser() -> Client {
    berth_accounts::install_tls_provider();
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(std::time::Duration::from_secs(20))
        .build()
        .expect("client")
}

/// The value of the first hidden `csrf` field of a page.
pub fn csrf(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a csrf field") + marker.len();
    let len = html[start..].find('"').expect("end of value");
    html[start..start + len].to_owned()
}

pub async fn page(client: &Client, app: &TestApp, path: &str) -> (StatusCode, String) {
    let r = client.get(app.url(path)).send().await.expect("GET page");
    let status = r.status();
    (status, r.text().await.expect("body"))
}

pub async fn post(
    client: &Client,
    app: &TestApp,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    client
        .post(app.url(path))
        .form(form)
        .send()
        .await
        .expect("POST form")
}

/// Posts a form with the CSRF token of the page at `from`.
pub async fn submit(
    client: &Client,
    app: &TestApp,
    from: &str,
    to: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let (status, html) = page(client, app, from).await;
    assert_eq!(status, StatusCode::OK, "GET {from}");
    let token = csrf(&html);
    let mut form = vec![("csrf", token.as_str())];
    form.extend_from_slice(fields);
    post(client, app, to, &form).await
}

/// Signs up through the sign-up page; the browser is then signed in.
pub async fn sign_up_web(app: &TestApp, name: &str) -> Client {
    let client = browser();
    let password = format!("{name} password");
    let email = format!("{name}@example.com");
    let r = submit(
        &client,
        app,
        "/signup",
        "/signup",
        &[
            ("username", name),
            ("email", &email),
            ("password", &password),
            ("password_confirmation", &password),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "sign up {name}");
    assert_eq!(location(&r), format!("/u/{name}"));
    client
}

pub fn is_site_page(html: &str) -> bool {
    html.starts_with("<!doctype html>") && html.contains("class=\"site-header\"")
}
