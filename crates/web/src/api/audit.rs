//! The audit log for site administrators: `GET /api/v1/audit`, filtered by actor, action,
//! target and time, paged. The same filters serve the `/admin/audit` page and an
//! organization's own log.

use actix_web::{web, HttpRequest, HttpResponse};
use berth_accounts::audit::{self, Filter};
use berth_accounts::Accounts;
use serde::Deserialize;
use serde_json::json;

use super::{site_admin, ApiError};

/// Entries on one page.
pub const PAGE_SIZE: i64 = 50;

/// The filters, as a query string carries them. `since` and `until` are Unix seconds or a
/// `YYYY-MM-DD` day (UTC); `until` is exclusive, and a day counts whole.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    #[serde(default)]
    pub actor: String,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub target: String,
    #[serde(default)]
    pub since: String,
    #[serde(default)]
    pub until: String,
    pub page: Option<i64>,
}

impl AuditQuery {
    /// The filter these ask for, or what is wrong with them (in words, naming the parameter).
    pub fn filter(&self) -> Result<Filter, String> {
        let text = |s: &str| {
            let s = s.trim();
            (!s.is_empty()).then(|| s.to_owned())
        };
        let since = when(&self.since, false)
            .map_err(|_| "since must be a date (YYYY-MM-DD) or Unix seconds".to_owned())?;
        let until = when(&self.until, true)
            .map_err(|_| "until must be a date (YYYY-MM-DD) or Unix seconds".to_owned())?;
        Ok(Filter {
            actor: text(&self.actor),
            action: text(&self.action),
            target: text(&self.target),
            since,
            until,
            namespace: None,
        })
    }

    /// The page asked for, from 1.
    pub fn page(&self) -> i64 {
        self.page.unwrap_or(1).clamp(1, 1_000_000)
    }
}

/// Unix seconds from `s`: digits as they are, or a day's start (`end`: the next day's start,
/// so that "until" a day includes it). Empty is no bound.
fn when(s: &str, end: bool) -> Result<Option<i64>, ()> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().map(Some).map_err(|_| ());
    }
    let day = day_number(s).ok_or(())?;
    Ok(Some((day + i64::from(end)) * 86_400))
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date (Howard Hinnant's algorithm).
fn day_number(s: &str) -> Option<i64> {
    let mut parts = s.splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    let days_in_month = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => return None,
    };
    if !(1..=9999).contains(&y) || !(1..=days_in_month).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// `GET /api/v1/audit?actor=&action=&target=&since=&until=&page=`: newest first, 50 a page.
pub async fn list(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    site_admin(
        &accounts,
        &req,
        "only site administrators may read the audit log",
    )
    .await?;
    let filter = query.filter().map_err(ApiError::bad_request)?;
    let page = query.page();
    let mut entries =
        audit::search(&accounts.db, &filter, (page - 1) * PAGE_SIZE, PAGE_SIZE + 1).await?;
    let more = entries.len() as i64 > PAGE_SIZE;
    entries.truncate(PAGE_SIZE as usize);
    Ok(HttpResponse::Ok().json(json!({
        "entries": entries,
        "page": page,
        "next_page": more.then_some(page + 1),
    })))
}

#[cfg(test)]
mod tests {
    use super::{day_number, when};

    #[test]
    fn days_and_seconds() {
        assert_eq!(day_number("1970-01-01"), Some(0));
        assert_eq!(day_number("2000-02-29"), Some(11_016));
        assert_eq!(day_number("2026-11-25"), Some(20_782));
        for bad in [
            "2001-02-29",
            "2026-13-01",
            "2026-00-10",
            "x",
            "2026-1",
            "0-01-01",
        ] {
            assert_eq!(day_number(bad), None, "{bad}");
        }
        assert_eq!(when("", false), Ok(None));
        assert_eq!(when("12345", true), Ok(Some(12_345)));
        assert_eq!(when("1970-01-02", false), Ok(Some(86_400)));
        assert_eq!(when("1970-01-02", true), Ok(Some(2 * 86_400)));
        assert!(when("yesterday", false).is_err());
    }
}
