//! Organizations, their members, teams, team grants and robot accounts, and the invitations
//! that bring people into them.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use berth_accounts::access::{Identity, Permission, Role, Scope};
use berth_accounts::orgs::invitations;
use berth_accounts::users::User;
use berth_accounts::{orgs, robots, Accounts};
use berth_hub::Hub;
use berth_registry::Registry;
use serde::Deserialize;

use super::{identity, user, ApiError};

/// The signed-in user, allowed to change organizations: by password or a read-write-delete
/// token (a narrower token only works the registry).
async fn manager(accounts: &Accounts, req: &HttpRequest) -> Result<User, ApiError> {
    let (me, identity) = user(accounts, req).await?;
    require_full(&identity)?;
    Ok(me)
}

fn require_full(identity: &Identity) -> Result<(), ApiError> {
    match identity.scope {
        None | Some(Scope::ReadWriteDelete) => Ok(()),
        Some(_) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only a password or a read-write-delete token can manage organizations",
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOrg {
    name: String,
    /// A site administrator hands a namespace that already holds content to the new
    /// organization.
    #[serde(default)]
    claim: bool,
}

pub async fn create(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    body: web::Json<NewOrg>,
) -> Result<HttpResponse, ApiError> {
    let me = manager(&accounts, &req).await?;
    let org = if body.claim {
        orgs::claim(&accounts.db, &me, &body.name).await?
    } else {
        orgs::create(&accounts.db, &me, &body.name).await?
    };
    Ok(HttpResponse::Created().json(org))
}

/// Anyone may learn that an organization exists; its members also see its members, teams,
/// storage usage and quota.
pub async fn get(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    registry: web::Data<Registry>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let caller = identity(&accounts, &req).await?;
    let org = orgs::get(&accounts.db, &path).await?;
    let profile = orgs::profile::get(&accounts.db, &org).await?;
    let insider = match &caller.user {
        Some(u) => orgs::can_see_members(&accounts.db, &org, u).await?,
        None => false,
    };
    if !insider {
        // What an organization says about itself is public; fields it left empty are left out.
        let mut public = serde_json::json!({ "name": org.name });
        for (key, value) in [("description", profile.description), ("url", profile.url)] {
            if !value.is_empty() {
                public[key] = value.into();
            }
        }
        return Ok(HttpResponse::Ok().json(public));
    }
    let members = orgs::members(&accounts.db, &org).await?;
    let teams = orgs::teams(&accounts.db, &org).await?;
    let quota = registry.meta().quota(&org.name).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "id": org.id,
        "name": org.name,
        "description": profile.description,
        "url": profile.url,
        "created_at": org.created_at,
        "members": members,
        "teams": teams,
        "storage_bytes": quota.used,
        "quota_bytes": quota.limit(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    #[serde(default)]
    confirm: bool,
}

/// Deletes an organization. With repositories in its namespace only when `confirm=true`, and
/// then their tags and manifests go too (blobs are left to garbage collection): nobody who
/// later registers the name inherits the old content.
pub async fn delete(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    hub: web::Data<Hub>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let query = web::Query::<DeleteQuery>::from_query(req.query_string())
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let me = manager(&accounts, &req).await?;
    let org = orgs::get(&accounts.db, &path).await?;
    hub.delete_org(&org, &me, query.confirm).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Membership {
    role: String,
}

pub async fn set_member(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    path: web::Path<(String, String)>,
    body: web::Json<Membership>,
) -> Result<HttpResponse, ApiError> {
    let (org, member) = path.into_inner();
    let me = manager(&accounts, &req).await?;
    let role = Role::parse(&body.role)?;
    let org = orgs::get(&accounts.db, &org).await?;
    let added = orgs::set_member(&accounts.db, &org, &me, &member, role).await?;
    Ok(added_response(added))
}

/// A member changed: `204`. Someone who is not a member is invited instead: `202` with the
/// invitation, which they accept or decline on their own.
fn added_response(added: orgs::Added) -> HttpResponse {
    match added {
        orgs::Added::Done => HttpResponse::NoContent().finish(),
        orgs::Added::Invited(invitation) => HttpResponse::Accepted().json(invitation),
    }
}

pub async fn remove_member(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (org, member) = path.into_inner();
    let me = manager(&accounts, &req).await?;
    let org = orgs::get(&accounts.db, &org).await?;
    orgs::remove_member(&accounts.db, &org, &me, &member).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTeam {
    name: String,
}

pub async fn create_team(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    path: web::Path<String>,
    body: web::Json<NewTeam>,
) -> Result<HttpResponse, ApiError> {
    let me = manager(&accounts, &req).await?;
    let org = orgs::get(&accounts.db, &path).await?;
    let team = orgs::create_team(&accounts.db, &org, &me, &body.name).await?;
    Ok(HttpResponse::Created().json(team))
}

/// The teams, for the organization's members.
pub async fn list_teams(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (me, _) = user(&accounts, &req).await?;
    let org = orgs::get(&accounts.db, &path).await?;
    if !orgs::can_see_members(&accounts.db, &org, &me).await? {
        return Err(berth_accounts::Error::Forbidden.into());
    }
    Ok(HttpResponse::Ok().json(orgs::teams(&accounts.db, &org).await?))
}

pub async fn add_team_member(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (org, team, member) = path.into_inner();
    let me = manager(&accounts, &req).await?;
    let org = orgs::get(&accounts.db, &org).await?;
    let added = orgs::add_team_member(&accounts.db, &org, &me, &team, &member).await?;
    Ok(added_response(added))
}

pub async fn remove_team_member(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (org, team, member) = path.into_inner();
    let me = manager(&accounts, &req).await?;
    let org = orgs::get(&accounts.db, &org).await?;
    orgs::remove_team_member(&accounts.db, &org, &me, &team, &member).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    permission: String,
}

/// `repo` is the repository's name inside the organization (`app` for `acme/app`).
pub async fn set_team_permission(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    path: web::Path<(String, String, String)>,
    body: web::Json<Grant>,
) -> Result<HttpResponse, ApiError> {
    let (org, team, repo) = path.into_inner();
    let me = manager(&accounts, &req).await?;
    let permission = Permission::parse_grant(&body.permission)?;
    let org = orgs::get(&accounts.db, &org).await?;
    orgs::set_team_permission(&accounts.db, &org, &me, &team, &repo, permission).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn remove_team_permission(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (org, team, repo) = path.into_inner();
    let me = manager(&accounts, &req).await?;
    let org = orgs::get(&accounts.db, &org).await?;
    orgs::remove_team_permission(&accounts.db, &org, &me, &team, &repo).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RobotGrant {
    /// The name inside the organization (`app` for `acme/app`).
    repository: String,
    permission: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRobot {
    name: String,
    #[serde(default)]
    permissions: Vec<RobotGrant>,
}

/// Creates a robot account; the answer holds its secret, shown this once.
pub async fn create_robot(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    path: web::Path<String>,
    body: web::Json<NewRobot>,
) -> Result<HttpResponse, ApiError> {
    let me = manager(&accounts, &req).await?;
    let permissions = body
        .permissions
        .iter()
        .map(|g| {
            Ok((
                g.repository.clone(),
                Permission::parse_grant(&g.permission)?,
            ))
        })
        .collect::<Result<Vec<_>, berth_accounts::Error>>()?;
    let org = orgs::get(&accounts.db, &path).await?;
    let created = robots::create(&accounts.db, &org, &me, &body.name, &permissions).await?;
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(created))
}

pub async fn list_robots(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let me = manager(&accounts, &req).await?;
    let org = orgs::get(&accounts.db, &path).await?;
    Ok(HttpResponse::Ok().json(robots::list(&accounts.db, &org, &me).await?))
}

/// Revokes a robot; `robot` is its name inside the organization or its full `org+name`.
pub async fn revoke_robot(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (org, robot) = path.into_inner();
    let me = manager(&accounts, &req).await?;
    let org = orgs::get(&accounts.db, &org).await?;
    let prefix = format!("{}+", org.name);
    let name = robot.strip_prefix(&prefix).unwrap_or(&robot);
    robots::revoke(&accounts.db, &org, &me, name).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The organization's pending invitations, for its owners.
pub async fn list_invitations(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let me = manager(&accounts, &req).await?;
    let org = orgs::get(&accounts.db, &path).await?;
    Ok(HttpResponse::Ok().json(invitations::of_org(&accounts.db, &org, &me).await?))
}

pub async fn cancel_invitation(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    path: web::Path<(String, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let me = manager(&accounts, &req).await?;
    let org = orgs::get(&accounts.db, &org).await?;
    invitations::cancel(&accounts.db, &org, &me, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The invitations waiting for the signed-in user's answer.
pub async fn my_invitations(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
) -> Result<HttpResponse, ApiError> {
    let (me, _) = user(&accounts, &req).await?;
    Ok(HttpResponse::Ok().json(invitations::of_user(&accounts.db, &me).await?))
}

/// Accepting joins an organization (and a team), so it takes what managing one takes: a
/// password or a read-write-delete token.
pub async fn accept_invitation(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let me = manager(&accounts, &req).await?;
    invitations::accept(&accounts.db, &me, *path).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn decline_invitation(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let me = manager(&accounts, &req).await?;
    invitations::decline(&accounts.db, &me, *path).await?;
    Ok(HttpResponse::NoContent().finish())
}
