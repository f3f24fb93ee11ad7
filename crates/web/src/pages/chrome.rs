//! What the shared layout shows around every page: the signed-in user's menu (or the links to
//! log in and sign up), the CSRF token of its log-out form, and the asset URLs.

use super::assets;

#[derive(Debug, Clone, Default)]
pub struct Chrome {
    /// The signed-in user's name.
    pub user: Option<String>,
    /// The token every form on the page sends back.
    pub csrf: String,
    /// Organizations the signed-in user belongs to, for the menu.
    pub orgs: Vec<String>,
    /// Whether the "Sign up" link is shown.
    pub signup_open: bool,
    /// Whether the signed-in user is a site administrator (the menu links to `/admin`).
    pub admin: bool,
}

impl Chrome {
    pub fn css_url(&self) -> &'static str {
        assets::css_url()
    }

    pub fn js_url(&self) -> &'static str {
        assets::js_url()
    }

    pub fn icon_url(&self) -> &'static str {
        assets::icon_url()
    }

    pub fn initial(&self) -> String {
        initial(self.user.as_deref().unwrap_or(""))
    }
}

/// The letter an avatar shows.
pub fn initial(name: &str) -> String {
    name.chars()
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default()
}
