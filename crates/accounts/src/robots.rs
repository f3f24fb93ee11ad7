//! Robot accounts: `org+name` credentials for machines, made by the organization's owners, with
//! an explicit list of repositories of that organization and what they may do to each. The
//! secret is shown once and stored as a SHA-256; `docker login -u org+name -p <secret>` works.

use serde::Serialize;

use crate::access::{Permission, Robot};
use crate::audit;
use crate::error::{Error, Result};
use crate::orgs::{self, GrantRow, Org};
use crate::users::User;
use crate::Db;

/// Every robot secret starts with this, so a leaked one is easy to recognise.
pub const PREFIX: &str = "berth_robot_";

use crate::tokens::digest;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RobotGrant {
    /// The full repository name (`acme/app`).
    pub repository: String,
    pub permission: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct RobotInfo {
    pub id: i64,
    /// `org+name`.
    pub name: String,
    pub permissions: Vec<RobotGrant>,
    pub last_used_at: Option<i64>,
    pub created_at: i64,
}

/// A newly created robot: the only time its secret is seen.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedRobot {
    #[serde(flatten)]
    pub info: RobotInfo,
    pub token: String,
}

#[derive(sqlx::FromRow)]
struct RobotRow {
    id: i64,
    name: String,
    last_used_at: Option<i64>,
    created_at: i64,
}

/// What [`check`] needs of a live robot: its id and its two names.
#[derive(sqlx::FromRow)]
struct LiveRobot {
    id: i64,
    org_name: String,
    name: String,
}

fn grants(permissions: &[(String, Permission)]) -> Vec<RobotGrant> {
    permissions
        .iter()
        .map(|(r, p)| RobotGrant {
            repository: r.clone(),
            permission: p.grant_str(),
        })
        .collect()
}

/// Creates a robot of `org`. Only the organization's owners may, and only for repositories of
/// its namespace (given as names inside it, like `app`).
pub async fn create(
    db: &Db,
    org: &Org,
    actor: &User,
    name: &str,
    permissions: &[(String, Permission)],
) -> Result<CreatedRobot> {
    let pool = &db.pool;
    if !orgs::can_manage(db, org, actor).await? {
        return Err(Error::Forbidden);
    }
    orgs::validate_short_name("robot", name)?;
    let mut full: Vec<(String, Permission)> = Vec::new();
    for (repository, permission) in permissions {
        if *permission == Permission::None {
            return Err(Error::Invalid(
                "a permission is read, write or admin".into(),
            ));
        }
        let repository = orgs::repository_in(org, repository)?;
        if full.iter().any(|(r, _)| *r == repository) {
            return Err(Error::Invalid(format!("{repository} is listed twice")));
        }
        full.push((repository, *permission));
    }
    let secret = crate::tokens::new_secret(PREFIX)?;
    let now = crate::now();
    let mut tx = pool.begin().await?;
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO robots (org_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(org.id)
    .bind(name)
    .bind(digest(&secret))
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(id) = id else {
        return Err(Error::Conflict(format!("robot {}+{name}", org.name)));
    };
    for (repository, permission) in &full {
        sqlx::query(
            "INSERT INTO robot_permissions (robot_id, repository, permission) VALUES ($1, $2, $3)",
        )
        .bind(id)
        .bind(repository)
        .bind(permission.grant_str())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    let robot_name = format!("{}+{name}", org.name);
    let listed: Vec<String> = full
        .iter()
        .map(|(r, p)| format!("{r}:{}", p.grant_str()))
        .collect();
    audit::record(
        db,
        &actor.name,
        "robot.create",
        &robot_name,
        &listed.join(" "),
    )
    .await?;
    Ok(CreatedRobot {
        info: RobotInfo {
            id,
            name: robot_name,
            permissions: grants(&full),
            last_used_at: None,
            created_at: now,
        },
        token: secret,
    })
}

async fn permissions_of(db: &Db, robot_id: i64) -> Result<Vec<(String, Permission)>> {
    let pool = &db.pool;
    sqlx::query_as::<_, GrantRow>(
        "SELECT repository, permission FROM robot_permissions WHERE robot_id = $1 ORDER BY repository",
    )
    .bind(robot_id)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(GrantRow::parse)
    .collect()
}

/// The organization's live robots. Owners only.
pub async fn list(db: &Db, org: &Org, actor: &User) -> Result<Vec<RobotInfo>> {
    let pool = &db.pool;
    if !orgs::can_manage(db, org, actor).await? {
        return Err(Error::Forbidden);
    }
    let rows = sqlx::query_as::<_, RobotRow>(
        "SELECT id, name, last_used_at, created_at FROM robots
         WHERE org_id = $1 AND revoked_at IS NULL ORDER BY name",
    )
    .bind(org.id)
    .fetch_all(pool)
    .await?;
    let mut out = Vec::new();
    for r in rows {
        out.push(RobotInfo {
            id: r.id,
            name: format!("{}+{}", org.name, r.name),
            permissions: grants(&permissions_of(db, r.id).await?),
            last_used_at: r.last_used_at,
            created_at: r.created_at,
        });
    }
    Ok(out)
}

/// Revokes a robot (by its name inside the organization). Owners only.
pub async fn revoke(db: &Db, org: &Org, actor: &User, name: &str) -> Result<()> {
    let pool = &db.pool;
    if !orgs::can_manage(db, org, actor).await? {
        return Err(Error::Forbidden);
    }
    let done = sqlx::query(
        "UPDATE robots SET revoked_at = $3 WHERE org_id = $1 AND name = $2 AND revoked_at IS NULL",
    )
    .bind(org.id)
    .bind(name)
    .bind(crate::now())
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound(format!("robot {}+{name}", org.name)));
    }
    audit::record(
        db,
        &actor.name,
        "robot.revoke",
        &format!("{}+{name}", org.name),
        "",
    )
    .await
}

/// The live robot called `full_name` (`org+name`), if there is one.
pub async fn by_name(db: &Db, full_name: &str) -> Result<Option<Robot>> {
    let pool = &db.pool;
    let Some((org, name)) = full_name.split_once('+') else {
        return Ok(None);
    };
    let id: Option<i64> = sqlx::query_scalar(
        "SELECT r.id FROM robots r JOIN accounts a ON a.id = r.org_id
         WHERE a.name = $1 AND a.kind = 'org' AND r.name = $2 AND r.revoked_at IS NULL",
    )
    .bind(org)
    .bind(name)
    .fetch_optional(pool)
    .await?;
    let Some(id) = id else {
        return Ok(None);
    };
    Ok(Some(Robot {
        id,
        name: full_name.to_owned(),
        org: org.to_owned(),
        permissions: permissions_of(db, id).await?,
    }))
}

/// The robot a secret stands for, if it is live and `full_name` is its name (what
/// `docker login -u` sent); records its use.
pub async fn check(db: &Db, full_name: &str, secret: &str) -> Result<Option<Robot>> {
    let pool = &db.pool;
    if !secret.starts_with(PREFIX) {
        return Ok(None);
    }
    let row = sqlx::query_as::<_, LiveRobot>(
        "SELECT r.id, a.name AS org_name, r.name FROM robots r JOIN accounts a ON a.id = r.org_id
         WHERE r.token_hash = $1 AND r.revoked_at IS NULL AND a.kind = 'org'",
    )
    .bind(digest(secret))
    .fetch_optional(pool)
    .await?;
    let Some(LiveRobot {
        id,
        org_name: org,
        name,
    }) = row
    else {
        return Ok(None);
    };
    if format!("{org}+{name}") != full_name {
        return Ok(None);
    }
    sqlx::query("UPDATE robots SET last_used_at = $2 WHERE id = $1")
        .bind(id)
        .bind(crate::now())
        .execute(pool)
        .await?;
    Ok(Some(Robot {
        id,
        name: full_name.to_owned(),
        org,
        permissions: permissions_of(db, id).await?,
    }))
}
