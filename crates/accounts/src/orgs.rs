//! Organizations: accounts of kind `org` whose namespace belongs to their members. Owners manage
//! the organization, its members, its teams and its robots; teams grant `read`, `write` or
//! `admin` on repositories of the organization's namespace (a grant may name a repository that
//! has not been pushed yet). Nobody is made a member without their consent: adding someone who
//! does not belong yet invites them (see [`invitations`]).

pub mod invitations;
pub mod profile;

use serde::Serialize;
use sqlx::AnyConnection;

use berth_registry::names::namespace_of;

use crate::access::{OrgAccess, Permission, Role};
use crate::error::{Error, Result};
use crate::users::{self, User};
use crate::Db;
use crate::{audit, names};
pub use invitations::Invitation;

#[derive(Debug, Clone, Serialize, PartialEq, Eq, sqlx::FromRow)]
pub struct Org {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub role: Role,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TeamGrant {
    /// The full repository name (`acme/app`).
    pub repository: String,
    pub permission: &'static str,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Team {
    #[serde(skip)]
    pub id: i64,
    pub name: String,
    pub members: Vec<String>,
    pub repositories: Vec<TeamGrant>,
}

/// A member's name and role, or an organization's name and the user's role in it.
#[derive(sqlx::FromRow)]
struct NameRole {
    name: String,
    role: String,
}

/// An organization and the user's role in it.
#[derive(sqlx::FromRow)]
struct OrgRole {
    #[sqlx(flatten)]
    org: Org,
    role: String,
}

#[derive(sqlx::FromRow)]
struct TeamRow {
    id: i64,
    name: String,
}

#[derive(sqlx::FromRow)]
struct TeamMemberRow {
    team_id: i64,
    name: String,
}

/// A stored grant (a team's or a robot's): a repository and the permission on it.
#[derive(sqlx::FromRow)]
pub(crate) struct GrantRow {
    repository: String,
    permission: String,
}

impl GrantRow {
    pub(crate) fn parse(self) -> Result<(String, Permission)> {
        let permission = Permission::parse_grant(&self.permission)?;
        Ok((self.repository, permission))
    }
}

#[derive(sqlx::FromRow)]
struct TeamGrantRow {
    team_id: i64,
    #[sqlx(flatten)]
    grant: GrantRow,
}

/// Team and robot names: 2–30 lowercase letters and digits with single `-`, `_` or `.`
/// separators between them.
pub fn validate_short_name(what: &str, name: &str) -> Result<()> {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let sep = |c: char| c == '-' || c == '_' || c == '.';
    let ok = (2..=30).contains(&name.len())
        && name.chars().all(|c| alnum(c) || sep(c))
        && name.chars().next().is_some_and(alnum)
        && name.chars().last().is_some_and(alnum)
        && !name
            .as_bytes()
            .windows(2)
            .any(|w| sep(w[0] as char) && sep(w[1] as char));
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "invalid {what} name {name:?}: use 2 to 30 lowercase letters and digits, \
             with single separators - _ . between them"
        )))
    }
}

/// The full name of `repository` (a name inside `org`), checked against the registry's grammar.
pub fn repository_in(org: &Org, repository: &str) -> Result<String> {
    let full = format!("{}/{}", org.name, repository);
    if repository.is_empty() || berth_registry::names::validate_name(&full).is_err() {
        return Err(Error::Invalid(format!(
            "invalid repository name {repository:?} (give the name inside the organization, \
             like `app` for `{}/app`)",
            org.name
        )));
    }
    Ok(full)
}

/// An organization as the site administrators' list shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct OrgSummary {
    pub name: String,
    pub created_at: i64,
    pub members: i64,
    pub repositories: i64,
}

/// One page of every organization, by name, with its member and repository counts (each an
/// indexed count).
pub async fn list_with_counts(db: &Db, offset: i64, limit: i64) -> Result<Vec<OrgSummary>> {
    Ok(sqlx::query_as::<_, OrgSummary>(
        "SELECT a.name, a.created_at,
                (SELECT COUNT(*) FROM org_members m WHERE m.org_id = a.id) AS members,
                (SELECT COUNT(*) FROM repository_settings r WHERE r.namespace = a.name)
                    AS repositories
         FROM accounts a WHERE a.kind = 'org' ORDER BY a.name LIMIT $1 OFFSET $2",
    )
    .bind(limit)
    .bind(offset)
    .fetch_all(&db.pool)
    .await?)
}

pub async fn by_name(db: &Db, name: &str) -> Result<Option<Org>> {
    let pool = &db.pool;
    Ok(sqlx::query_as::<_, Org>(
        "SELECT id, name, created_at FROM accounts WHERE name = $1 AND kind = 'org'",
    )
    .bind(name)
    .fetch_optional(pool)
    .await?)
}

/// The organization, or `NotFound`.
pub async fn get(db: &Db, name: &str) -> Result<Org> {
    by_name(db, name)
        .await?
        .ok_or_else(|| Error::NotFound(format!("organization {name}")))
}

/// Creates an organization with `creator` as its first owner.
pub async fn create(db: &Db, creator: &User, name: &str) -> Result<Org> {
    create_org(db, creator, name, false).await
}

/// A site administrator creates an organization over a namespace that already holds content
/// (see [`names::ensure_unclaimed`]), handing that content to it deliberately. Audited.
pub async fn claim(db: &Db, admin: &User, name: &str) -> Result<Org> {
    if !admin.is_admin {
        return Err(Error::Forbidden);
    }
    create_org(db, admin, name, true).await
}

/// Creates an organization owned by `creator`; with `claim`, also over a namespace that holds
/// content. Callers decide who may claim: [`claim`] for the API, the command line for whoever
/// runs it.
pub async fn create_org(db: &Db, creator: &User, name: &str, claim: bool) -> Result<Org> {
    let pool = &db.pool;
    names::validate(name)?;
    if !creator.active {
        return Err(Error::Forbidden);
    }
    let now = crate::now();
    let mut tx = pool.begin().await?;
    // The write comes first, so the transaction holds the write lock before it reads (SQLite
    // cannot upgrade a read snapshot that a concurrent writer overtook).
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO accounts (name, kind, is_admin, active, created_at)
         VALUES ($1, 'org', 0, 1, $2)
         ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(name)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(id) = id else {
        return Err(Error::Conflict(format!("an account named {name}")));
    };
    if !claim {
        names::ensure_unclaimed(&mut tx, name).await?;
    }
    sqlx::query(
        "INSERT INTO org_members (org_id, user_id, role, created_at) VALUES ($1, $2, 'owner', $3)",
    )
    .bind(id)
    .bind(creator.id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    audit::record(
        db,
        &creator.name,
        if claim { "org.claim" } else { "org.create" },
        name,
        "",
    )
    .await?;
    Ok(Org {
        id,
        name: name.to_owned(),
        created_at: now,
    })
}

/// The user's role in the organization, if they belong to it.
pub async fn role(db: &Db, org: &Org, user_id: i64) -> Result<Option<Role>> {
    let pool = &db.pool;
    let role: Option<String> =
        sqlx::query_scalar("SELECT role FROM org_members WHERE org_id = $1 AND user_id = $2")
            .bind(org.id)
            .bind(user_id)
            .fetch_optional(pool)
            .await?;
    role.as_deref().map(Role::parse).transpose()
}

/// Whether `user` may manage `org`: its owners, and the registry's administrators.
pub async fn can_manage(db: &Db, org: &Org, user: &User) -> Result<bool> {
    if !user.active {
        return Ok(false);
    }
    Ok(user.is_admin || role(db, org, user.id).await? == Some(Role::Owner))
}

async fn require_owner(db: &Db, org: &Org, actor: &User) -> Result<()> {
    if can_manage(db, org, actor).await? {
        Ok(())
    } else {
        Err(Error::Forbidden)
    }
}

/// Whether `user` may see the organization's members and teams: its members and administrators.
pub async fn can_see_members(db: &Db, org: &Org, user: &User) -> Result<bool> {
    Ok(user.active && (user.is_admin || role(db, org, user.id).await?.is_some()))
}

async fn user_named(db: &Db, name: &str) -> Result<User> {
    users::by_name(db, name)
        .await?
        .ok_or_else(|| Error::NotFound(format!("user {name}")))
}

pub async fn members(db: &Db, org: &Org) -> Result<Vec<Member>> {
    let pool = &db.pool;
    let rows = sqlx::query_as::<_, NameRole>(
        "SELECT a.name, m.role FROM org_members m JOIN accounts a ON a.id = m.user_id
         WHERE m.org_id = $1 ORDER BY a.name",
    )
    .bind(org.id)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(Member {
                name: r.name,
                role: Role::parse(&r.role)?,
            })
        })
        .collect()
}

/// The organizations `user_id` belongs to, with their role in each, by name.
pub async fn of_user(db: &Db, user_id: i64) -> Result<Vec<(Org, Role)>> {
    let pool = &db.pool;
    let rows = sqlx::query_as::<_, OrgRole>(
        "SELECT a.id, a.name, a.created_at, m.role FROM org_members m
         JOIN accounts a ON a.id = m.org_id
         WHERE m.user_id = $1 AND a.kind = 'org' ORDER BY a.name",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|r| Ok((r.org, Role::parse(&r.role)?)))
        .collect()
}

/// Starts a transaction that holds the organization's row lock (PostgreSQL) or the write lock
/// (SQLite) from its first statement, so membership changes of one organization run one at a
/// time and the last-owner checks inside them cannot race.
async fn locked(db: &Db, org_id: i64) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
    let pool = &db.pool;
    let mut tx = pool.begin().await?;
    lock(&mut tx, org_id).await?;
    Ok(tx)
}

/// What adding someone to an organization or a team did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Added {
    /// They were a member already: the change is made.
    Done,
    /// They were not: they are invited (a pending invitation asked for again is answered as
    /// is), and join when they accept.
    Invited(Invitation),
}

/// Whether `user_id` belongs to the organization, inside `tx`.
async fn is_member(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    org: &Org,
    user_id: i64,
) -> Result<bool> {
    let role: Option<String> =
        sqlx::query_scalar("SELECT role FROM org_members WHERE org_id = $1 AND user_id = $2")
            .bind(org.id)
            .bind(user_id)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(role.is_some())
}

/// Changes a member's role, or invites `user` to the organization with `role` if they are not
/// a member. Owners only; the last owner cannot be demoted.
pub async fn set_member(db: &Db, org: &Org, actor: &User, user: &str, role: Role) -> Result<Added> {
    require_owner(db, org, actor).await?;
    let user = user_named(db, user).await?;
    // Under the organization's lock, so two demotions cannot both see another owner left, and
    // a member removed meanwhile is invited rather than silently re-added.
    let mut tx = locked(db, org.id).await?;
    if !is_member(&mut tx, org, user.id).await? {
        let (invitation, new) = invitations::invite(&mut tx, org, actor, &user, None, role).await?;
        tx.commit().await?;
        if new {
            invitations::record_invite(db, actor, &invitation).await?;
        }
        return Ok(Added::Invited(invitation));
    }
    let done = sqlx::query(
        "UPDATE org_members SET role = $1 WHERE org_id = $2 AND user_id = $3
         AND ($4 = 'owner' OR role <> 'owner'
              OR (SELECT COUNT(*) FROM org_members o WHERE o.org_id = $5 AND o.role = 'owner') > 1)",
    )
    .bind(role.as_str())
    .bind(org.id)
    .bind(user.id)
    .bind(role.as_str())
    .bind(org.id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(Error::Conflict(format!(
            "{} is the last owner of {}: another owner",
            user.name, org.name
        )));
    }
    tx.commit().await?;
    audit::record(
        db,
        &actor.name,
        "org.member.set",
        &format!("{}:{}", org.name, user.name),
        role.as_str(),
    )
    .await?;
    Ok(Added::Done)
}

/// Removes `user` from the organization and its teams. Owners may remove anyone; a member may
/// leave. The last owner can do neither.
pub async fn remove_member(db: &Db, org: &Org, actor: &User, user: &str) -> Result<()> {
    let leaving = actor.name == user;
    if !leaving {
        require_owner(db, org, actor).await?;
    }
    let user = user_named(db, user).await?;
    let mut tx = locked(db, org.id).await?;
    let done = sqlx::query(
        "DELETE FROM org_members WHERE org_id = $1 AND user_id = $2
         AND (role <> 'owner'
              OR (SELECT COUNT(*) FROM org_members o WHERE o.org_id = $3 AND o.role = 'owner') > 1)",
    )
    .bind(org.id)
    .bind(user.id)
    .bind(org.id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        let member: Option<String> =
            sqlx::query_scalar("SELECT role FROM org_members WHERE org_id = $1 AND user_id = $2")
                .bind(org.id)
                .bind(user.id)
                .fetch_optional(&mut *tx)
                .await?;
        return Err(match member {
            Some(_) => Error::Conflict(format!(
                "{} is the last owner of {}: another owner",
                user.name, org.name
            )),
            None => Error::NotFound(format!("member {} of {}", user.name, org.name)),
        });
    }
    sqlx::query(
        "DELETE FROM team_members WHERE user_id = $1
         AND team_id IN (SELECT id FROM teams WHERE org_id = $2)",
    )
    .bind(user.id)
    .bind(org.id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    audit::record(
        db,
        &actor.name,
        "org.member.remove",
        &format!("{}:{}", org.name, user.name),
        "",
    )
    .await
}

/// Takes the organization's row lock inside the caller's transaction: changes to its members
/// and its deletion happen one after another.
pub async fn lock(conn: &mut AnyConnection, org_id: i64) -> Result<()> {
    sqlx::query("UPDATE accounts SET id = id WHERE id = $1")
        .bind(org_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Removes the organization's account, members, teams, robots and invitations, inside the
/// caller's transaction (the Hub's deletion, which checks who asks and removes the rest).
pub async fn delete_of_org(conn: &mut AnyConnection, org: &Org) -> Result<()> {
    // Children first: nothing here relies on the database enforcing foreign keys.
    for sql in [
        "DELETE FROM robot_permissions WHERE robot_id IN (SELECT id FROM robots WHERE org_id = $1)",
        "DELETE FROM robots WHERE org_id = $1",
        "DELETE FROM team_repositories WHERE team_id IN (SELECT id FROM teams WHERE org_id = $1)",
        "DELETE FROM team_members WHERE team_id IN (SELECT id FROM teams WHERE org_id = $1)",
        "DELETE FROM org_invitations WHERE org_id = $1",
        "DELETE FROM org_profiles WHERE org_id = $1",
        "DELETE FROM teams WHERE org_id = $1",
        "DELETE FROM org_members WHERE org_id = $1",
        "DELETE FROM accounts WHERE id = $1 AND kind = 'org'",
    ] {
        sqlx::query(sql).bind(org.id).execute(&mut *conn).await?;
    }
    Ok(())
}

// Teams.

async fn team_id(db: &Db, org: &Org, team: &str) -> Result<i64> {
    let pool = &db.pool;
    sqlx::query_scalar("SELECT id FROM teams WHERE org_id = $1 AND name = $2")
        .bind(org.id)
        .bind(team)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| Error::NotFound(format!("team {team} of {}", org.name)))
}

pub async fn create_team(db: &Db, org: &Org, actor: &User, name: &str) -> Result<Team> {
    let pool = &db.pool;
    require_owner(db, org, actor).await?;
    validate_short_name("team", name)?;
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO teams (org_id, name, created_at) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(org.id)
    .bind(name)
    .bind(crate::now())
    .fetch_optional(pool)
    .await?;
    let Some(id) = id else {
        return Err(Error::Conflict(format!("team {name} of {}", org.name)));
    };
    audit::record(
        db,
        &actor.name,
        "team.create",
        &format!("{}:{name}", org.name),
        "",
    )
    .await?;
    Ok(Team {
        id,
        name: name.to_owned(),
        members: Vec::new(),
        repositories: Vec::new(),
    })
}

/// The organization's teams with their members and grants.
pub async fn teams(db: &Db, org: &Org) -> Result<Vec<Team>> {
    let pool = &db.pool;
    let rows =
        sqlx::query_as::<_, TeamRow>("SELECT id, name FROM teams WHERE org_id = $1 ORDER BY name")
            .bind(org.id)
            .fetch_all(pool)
            .await?;
    let mut teams: Vec<Team> = rows
        .into_iter()
        .map(|r| Team {
            id: r.id,
            name: r.name,
            members: Vec::new(),
            repositories: Vec::new(),
        })
        .collect();
    let members = sqlx::query_as::<_, TeamMemberRow>(
        "SELECT tm.team_id, a.name FROM team_members tm
         JOIN teams t ON t.id = tm.team_id JOIN accounts a ON a.id = tm.user_id
         WHERE t.org_id = $1 ORDER BY a.name",
    )
    .bind(org.id)
    .fetch_all(pool)
    .await?;
    for r in members {
        if let Some(t) = teams.iter_mut().find(|t| t.id == r.team_id) {
            t.members.push(r.name);
        }
    }
    let grants = sqlx::query_as::<_, TeamGrantRow>(
        "SELECT tr.team_id, tr.repository, tr.permission FROM team_repositories tr
         JOIN teams t ON t.id = tr.team_id WHERE t.org_id = $1 ORDER BY tr.repository",
    )
    .bind(org.id)
    .fetch_all(pool)
    .await?;
    for r in grants {
        let (repository, permission) = r.grant.parse()?;
        if let Some(t) = teams.iter_mut().find(|t| t.id == r.team_id) {
            t.repositories.push(TeamGrant {
                repository,
                permission: permission.grant_str(),
            });
        }
    }
    Ok(teams)
}

/// Adds a member of the organization to a team; one who is not a member is invited to the
/// team instead, and joins the organization and the team by accepting.
pub async fn add_team_member(
    db: &Db,
    org: &Org,
    actor: &User,
    team: &str,
    user: &str,
) -> Result<Added> {
    require_owner(db, org, actor).await?;
    let team_id = team_id(db, org, team).await?;
    let user = user_named(db, user).await?;
    let mut tx = locked(db, org.id).await?;
    if !is_member(&mut tx, org, user.id).await? {
        let (invitation, new) = invitations::invite(
            &mut tx,
            org,
            actor,
            &user,
            Some((team_id, team)),
            Role::Member,
        )
        .await?;
        tx.commit().await?;
        if new {
            invitations::record_invite(db, actor, &invitation).await?;
        }
        return Ok(Added::Invited(invitation));
    }
    sqlx::query(
        "INSERT INTO team_members (team_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(team_id)
    .bind(user.id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    audit::record(
        db,
        &actor.name,
        "team.member.add",
        &format!("{}:{team}", org.name),
        &user.name,
    )
    .await?;
    Ok(Added::Done)
}

pub async fn remove_team_member(
    db: &Db,
    org: &Org,
    actor: &User,
    team: &str,
    user: &str,
) -> Result<()> {
    let pool = &db.pool;
    require_owner(db, org, actor).await?;
    let team_id = team_id(db, org, team).await?;
    let user = user_named(db, user).await?;
    let done = sqlx::query("DELETE FROM team_members WHERE team_id = $1 AND user_id = $2")
        .bind(team_id)
        .bind(user.id)
        .execute(pool)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound(format!(
            "member {} of team {team}",
            user.name
        )));
    }
    audit::record(
        db,
        &actor.name,
        "team.member.remove",
        &format!("{}:{team}", org.name),
        &user.name,
    )
    .await
}

/// Grants a team `permission` on `repository`, a name inside the organization.
pub async fn set_team_permission(
    db: &Db,
    org: &Org,
    actor: &User,
    team: &str,
    repository: &str,
    permission: Permission,
) -> Result<()> {
    let pool = &db.pool;
    require_owner(db, org, actor).await?;
    let team_id = team_id(db, org, team).await?;
    let full = repository_in(org, repository)?;
    if permission == Permission::None {
        return Err(Error::Invalid(
            "a permission is read, write or admin".into(),
        ));
    }
    sqlx::query(
        "INSERT INTO team_repositories (team_id, repository, permission) VALUES ($1, $2, $3)
         ON CONFLICT (team_id, repository) DO UPDATE SET permission = excluded.permission",
    )
    .bind(team_id)
    .bind(&full)
    .bind(permission.grant_str())
    .execute(pool)
    .await?;
    audit::record(
        db,
        &actor.name,
        "team.permission.set",
        &format!("{}:{team}", org.name),
        &format!("{full}:{}", permission.grant_str()),
    )
    .await
}

pub async fn remove_team_permission(
    db: &Db,
    org: &Org,
    actor: &User,
    team: &str,
    repository: &str,
) -> Result<()> {
    let pool = &db.pool;
    require_owner(db, org, actor).await?;
    let team_id = team_id(db, org, team).await?;
    let full = repository_in(org, repository)?;
    let done = sqlx::query("DELETE FROM team_repositories WHERE team_id = $1 AND repository = $2")
        .bind(team_id)
        .bind(&full)
        .execute(pool)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound(format!("a grant on {full} to team {team}")));
    }
    audit::record(
        db,
        &actor.name,
        "team.permission.remove",
        &format!("{}:{team}", org.name),
        &full,
    )
    .await
}

// Access.

/// A user's roles in some organizations and their teams' grants there: what the access
/// decision needs to know about organizations.
#[derive(Debug, Clone, Default)]
pub struct Memberships {
    roles: Vec<(String, Role)>,
    grants: Vec<(String, Permission)>,
}

impl Memberships {
    /// Loads the user's standing in those of `namespaces` that are organizations.
    pub async fn load(db: &Db, user_id: i64, namespaces: &[&str]) -> Result<Memberships> {
        let pool = &db.pool;
        if namespaces.is_empty() {
            return Ok(Memberships::default());
        }
        let list = berth_registry::meta::placeholders(2, namespaces.len());
        let sql = format!(
            "SELECT a.name, m.role FROM org_members m JOIN accounts a ON a.id = m.org_id
             WHERE m.user_id = $1 AND a.kind = 'org' AND a.name IN ({list})"
        );
        let mut q = sqlx::query_as::<_, NameRole>(&sql).bind(user_id);
        for ns in namespaces {
            q = q.bind(*ns);
        }
        let roles = q
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|r| Ok((r.name, Role::parse(&r.role)?)))
            .collect::<Result<Vec<_>>>()?;
        if roles.is_empty() {
            return Ok(Memberships::default());
        }
        // Only grants of teams of organizations the user still belongs to.
        let sql = format!(
            "SELECT tr.repository, tr.permission FROM team_members tm
             JOIN teams t ON t.id = tm.team_id
             JOIN org_members m ON m.org_id = t.org_id AND m.user_id = tm.user_id
             JOIN accounts a ON a.id = t.org_id
             JOIN team_repositories tr ON tr.team_id = t.id
             WHERE tm.user_id = $1 AND a.name IN ({list})"
        );
        let mut q = sqlx::query_as::<_, GrantRow>(&sql).bind(user_id);
        for ns in namespaces {
            q = q.bind(*ns);
        }
        let grants = q
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(GrantRow::parse)
            .collect::<Result<Vec<_>>>()?;
        Ok(Memberships { roles, grants })
    }

    /// The standing these memberships give on `repository`.
    pub fn for_repository(&self, repository: &str) -> OrgAccess {
        let Some(ns) = namespace_of(repository) else {
            return OrgAccess::default();
        };
        let role = self.roles.iter().find(|(o, _)| o == ns).map(|(_, r)| *r);
        let team = self
            .grants
            .iter()
            .filter(|(r, _)| r == repository && namespace_of(r) == Some(ns))
            .map(|(_, p)| *p)
            .max()
            .unwrap_or(Permission::None);
        OrgAccess { role, team }
    }
}
