//! Invitations: how someone comes to belong to an organization or one of its teams. An owner's
//! "add" only invites a person who is not yet a member; they join when they accept, and until
//! then the invitation grants nothing. Answering or cancelling an invitation deletes it (the
//! audit log keeps its story); one left unanswered for [`TTL_SECS`] lapses.

use serde::Serialize;

use super::{locked, require_owner, Org};
use crate::access::Role;
use crate::audit;
use crate::error::{Error, Result};
use crate::users::User;
use crate::Db;

/// How long an invitation waits for its answer: a week, as on Docker Hub.
pub const TTL_SECS: i64 = 7 * 86_400;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Invitation {
    pub id: i64,
    pub org: String,
    /// The team it invites to; `None` for the organization itself.
    pub team: Option<String>,
    /// Who is invited.
    pub user: String,
    /// The role in the organization the invitee gets by accepting (`member` for a team
    /// invitation; one who is a member already keeps their role).
    pub role: Role,
    pub invited_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    #[serde(skip)]
    pub org_id: i64,
    #[serde(skip)]
    pub team_id: Option<i64>,
}

impl Invitation {
    /// What the audit log says it was for: the role, or the team.
    fn detail(&self) -> String {
        match &self.team {
            Some(team) => format!("team {team}"),
            None => self.role.as_str().to_owned(),
        }
    }

    fn target(&self) -> String {
        format!("{}:{}", self.org, self.user)
    }
}

/// Three tables name a column `name`: each gets its own.
const COLUMNS: &str = "i.id, o.name AS org_name, t.name AS team_name, u.name AS user_name, \
     i.role, i.invited_by, i.created_at, i.expires_at, i.org_id, i.team_id";

/// The tables behind [`COLUMNS`]. A team invitation whose team is gone is gone too (SQLite
/// does not enforce the foreign key that would have deleted it).
const FROM: &str = "org_invitations i
     JOIN accounts o ON o.id = i.org_id
     JOIN accounts u ON u.id = i.user_id
     LEFT JOIN teams t ON t.id = i.team_id";

/// A row of [`COLUMNS`].
#[derive(sqlx::FromRow)]
struct InvitationRow {
    id: i64,
    org_name: String,
    team_name: Option<String>,
    user_name: String,
    role: String,
    invited_by: String,
    created_at: i64,
    expires_at: i64,
    org_id: i64,
    team_id: Option<i64>,
}

impl InvitationRow {
    fn invitation(self) -> Result<Invitation> {
        Ok(Invitation {
            id: self.id,
            org: self.org_name,
            team: self.team_name,
            user: self.user_name,
            role: Role::parse(&self.role)?,
            invited_by: self.invited_by,
            created_at: self.created_at,
            expires_at: self.expires_at,
            org_id: self.org_id,
            team_id: self.team_id,
        })
    }
}

/// Invites `user` to the organization with `role`, or to the team `team` (id and name), inside
/// the organization's locked transaction. Returns the invitation and whether it is new: asking
/// again for the same thing answers the pending invitation; asking for another role while one
/// is pending is a conflict (cancel it first).
pub(super) async fn invite(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    org: &Org,
    actor: &User,
    user: &User,
    team: Option<(i64, &str)>,
    role: Role,
) -> Result<(Invitation, bool)> {
    let now = crate::now();
    // Lapsed invitations of this organization are of no use to anyone: sweep them here, so a
    // new one can take their place.
    sqlx::query("DELETE FROM org_invitations WHERE org_id = $1 AND expires_at <= $2")
        .bind(org.id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    let team_id = team.map(|(id, _)| id);
    let sql = format!(
        "SELECT {COLUMNS} FROM {FROM}
         WHERE i.org_id = $1 AND i.user_id = $2 AND COALESCE(i.team_id, 0) = $3"
    );
    let pending = sqlx::query_as::<_, InvitationRow>(&sql)
        .bind(org.id)
        .bind(user.id)
        .bind(team_id.unwrap_or(0))
        .fetch_optional(&mut **tx)
        .await?;
    if let Some(row) = pending {
        let pending = row.invitation()?;
        if pending.role != role {
            return Err(Error::Conflict(format!(
                "an invitation of {} to {} as {}",
                user.name,
                org.name,
                pending.role.as_str()
            )));
        }
        return Ok((pending, false));
    }
    let expires_at = now + TTL_SECS;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO org_invitations
             (org_id, user_id, team_id, role, invited_by, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(org.id)
    .bind(user.id)
    .bind(team_id)
    .bind(role.as_str())
    .bind(&actor.name)
    .bind(now)
    .bind(expires_at)
    .fetch_one(&mut **tx)
    .await?;
    Ok((
        Invitation {
            id,
            org: org.name.clone(),
            team: team.map(|(_, name)| name.to_owned()),
            user: user.name.clone(),
            role,
            invited_by: actor.name.clone(),
            created_at: now,
            expires_at,
            org_id: org.id,
            team_id,
        },
        true,
    ))
}

/// Audits a new invitation (after its transaction committed).
pub(super) async fn record_invite(db: &Db, actor: &User, inv: &Invitation) -> Result<()> {
    audit::record(db, &actor.name, "org.invite", &inv.target(), &inv.detail()).await
}

/// The organization's pending invitations, newest first: for its owners.
pub async fn of_org(db: &Db, org: &Org, actor: &User) -> Result<Vec<Invitation>> {
    let pool = &db.pool;
    require_owner(db, org, actor).await?;
    let sql = format!(
        "SELECT {COLUMNS} FROM {FROM}
         WHERE i.org_id = $1 AND i.expires_at > $2 AND (i.team_id IS NULL OR t.id IS NOT NULL)
         ORDER BY i.id DESC"
    );
    sqlx::query_as::<_, InvitationRow>(&sql)
        .bind(org.id)
        .bind(crate::now())
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(InvitationRow::invitation)
        .collect()
}

/// The invitations waiting for `user`'s answer, newest first.
pub async fn of_user(db: &Db, user: &User) -> Result<Vec<Invitation>> {
    let pool = &db.pool;
    let sql = format!(
        "SELECT {COLUMNS} FROM {FROM}
         WHERE i.user_id = $1 AND i.expires_at > $2 AND (i.team_id IS NULL OR t.id IS NOT NULL)
         ORDER BY i.id DESC"
    );
    sqlx::query_as::<_, InvitationRow>(&sql)
        .bind(user.id)
        .bind(crate::now())
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(InvitationRow::invitation)
        .collect()
}

/// The pending invitation `id` whose `owner` (`i.user_id` or `i.org_id`) is `owner_id`;
/// anyone else's, an answered or a lapsed one is not found.
async fn pending(db: &Db, id: i64, owner: &'static str, owner_id: i64) -> Result<Invitation> {
    let pool = &db.pool;
    let sql = format!(
        "SELECT {COLUMNS} FROM {FROM}
         WHERE i.id = $1 AND {owner} = $2 AND i.expires_at > $3
           AND (i.team_id IS NULL OR t.id IS NOT NULL)"
    );
    let row = sqlx::query_as::<_, InvitationRow>(&sql)
        .bind(id)
        .bind(owner_id)
        .bind(crate::now())
        .fetch_optional(pool)
        .await?;
    match row {
        Some(r) => r.invitation(),
        None => Err(Error::NotFound(format!("pending invitation {id}"))),
    }
}

/// Deletes the invitation inside `tx` if it is still pending; `NotFound` when an owner
/// cancelled it, it lapsed, or another answer took it first.
async fn take(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    inv: &Invitation,
    user_id: i64,
) -> Result<()> {
    let done = sqlx::query(
        "DELETE FROM org_invitations WHERE id = $1 AND user_id = $2 AND expires_at > $3",
    )
    .bind(inv.id)
    .bind(user_id)
    .bind(crate::now())
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound(format!("pending invitation {}", inv.id)));
    }
    Ok(())
}

/// `user` accepts invitation `id`: they become a member of the organization with the invited
/// role (one who is a member already keeps theirs, unless invited as an owner), and of the
/// team for a team invitation.
pub async fn accept(db: &Db, user: &User, id: i64) -> Result<Invitation> {
    if !user.active {
        return Err(Error::Forbidden);
    }
    let inv = pending(db, id, "i.user_id", user.id).await?;
    let mut tx = locked(db, inv.org_id).await?;
    take(&mut tx, &inv, user.id).await?;
    // An invitation carries only the authority its sender still has: one from someone who no
    // longer manages the organization, or to a team since deleted, invites to nothing.
    let sender_manages: Option<i64> = sqlx::query_scalar(
        "SELECT a.id FROM accounts a
         WHERE a.name = $1 AND a.kind = 'user' AND a.active = 1
           AND (a.is_admin = 1 OR EXISTS (SELECT 1 FROM org_members m
                WHERE m.org_id = $2 AND m.user_id = a.id AND m.role = 'owner'))",
    )
    .bind(&inv.invited_by)
    .bind(inv.org_id)
    .fetch_optional(&mut *tx)
    .await?;
    let team_gone = match inv.team_id {
        Some(team_id) => {
            sqlx::query_scalar::<_, i64>("SELECT id FROM teams WHERE id = $1 AND org_id = $2")
                .bind(team_id)
                .bind(inv.org_id)
                .fetch_optional(&mut *tx)
                .await?
                .is_none()
        }
        None => false,
    };
    if sender_manages.is_none() || team_gone {
        // The transaction is dropped: the invitation stays as it was, unusable.
        return Err(Error::NotFound(format!("pending invitation {}", inv.id)));
    }
    sqlx::query(
        "INSERT INTO org_members (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role
         WHERE excluded.role = 'owner'",
    )
    .bind(inv.org_id)
    .bind(user.id)
    .bind(inv.role.as_str())
    .bind(crate::now())
    .execute(&mut *tx)
    .await?;
    if let Some(team_id) = inv.team_id {
        sqlx::query(
            "INSERT INTO team_members (team_id, user_id) VALUES ($1, $2)
             ON CONFLICT DO NOTHING",
        )
        .bind(team_id)
        .bind(user.id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    audit::record(
        db,
        &user.name,
        "org.invite.accept",
        &inv.target(),
        &inv.detail(),
    )
    .await?;
    Ok(inv)
}

/// `user` declines invitation `id`: it is gone, and they stay out.
pub async fn decline(db: &Db, user: &User, id: i64) -> Result<Invitation> {
    let inv = pending(db, id, "i.user_id", user.id).await?;
    let mut tx = locked(db, inv.org_id).await?;
    take(&mut tx, &inv, user.id).await?;
    tx.commit().await?;
    audit::record(
        db,
        &user.name,
        "org.invite.decline",
        &inv.target(),
        &inv.detail(),
    )
    .await?;
    Ok(inv)
}

/// An owner cancels the organization's pending invitation `id`.
pub async fn cancel(db: &Db, org: &Org, actor: &User, id: i64) -> Result<()> {
    let pool = &db.pool;
    require_owner(db, org, actor).await?;
    let inv = pending(db, id, "i.org_id", org.id).await?;
    let done = sqlx::query("DELETE FROM org_invitations WHERE id = $1 AND org_id = $2")
        .bind(id)
        .bind(org.id)
        .execute(pool)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound(format!("pending invitation {id}")));
    }
    audit::record(
        db,
        &actor.name,
        "org.invite.cancel",
        &inv.target(),
        &inv.detail(),
    )
    .await
}
