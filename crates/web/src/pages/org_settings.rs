//! Managing an organization (its owners only): members and roles, invitations, teams with their
//! members and repository grants, robot accounts, immutable tag rules, the retention rules of
//! its namespace, and deleting it. The accounts crate checks every
//! permission again and audits each change; these handlers only draw the forms and results.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use askama::Template;
use berth_accounts::access::{Permission, Role};
use berth_accounts::orgs::profile::{self, Profile};
use berth_accounts::orgs::{self, invitations, Added, Member, Org, Team};
use berth_accounts::robots::{self, RobotInfo};
use berth_accounts::users::User;
use berth_accounts::{audit, Accounts, Error as AccountsError, Result as AccountsResult};
use berth_hub::Hub;
use berth_registry::lifecycle::immutable::{self, Patterns, Scope};
use berth_registry::lifecycle::retention as rules;
use berth_registry::Registry;
use berth_webhooks::Webhooks;
use serde::{Deserialize, Serialize};

use super::error::inline;
use super::filters;
use super::flash::{no_store, put_flash, take_flash};
use super::invitations::InvitationRow;
use super::retention::{self, Card, Preview, RetentionForm};
use super::settings::login_first;
use super::storage::{self, Storage};
use super::webhooks::{self, HooksSection};
use super::{render, see_other, Chrome, PageError, Viewer};
use crate::Site;

/// What a refused form posted, kept for the page shown again.
#[derive(Default)]
pub struct Kept {
    pub member: String,
    pub team: String,
    pub robot: String,
    pub robot_grants: String,
    /// The immutable tag patterns, when a refused list is shown again.
    pub immutable: Option<String>,
    /// The profile form as typed, when a refused one is shown again.
    pub profile: Option<Profile>,
}

pub struct RobotRow {
    pub name: String,
    pub short: String,
    pub grants: String,
    pub created: i64,
    pub last_used: Option<i64>,
}

impl RobotRow {
    fn from(r: &RobotInfo) -> Self {
        let grants: Vec<String> = r
            .permissions
            .iter()
            .map(|g| format!("{} ({})", g.repository, g.permission))
            .collect();
        RobotRow {
            short: r
                .name
                .split_once('+')
                .map_or(r.name.as_str(), |(_, n)| n)
                .to_owned(),
            name: r.name.clone(),
            grants: if grants.is_empty() {
                "public repositories only".into()
            } else {
                grants.join(", ")
            },
            created: r.created_at,
            last_used: r.last_used_at,
        }
    }
}

/// The stores the settings page shows besides the accounts: webhooks and the registry's
/// retention rules.
pub struct Stores {
    hooks: web::Data<Webhooks>,
    registry: web::Data<Registry>,
}

impl FromRequest for Stores {
    type Error = PageError;
    type Future = Ready<Result<Stores, PageError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let hooks = req.app_data::<web::Data<Webhooks>>().cloned();
        let registry = req.app_data::<web::Data<Registry>>().cloned();
        ready(match (hooks, registry) {
            (Some(hooks), Some(registry)) => Ok(Stores { hooks, registry }),
            _ => Err(PageError::internal()),
        })
    }
}

#[derive(Template)]
#[template(path = "org_settings.html")]
struct SettingsPage {
    chrome: Chrome,
    name: String,
    members: Vec<Member>,
    /// Pending invitations to the organization and its teams.
    invitations: Vec<InvitationRow>,
    teams: Vec<Team>,
    robots: Vec<RobotRow>,
    hooks: HooksSection,
    /// The namespace's immutable tag patterns, one a line.
    immutable: String,
    retention: Card,
    /// What the organization stores and its quota; site administrators may change the quota.
    storage: Storage,
    site_admin: bool,
    /// The organization's description and web address.
    profile: Profile,
    notice: Option<String>,
    /// The section the error belongs to, and the error.
    error_in: &'static str,
    error: String,
    kept: Kept,
}

async fn load_org(accounts: &Accounts, name: &str) -> Result<Org, PageError> {
    orgs::by_name(&accounts.db, name)
        .await?
        .ok_or_else(PageError::not_found)
}

/// What the page shows besides the organization: a notice after a change, or a refusal (the
/// section it belongs to, and why) with what the form posted.
#[derive(Default)]
struct Outcome {
    notice: Option<String>,
    error: Option<(&'static str, String)>,
    kept: Kept,
    /// The retention card as a preview or a refused save left it (`None`: as saved).
    retention: Option<Card>,
}

#[allow(clippy::too_many_arguments)]
async fn settings_page(
    viewer: &Viewer,
    accounts: &Accounts,
    stores: &Stores,
    org: &Org,
    user: &User,
    status: StatusCode,
    outcome: Outcome,
) -> Result<HttpResponse, PageError> {
    let Outcome {
        notice,
        error,
        kept,
        retention,
    } = outcome;
    if !orgs::can_manage(&accounts.db, org, user).await? {
        return Err(PageError::forbidden(
            "Only the organization's owners can manage it.",
        ));
    }
    let (error_in, error) = error.unwrap_or(("", String::new()));
    let settings_url = format!("/o/{}/settings", org.name);
    let owner = berth_webhooks::Owner::Org(org.name.clone());
    let immutable = match kept.immutable.clone() {
        Some(typed) => typed,
        None => immutable::patterns(&stores.registry, Scope::Namespace(&org.name))
            .await?
            .join("\n"),
    };
    let retention = match retention {
        Some(card) => card,
        None => retention_card(&stores.registry, org).await?,
    };
    let profile = match kept.profile.clone() {
        Some(typed) => typed,
        None => profile::get(&accounts.db, org).await?,
    };
    let page = SettingsPage {
        immutable,
        retention,
        profile,
        hooks: webhooks::section(&stores.hooks, &owner, &settings_url).await?,
        storage: storage::of_namespace(stores.registry.meta(), &org.name).await?,
        site_admin: user.is_admin,
        chrome: viewer.chrome.clone(),
        name: org.name.clone(),
        members: orgs::members(&accounts.db, org).await?,
        invitations: invitations::of_org(&accounts.db, org, user)
            .await?
            .iter()
            .map(InvitationRow::from)
            .collect(),
        teams: orgs::teams(&accounts.db, org).await?,
        robots: robots::list(&accounts.db, org, user)
            .await?
            .iter()
            .map(RobotRow::from)
            .collect(),
        notice,
        error_in,
        error,
        kept,
    };
    render(viewer, status, &page)
}

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
    /// A flash holding the notice that names who and what changed.
    said: Option<String>,
}

/// The flash kind of a notice that names who and what a change was about.
const NOTICE_FLASH: &str = "org-notice";

pub async fn page(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    stores: Stores,
    path: web::Path<String>,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, PageError> {
    let org = load_org(&accounts, &path).await?;
    let Some(user) = viewer.user.clone() else {
        return Ok(login_first(&format!("/o/{}/settings", org.name)));
    };
    // Fixed messages only: nothing from the address is echoed.
    let notice = match query.done.as_deref() {
        Some("members") => Some("Members updated."),
        Some("invited") => Some(
            "Invitation sent. They join when they accept it on their settings page, within 7 days.",
        ),
        Some("cancelled") => Some("Invitation cancelled."),
        Some("teams") => Some("Teams updated."),
        Some("robots") => Some("Robot accounts updated."),
        Some("immutable") => Some("Immutable tag rules saved."),
        Some("retention") => Some("Retention policy saved."),
        Some("retention-removed") => Some("Retention policy removed."),
        Some("storage") => Some("Storage quota updated."),
        Some("profile") => Some("Profile saved."),
        _ => None,
    };
    let said = match query.said.as_deref() {
        Some(id) => take_flash::<String>(&viewer, &accounts, NOTICE_FLASH, id).await?,
        None => None,
    };
    let notice = said.or_else(|| notice.map(str::to_owned));
    settings_page(
        &viewer,
        &accounts,
        &stores,
        &org,
        &user,
        StatusCode::OK,
        Outcome {
            notice,
            ..Outcome::default()
        },
    )
    .await
}

/// The organization and the signed-in user behind a settings form, after its CSRF check.
async fn start<'a>(
    viewer: &'a Viewer,
    accounts: &Accounts,
    org: &str,
    csrf: &str,
) -> Result<(Org, &'a User), PageError> {
    let org = load_org(accounts, org).await?;
    viewer.check_csrf(csrf)?;
    let user = viewer.require_user()?;
    Ok((org, user))
}

/// After a change: back to the settings page (303), or the page again with the refusal next
/// to the form that caused it.
#[allow(clippy::too_many_arguments)]
async fn finish(
    viewer: &Viewer,
    accounts: &Accounts,
    stores: &Stores,
    org: &Org,
    user: &User,
    section: &'static str,
    result: AccountsResult<()>,
    kept: Kept,
) -> Result<HttpResponse, PageError> {
    finish_as(
        viewer, accounts, stores, org, user, section, section, result, kept, None,
    )
    .await
}

/// [`finish`], with a notice that says who and what (`bobby was removed from acme.`).
#[allow(clippy::too_many_arguments)]
async fn finish_said(
    viewer: &Viewer,
    accounts: &Accounts,
    stores: &Stores,
    org: &Org,
    user: &User,
    section: &'static str,
    result: AccountsResult<()>,
    said: String,
) -> Result<HttpResponse, PageError> {
    finish_as(
        viewer,
        accounts,
        stores,
        org,
        user,
        section,
        section,
        result,
        Kept::default(),
        Some(said),
    )
    .await
}

/// An addition: done, or an invitation sent (said so by the notice).
#[allow(clippy::too_many_arguments)]
async fn finish_added(
    viewer: &Viewer,
    accounts: &Accounts,
    stores: &Stores,
    org: &Org,
    user: &User,
    section: &'static str,
    result: AccountsResult<Added>,
    kept: Kept,
    said: (String, String),
) -> Result<HttpResponse, PageError> {
    let (done, said) = match &result {
        Ok(Added::Invited(_)) => ("invited", said.1),
        _ => (section, said.0),
    };
    let result = result.map(drop);
    finish_as(
        viewer,
        accounts,
        stores,
        org,
        user,
        section,
        done,
        result,
        kept,
        Some(said),
    )
    .await
}

/// [`finish`], with `done` naming the notice shown after a success.
#[allow(clippy::too_many_arguments)]
async fn finish_as(
    viewer: &Viewer,
    accounts: &Accounts,
    stores: &Stores,
    org: &Org,
    user: &User,
    section: &'static str,
    done: &'static str,
    result: AccountsResult<()>,
    kept: Kept,
    said: Option<String>,
) -> Result<HttpResponse, PageError> {
    match result {
        Ok(()) => {
            let said = match said {
                Some(text) => format!(
                    "&said={}",
                    put_flash(viewer, accounts, NOTICE_FLASH, &text).await?
                ),
                None => String::new(),
            };
            Ok(see_other(&format!(
                "/o/{}/settings?done={done}{said}#{section}",
                org.name
            )))
        }
        Err(AccountsError::Forbidden) => Err(PageError::forbidden(
            "Only the organization's owners can manage it.",
        )),
        Err(e) => {
            let message = inline(e)?;
            settings_page(
                viewer,
                accounts,
                stores,
                org,
                user,
                StatusCode::UNPROCESSABLE_ENTITY,
                Outcome {
                    notice: None,
                    error: Some((section, message)),
                    kept,
                    retention: None,
                },
            )
            .await
        }
    }
}

#[derive(Deserialize)]
pub struct MemberForm {
    #[serde(default)]
    csrf: String,
    username: String,
    #[serde(default)]
    role: String,
}

pub async fn set_member(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    stores: Stores,
    path: web::Path<String>,
    form: web::Form<MemberForm>,
) -> Result<HttpResponse, PageError> {
    let (org, user) = start(&viewer, &accounts, &path, &form.csrf).await?;
    let result = match Role::parse(&form.role) {
        Ok(role) => orgs::set_member(&accounts.db, &org, user, form.username.trim(), role).await,
        Err(e) => Err(e),
    };
    let kept = Kept {
        member: form.username.clone(),
        ..Kept::default()
    };
    let who = form.username.trim();
    let said = (
        format!("{who} is now {} of {}.", a_role(&form.role), org.name),
        format!(
            "{who} was invited to {}. They join when they accept, within 7 days.",
            org.name
        ),
    );
    finish_added(
        &viewer, &accounts, &stores, &org, user, "members", result, kept, said,
    )
    .await
}

#[derive(Deserialize)]
pub struct InvitationForm {
    #[serde(default)]
    csrf: String,
    id: i64,
}

pub async fn cancel_invitation(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    stores: Stores,
    path: web::Path<String>,
    form: web::Form<InvitationForm>,
) -> Result<HttpResponse, PageError> {
    let (org, user) = start(&viewer, &accounts, &path, &form.csrf).await?;
    let result = invitations::cancel(&accounts.db, &org, user, form.id).await;
    finish_as(
        &viewer,
        &accounts,
        &stores,
        &org,
        user,
        "members",
        "cancelled",
        result,
        Kept::default(),
        None,
    )
    .await
}

pub async fn remove_member(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    stores: Stores,
    path: web::Path<String>,
    form: web::Form<MemberForm>,
) -> Result<HttpResponse, PageError> {
    let (org, user) = start(&viewer, &accounts, &path, &form.csrf).await?;
    let who = form.username.trim();
    let result = orgs::remove_member(&accounts.db, &org, user, who).await;
    let said = format!("{who} was removed from {}.", org.name);
    finish_said(
        &viewer, &accounts, &stores, &org, user, "members", result, said,
    )
    .await
}

#[derive(Deserialize)]
pub struct TeamForm {
    #[serde(default)]
    csrf: String,
    team: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    repository: String,
    #[serde(default)]
    permission: String,
}

pub async fn create_team(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    stores: Stores,
    path: web::Path<String>,
    form: web::Form<TeamForm>,
) -> Result<HttpResponse, PageError> {
    let (org, user) = start(&viewer, &accounts, &path, &form.csrf).await?;
    let result = orgs::create_team(&accounts.db, &org, user, form.team.trim())
        .await
        .map(drop);
    let kept = Kept {
        team: form.team.clone(),
        ..Kept::default()
    };
    let said = format!("Team {} was created.", form.team.trim());
    finish_as(
        &viewer,
        &accounts,
        &stores,
        &org,
        user,
        "teams",
        "teams",
        result,
        kept,
        Some(said),
    )
    .await
}

pub async fn add_team_member(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    stores: Stores,
    path: web::Path<String>,
    form: web::Form<TeamForm>,
) -> Result<HttpResponse, PageError> {
    let (org, user) = start(&viewer, &accounts, &path, &form.csrf).await?;
    let who = form.username.trim();
    let result = orgs::add_team_member(&accounts.db, &org, user, &form.team, who).await;
    let said = (
        format!("{who} was added to team {}.", form.team),
        format!(
            "{who} was invited to team {}. They join when they accept, within 7 days.",
            form.team
        ),
    );
    finish_added(
        &viewer,
        &accounts,
        &stores,
        &org,
        user,
        "teams",
        result,
        Kept::default(),
        said,
    )
    .await
}

pub async fn remove_team_member(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    stores: Stores,
    path: web::Path<String>,
    form: web::Form<TeamForm>,
) -> Result<HttpResponse, PageError> {
    let (org, user) = start(&viewer, &accounts, &path, &form.csrf).await?;
    let who = form.username.trim();
    let result = orgs::remove_team_member(&accounts.db, &org, user, &form.team, who).await;
    let said = format!("{who} was removed from team {}.", form.team);
    finish_said(
        &viewer, &accounts, &stores, &org, user, "teams", result, said,
    )
    .await
}

/// A repository field may hold the full name (`acme/app`) or the name inside the organization.
fn inside<'a>(org: &Org, repository: &'a str) -> &'a str {
    let repository = repository.trim();
    repository
        .strip_prefix(org.name.as_str())
        .and_then(|r| r.strip_prefix('/'))
        .unwrap_or(repository)
}

pub async fn set_grant(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    stores: Stores,
    path: web::Path<String>,
    form: web::Form<TeamForm>,
) -> Result<HttpResponse, PageError> {
    let (org, user) = start(&viewer, &accounts, &path, &form.csrf).await?;
    let result = match Permission::parse_grant(&form.permission) {
        Ok(p) => {
            let repository = inside(&org, &form.repository);
            orgs::set_team_permission(&accounts.db, &org, user, &form.team, repository, p).await
        }
        Err(e) => Err(e),
    };
    finish(
        &viewer,
        &accounts,
        &stores,
        &org,
        user,
        "teams",
        result,
        Kept::default(),
    )
    .await
}

pub async fn remove_grant(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    stores: Stores,
    path: web::Path<String>,
    form: web::Form<TeamForm>,
) -> Result<HttpResponse, PageError> {
    let (org, user) = start(&viewer, &accounts, &path, &form.csrf).await?;
    let repository = inside(&org, &form.repository);
    let result =
        orgs::remove_team_permission(&accounts.db, &org, user, &form.team, repository).await;
    finish(
        &viewer,
        &accounts,
        &stores,
        &org,
        user,
        "teams",
        result,
        Kept::default(),
    )
    .await
}

#[derive(Deserialize)]
pub struct RobotForm {
    #[serde(default)]
    csrf: String,
    name: String,
    /// One grant a line: `app read`, `app write` or `app admin`.
    #[serde(default)]
    grants: String,
}

fn parse_grants(org: &Org, text: &str) -> AccountsResult<Vec<(String, Permission)>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| {
            let mut parts = line.split([' ', ':', '\t']).filter(|p| !p.is_empty());
            match (parts.next(), parts.next(), parts.next()) {
                (Some(repo), Some(p), None) => {
                    Ok((inside(org, repo).to_owned(), Permission::parse_grant(p)?))
                }
                _ => Err(AccountsError::Invalid(format!(
                    "write each grant as a repository and a permission, like `app read`, not {line:?}"
                ))),
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "robot_created.html")]
struct RobotCreated {
    chrome: Chrome,
    /// Where `docker login` goes.
    host: String,
    org: String,
    /// `None` once the secret has been shown.
    shown: Option<ShownRobot>,
}

/// A new robot as its one showing needs it, kept in a flash between the form's `POST` and the
/// `GET` it redirects to.
#[derive(Serialize, Deserialize)]
struct ShownRobot {
    name: String,
    grants: String,
    token: String,
}

/// The flash kind of a new robot.
const ROBOT_FLASH: &str = "robot";

/// Creates a robot, then redirects to the page that shows its secret, once.
pub async fn create_robot(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    stores: Stores,
    path: web::Path<String>,
    form: web::Form<RobotForm>,
) -> Result<HttpResponse, PageError> {
    let (org, user) = start(&viewer, &accounts, &path, &form.csrf).await?;
    let created = match parse_grants(&org, &form.grants) {
        Ok(grants) => robots::create(&accounts.db, &org, user, form.name.trim(), &grants).await,
        Err(e) => Err(e),
    };
    let robot = match created {
        Ok(r) => r,
        Err(e) => {
            let kept = Kept {
                robot: form.name.clone(),
                robot_grants: form.grants.clone(),
                ..Kept::default()
            };
            return finish(
                &viewer,
                &accounts,
                &stores,
                &org,
                user,
                "robots",
                Err(e),
                kept,
            )
            .await;
        }
    };
    let shown = ShownRobot {
        grants: RobotRow::from(&robot.info).grants,
        name: robot.info.name,
        token: robot.token,
    };
    let id = put_flash(&viewer, &accounts, ROBOT_FLASH, &shown).await?;
    Ok(see_other(&format!(
        "/o/{}/settings/robots/created/{id}",
        org.name
    )))
}

/// `GET /o/{org}/settings/robots/created/{flash}`: the new robot's secret the first time, and
/// after that a page saying it is not shown again.
pub async fn robot_created(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    site: web::Data<Site>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (org, id) = path.into_inner();
    let org = load_org(&accounts, &org).await?;
    if viewer.user.is_none() {
        return Ok(login_first(&format!("/o/{}/settings", org.name)));
    }
    let page = RobotCreated {
        chrome: viewer.chrome.clone(),
        host: site.registry_host().to_owned(),
        org: org.name,
        shown: take_flash(&viewer, &accounts, ROBOT_FLASH, &id).await?,
    };
    Ok(no_store(render(&viewer, StatusCode::OK, &page)?))
}

pub async fn revoke_robot(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    stores: Stores,
    path: web::Path<String>,
    form: web::Form<RobotForm>,
) -> Result<HttpResponse, PageError> {
    let (org, user) = start(&viewer, &accounts, &path, &form.csrf).await?;
    let result = robots::revoke(&accounts.db, &org, user, form.name.trim()).await;
    let said = format!("Robot {}+{} was revoked.", org.name, form.name.trim());
    finish_said(
        &viewer, &accounts, &stores, &org, user, "robots", result, said,
    )
    .await
}

/// `owner` or `a member`, as the notice after a role change says it.
fn a_role(role: &str) -> &'static str {
    match role {
        "owner" => "an owner",
        _ => "a member",
    }
}

#[derive(Deserialize)]
pub struct ProfileForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    url: String,
}

/// `POST /o/{org}/settings/profile`: the description and web address.
pub async fn save_profile(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    stores: Stores,
    path: web::Path<String>,
    form: web::Form<ProfileForm>,
) -> Result<HttpResponse, PageError> {
    let (org, user) = start(&viewer, &accounts, &path, &form.csrf).await?;
    let result = profile::set(&accounts.db, &org, user, &form.description, &form.url)
        .await
        .map(drop);
    let kept = Kept {
        profile: Some(Profile {
            description: form.description.clone(),
            url: form.url.clone(),
        }),
        ..Kept::default()
    };
    finish(
        &viewer, &accounts, &stores, &org, user, "profile", result, kept,
    )
    .await
}

#[derive(Deserialize)]
pub struct ImmutableForm {
    #[serde(default)]
    csrf: String,
    /// One pattern a line.
    #[serde(default)]
    patterns: String,
}

/// Replaces the organization's immutable tag patterns (owners only), audited.
pub async fn immutable_tags(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    stores: Stores,
    path: web::Path<String>,
    form: web::Form<ImmutableForm>,
) -> Result<HttpResponse, PageError> {
    let (org, user) = start(&viewer, &accounts, &path, &form.csrf).await?;
    if !orgs::can_manage(&accounts.db, &org, user).await? {
        return Err(PageError::forbidden(
            "Only the organization's owners can manage it.",
        ));
    }
    let result = match Patterns::from_lines(&form.patterns) {
        Ok(patterns) => {
            immutable::replace(
                &stores.registry,
                Scope::Namespace(&org.name),
                &patterns,
                &user.name,
            )
            .await?;
            audit::record(
                &accounts.db,
                &user.name,
                "immutable_tags.update",
                &org.name,
                &patterns.to_string(),
            )
            .await
        }
        Err(e) => Err(AccountsError::Invalid(e.to_string())),
    };
    let kept = Kept {
        immutable: Some(form.patterns.clone()),
        ..Kept::default()
    };
    finish(
        &viewer,
        &accounts,
        &stores,
        &org,
        user,
        "immutable",
        result,
        kept,
    )
    .await
}

#[derive(Deserialize)]
pub struct QuotaForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    unit: String,
    /// `set`, or `remove` (the form's second button).
    #[serde(default)]
    action: String,
}

/// The bytes a quota form asks for: `None` to remove the quota.
fn quota_bytes(form: &QuotaForm) -> AccountsResult<Option<i64>> {
    if form.action == "remove" {
        return Ok(None);
    }
    let unit: f64 = match form.unit.as_str() {
        "MiB" => (1u64 << 20) as f64,
        "GiB" => (1u64 << 30) as f64,
        "TiB" => (1u64 << 40) as f64,
        _ => return Err(AccountsError::Invalid("choose MiB, GiB or TiB".into())),
    };
    let amount: f64 = form
        .amount
        .trim()
        .parse()
        .ok()
        .filter(|a: &f64| a.is_finite() && *a >= 0.0)
        .ok_or_else(|| {
            AccountsError::Invalid("the quota is a number, like 10 or 2.5, and not negative".into())
        })?;
    let bytes = (amount * unit).round();
    // Every f64 below 2^63 converts exactly into an i64.
    if bytes >= 9.223_372_036_854_776e18 {
        return Err(AccountsError::Invalid("that quota is too large".into()));
    }
    Ok(Some(bytes as i64))
}

/// Sets or removes the organization's storage quota (site administrators only: its owners
/// see it, read-only).
pub async fn set_quota(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    stores: Stores,
    hub: web::Data<Hub>,
    path: web::Path<String>,
    form: web::Form<QuotaForm>,
) -> Result<HttpResponse, PageError> {
    let (org, user) = start(&viewer, &accounts, &path, &form.csrf).await?;
    if !user.is_admin {
        return Err(PageError::forbidden(
            "Only the site's administrators can change storage quotas.",
        ));
    }
    let result = match quota_bytes(&form) {
        Ok(bytes) => hub.set_quota(user, &org.name, bytes).await.map(drop),
        Err(e) => Err(e),
    };
    finish(
        &viewer,
        &accounts,
        &stores,
        &org,
        user,
        "storage",
        result,
        Kept::default(),
    )
    .await
}

#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirm_name: String,
}

/// Deletes the organization with its repositories, in one transaction (owners only).
pub async fn delete_org(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    stores: Stores,
    hub: web::Data<Hub>,
    path: web::Path<String>,
    form: web::Form<DeleteForm>,
) -> Result<HttpResponse, PageError> {
    let (org, user) = start(&viewer, &accounts, &path, &form.csrf).await?;
    if !orgs::can_manage(&accounts.db, &org, user).await? {
        return Err(PageError::forbidden(
            "Only the organization's owners can delete it.",
        ));
    }
    if form.confirm_name.trim() != org.name {
        let result = Err(AccountsError::Invalid(format!(
            "type the organization's name, {}, to confirm",
            org.name
        )));
        return finish(
            &viewer,
            &accounts,
            &stores,
            &org,
            user,
            "delete",
            result,
            Kept::default(),
        )
        .await;
    }
    hub.delete_org(&org, user, true).await?;
    Ok(see_other(&format!("/u/{}", user.name)))
}

/// The retention card of the organization's namespace as saved.
async fn retention_card(registry: &Registry, org: &Org) -> Result<Card, PageError> {
    let own = rules::get(registry.meta(), rules::Scope::Namespace(&org.name)).await?;
    Ok(Card::saved(
        format!("/o/{}/settings/retention", org.name),
        format!(
            "every repository of {} without a policy of its own",
            org.name
        ),
        own.as_ref(),
    ))
}

#[derive(Deserialize)]
pub struct RetentionPost {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    form: RetentionForm,
}

/// What a retention form asks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RetentionAction {
    Save,
    Preview,
    Remove,
}

pub async fn save_retention(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    stores: Stores,
    path: web::Path<String>,
    form: web::Form<RetentionPost>,
) -> Result<HttpResponse, PageError> {
    retention_form(
        &viewer,
        &accounts,
        &stores,
        &path,
        &form,
        RetentionAction::Save,
    )
    .await
}

pub async fn preview_retention(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    stores: Stores,
    path: web::Path<String>,
    form: web::Form<RetentionPost>,
) -> Result<HttpResponse, PageError> {
    retention_form(
        &viewer,
        &accounts,
        &stores,
        &path,
        &form,
        RetentionAction::Preview,
    )
    .await
}

pub async fn remove_retention(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    stores: Stores,
    path: web::Path<String>,
    form: web::Form<RetentionPost>,
) -> Result<HttpResponse, PageError> {
    retention_form(
        &viewer,
        &accounts,
        &stores,
        &path,
        &form,
        RetentionAction::Remove,
    )
    .await
}

/// Saves, previews or removes the namespace's retention policy (owners only). A preview, or a
/// policy refused, draws the page again with what was entered.
async fn retention_form(
    viewer: &Viewer,
    accounts: &Accounts,
    stores: &Stores,
    org: &str,
    post: &RetentionPost,
    action: RetentionAction,
) -> Result<HttpResponse, PageError> {
    let (org, user) = start(viewer, accounts, org, &post.csrf).await?;
    if !orgs::can_manage(&accounts.db, &org, user).await? {
        return Err(PageError::forbidden(
            "Only the organization's owners can manage it.",
        ));
    }
    let meta = stores.registry.meta();
    let scope = rules::Scope::Namespace(&org.name);
    if action == RetentionAction::Remove {
        if rules::remove(meta, scope).await? {
            retention::audit(accounts, &user.name, &org.name, None).await?;
        }
        return Ok(see_other(&format!(
            "/o/{}/settings?done=retention-removed#retention",
            org.name
        )));
    }
    let entered = retention_card(&stores.registry, &org)
        .await?
        .entered(&post.form);
    let card = match post.form.policy() {
        Err(message) => Card {
            error: Some(message),
            ..entered
        },
        Ok(policy) if action == RetentionAction::Save => {
            rules::put(meta, scope, &policy, &user.name).await?;
            retention::audit(accounts, &user.name, &org.name, Some(policy.policy())).await?;
            return Ok(see_other(&format!(
                "/o/{}/settings?done=retention#retention",
                org.name
            )));
        }
        Ok(policy) => {
            let now = berth_registry::clock::now();
            let plans = rules::preview_namespace(meta, &org.name, &policy, now).await?;
            Card {
                preview: Some(Preview::of_namespace(plans)),
                ..entered
            }
        }
    };
    let status = if card.error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    settings_page(
        viewer,
        accounts,
        stores,
        &org,
        user,
        status,
        Outcome {
            retention: Some(card),
            ..Outcome::default()
        },
    )
    .await
}
