//! What a person does in the browser, as one-line steps for the UI tests: sign up, log in and
//! out, read the page's HTML, check that user content is inert, and take the screenshots (light,
//! dark and phone) that every new or changed page leaves in `target/screenshots/`.

use super::browser::{Browser, PHONE};
use super::TestApp;

pub fn password(name: &str) -> String {
    format!("{name} has a long password")
}

/// Signs `name` up through `/signup`; they are signed in afterwards.
pub async fn sign_up_in(browser: &Browser, app: &TestApp, name: &str) {
    browser.goto(&app.url("/signup")).await;
    browser.fill("#username", name).await;
    browser.fill("#email", &format!("{name}@example.com")).await;
    browser.fill("#password", &password(name)).await;
    browser
        .fill("#password_confirmation", &password(name))
        .await;
    browser.submit("form[action='/signup']").await;
    assert_signed_in_as(browser, name).await;
}

pub async fn log_in(browser: &Browser, app: &TestApp, name: &str) {
    browser.goto(&app.url("/login")).await;
    browser.fill("#username", name).await;
    browser.fill("#password", &password(name)).await;
    browser.submit("form[action='/login']").await;
    assert_signed_in_as(browser, name).await;
}

/// Logs out with the account menu's button, as a user would.
pub async fn log_out(browser: &Browser) {
    browser.click("details.menu > summary").await;
    browser.submit("form[action='/logout']").await;
    assert!(
        browser.exists("a.nav-link[href='/login']").await,
        "after logging out the header offers to log in"
    );
    assert!(!browser.exists("details.menu").await, "still signed in");
}

pub async fn assert_signed_in_as(browser: &Browser, name: &str) {
    let menu = format!("details.menu summary[aria-label='Account menu for {name}']");
    assert!(
        browser.exists(&menu).await,
        "{name} is not signed in on {} (title {:?})",
        browser.current_url().await,
        browser.title().await
    );
}

/// The whole document's HTML, to check what a page does not mention.
pub async fn html(browser: &Browser) -> String {
    browser
        .execute("return document.documentElement.outerHTML;")
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

pub async fn inner_html(browser: &Browser, css: &str) -> String {
    browser.wait_for(css).await;
    let js = format!(
        "return document.querySelector({}).innerHTML;",
        serde_json::to_string(css).expect("css as JSON")
    );
    browser
        .execute(&js)
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Fails if the element `css` holds a script, an event handler attribute or a `javascript:` URL.
pub async fn assert_inert(browser: &Browser, css: &str) {
    let inner = inner_html(browser, css).await;
    let lower = inner.to_ascii_lowercase();
    assert!(
        !lower.contains("<script"),
        "`{css}` holds a script: {inner}"
    );
    assert!(
        !lower.contains("onerror") && !lower.contains("onclick"),
        "`{css}` holds an event handler: {inner}"
    );
    let hostile_links = format!(
        "{css} [href^='javascript:' i], {css} [src^='javascript:' i], {css} [href*='javascript' i]"
    );
    assert!(
        !browser.exists(&hostile_links).await,
        "`{css}` holds a javascript: link: {inner}"
    );
    browser.assert_no_alert().await;
}

/// Saves the page's screenshots (desktop and phone) as `name`, after checking that at phone
/// width nothing sticks out sideways (the page scrolls only down).
pub async fn screenshot(browser: &Browser, name: &str) {
    browser.resize(PHONE).await;
    let overflow = browser
        .execute(
            "const w = document.documentElement.clientWidth;
             const scroll = document.documentElement.scrollWidth;
             if (scroll <= w) return null;
             const wide = Array.from(document.querySelectorAll('body *'))
               .filter(e => e.getBoundingClientRect().right > w + 1)
               .filter(e => !e.parentElement.closest('.table-wrap, pre'))
               .slice(0, 8)
               .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
                 (e.className ? '.' + String(e.className).split(' ').join('.') : '') +
                 ' right=' + Math.round(e.getBoundingClientRect().right));
             return { scrollWidth: scroll, clientWidth: w, wide };",
        )
        .await;
    assert!(
        overflow.is_null(),
        "{name}: the page is wider than a {}px phone: {overflow}",
        PHONE.0
    );
    browser.screenshot(name).await;
}

/// Selects `value` in the `<select>` `css` by clicking its option.
pub async fn choose(browser: &Browser, css: &str, value: &str) {
    browser
        .click(&format!("{css} option[value='{value}']"))
        .await;
}

/// The page is the site's own error page with `status`.
pub async fn assert_error_page(browser: &Browser, status: u16, what: &str) {
    let code = browser.text(".error-page .error-code").await;
    assert_eq!(
        code.trim(),
        status.to_string(),
        "{what}: expected the {status} page on {}",
        browser.current_url().await
    );
}

/// [`screenshot`] in the light scheme as `name`, then in the dark scheme as `name-dark`: the
/// three views (desktop, phone, dark) that every new or changed page is shown in.
pub async fn screenshots(browser: &Browser, name: &str) {
    browser.prefer_dark(false).await;
    screenshot(browser, name).await;
    browser.prefer_dark(true).await;
    screenshot(browser, &format!("{name}-dark")).await;
    browser.prefer_dark(false).await;
}
