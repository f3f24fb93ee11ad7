//! Invitations to organizations and teams on the pages: the invitee's answers on `/settings`,
//! and the rows both that page and the organization's settings list.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use berth_accounts::orgs::invitations::{self, Invitation};
use berth_accounts::{Accounts, Error as AccountsError};
use serde::Deserialize;

use super::{see_other, PageError, Viewer};

pub struct InvitationRow {
    pub id: i64,
    pub org: String,
    pub user: String,
    /// What accepting gives: "member", "owner", or "team devs".
    pub what: String,
    pub invited_by: String,
    pub expires: i64,
}

impl InvitationRow {
    pub fn from(i: &Invitation) -> Self {
        InvitationRow {
            id: i.id,
            org: i.org.clone(),
            user: i.user.clone(),
            what: match &i.team {
                Some(team) => format!("team {team}"),
                None => i.role.as_str().to_owned(),
            },
            invited_by: i.invited_by.clone(),
            expires: i.expires_at,
        }
    }
}

#[derive(Deserialize)]
pub struct AnswerForm {
    #[serde(default)]
    csrf: String,
    id: i64,
}

/// An answer to an invitation that is no longer there.
fn gone(e: AccountsError) -> PageError {
    match e {
        AccountsError::NotFound(_) => PageError::new(
            StatusCode::NOT_FOUND,
            "This invitation was cancelled, has expired or was answered already.",
        ),
        e => e.into(),
    }
}

/// Accepting: on to the organization just joined.
pub async fn accept(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    form: web::Form<AnswerForm>,
) -> Result<HttpResponse, PageError> {
    viewer.check_csrf(&form.csrf)?;
    let user = viewer.require_user()?;
    let invitation = invitations::accept(&accounts.db, user, form.id)
        .await
        .map_err(gone)?;
    Ok(see_other(&format!("/o/{}", invitation.org)))
}

pub async fn decline(
    viewer: Viewer,
    accounts: web::Data<Accounts>,
    form: web::Form<AnswerForm>,
) -> Result<HttpResponse, PageError> {
    viewer.check_csrf(&form.csrf)?;
    let user = viewer.require_user()?;
    invitations::decline(&accounts.db, user, form.id)
        .await
        .map_err(gone)?;
    Ok(see_other("/settings?done=declined#invitations"))
}
