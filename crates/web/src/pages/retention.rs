//! The retention card of the repository and organization settings pages: the policy's form
//! with a Preview and a Save button. A preview draws the settings page again with what the
//! entered policy would delete now, keeping what was typed, so it works without JavaScript.

use berth_accounts::{audit as log, Accounts};
use berth_registry::lifecycle::retention::{self, Plan, Policy, RepositoryPlan, Stored, Valid};
use berth_registry::meta::Meta;
use serde::Deserialize;

use super::PageError;

/// Rows a preview lists; the count above them is always whole.
const SHOWN: usize = 200;

/// The card's fields, as the form posts them (empty for unset).
#[derive(Deserialize, Default)]
pub struct RetentionForm {
    /// The "enabled" box, present (`on`) when ticked.
    pub retention_enabled: Option<String>,
    #[serde(default)]
    pub keep_most_recent: String,
    #[serde(default)]
    pub keep_patterns: String,
    #[serde(default)]
    pub delete_older_than_days: String,
    #[serde(default)]
    pub untagged_days: String,
}

fn number(what: &str, text: &str) -> Result<Option<i64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| format!("{what} must be a whole number, not {text:?}."))
}

impl RetentionForm {
    /// The policy the form describes, or why it is refused, in words for the form.
    pub fn policy(&self) -> Result<Valid, String> {
        let policy = Policy {
            enabled: self.retention_enabled.is_some(),
            keep_most_recent: number("Keep most recent", &self.keep_most_recent)?,
            keep_patterns: self
                .keep_patterns
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect(),
            delete_older_than_days: number("Older than", &self.delete_older_than_days)?,
            untagged_days: number("Untagged manifests", &self.untagged_days)?,
        };
        policy.validate().map_err(|e| {
            let mut m = e.0;
            if let Some(first) = m.get(..1) {
                m = first.to_uppercase() + &m[1..];
            }
            m + "."
        })
    }
}

pub struct PreviewRow {
    pub repository: String,
    pub tag: String,
    pub digest: String,
    pub pushed: i64,
}

/// What a preview found.
pub struct Preview {
    /// Tags that would be deleted, and that stay.
    pub count: usize,
    pub keep: usize,
    /// The first [`SHOWN`] of them.
    pub rows: Vec<PreviewRow>,
    /// Whether the rows span repositories (a namespace's preview).
    pub per_repository: bool,
}

impl Preview {
    pub fn more(&self) -> usize {
        self.count - self.rows.len()
    }

    fn of(plans: Vec<RepositoryPlan>, per_repository: bool) -> Preview {
        let count = plans.iter().map(|p| p.plan.delete.len()).sum();
        let keep = plans.iter().map(|p| p.plan.keep).sum();
        let rows = plans
            .into_iter()
            .flat_map(|p| {
                let repository = p.repository;
                p.plan.delete.into_iter().map(move |t| PreviewRow {
                    repository: repository.clone(),
                    digest: t.digest.chars().take(19).collect(),
                    pushed: t.pushed_at,
                    tag: t.tag,
                })
            })
            .take(SHOWN)
            .collect();
        Preview {
            count,
            keep,
            rows,
            per_repository,
        }
    }

    pub fn of_repository(repository: &str, plan: Plan) -> Preview {
        let plans = vec![RepositoryPlan {
            repository: repository.to_owned(),
            plan,
        }];
        Preview::of(plans, false)
    }

    pub fn of_namespace(plans: Vec<RepositoryPlan>) -> Preview {
        Preview::of(plans, true)
    }
}

/// The card as a page draws it.
pub struct Card {
    /// Where the form posts (`…/settings/retention`); `/preview` and `/remove` follow it.
    pub action: String,
    /// Whom the policy governs, in words.
    pub governs: String,
    /// A line on the policy that governs the repository now when it has none of its own.
    pub inherited: Option<String>,
    /// Whether the scope has a saved policy of its own (which the Remove button deletes).
    pub own: bool,
    pub enabled: bool,
    pub keep_most_recent: String,
    pub keep_patterns: String,
    pub delete_older_than_days: String,
    pub untagged_days: String,
    pub error: Option<String>,
    pub notice: Option<&'static str>,
    pub preview: Option<Preview>,
}

fn shown(n: Option<i64>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

/// A policy in one sentence.
fn describe(p: &Policy) -> String {
    let state = if p.enabled { "on" } else { "off" };
    let mut keeps = Vec::new();
    if let Some(n) = p.keep_most_recent {
        keeps.push(format!("the {n} most recent tags"));
    }
    if !p.keep_patterns.is_empty() {
        keeps.push(format!("tags matching {}", p.keep_patterns.join(", ")));
    }
    let mut s = format!("{state}; keeps ");
    s += &if keeps.is_empty() {
        "no tag by count or name".to_owned()
    } else {
        keeps.join(" and ")
    };
    match p.delete_older_than_days {
        Some(d) => s += &format!("; deletes others last pushed more than {d} days ago"),
        None if p.keep_most_recent.is_some() => s += "; deletes the others",
        None => s += "; deletes nothing",
    }
    s
}

impl Card {
    /// The card showing the saved policy of its scope (`own`), or an empty form.
    pub fn saved(action: String, governs: String, own: Option<&Stored>) -> Card {
        let p = own.map(|s| s.policy.clone()).unwrap_or_default();
        Card {
            action,
            governs,
            inherited: None,
            own: own.is_some(),
            enabled: p.enabled,
            keep_most_recent: shown(p.keep_most_recent),
            keep_patterns: p.keep_patterns.join(" "),
            delete_older_than_days: shown(p.delete_older_than_days),
            untagged_days: shown(p.untagged_days),
            error: None,
            notice: None,
            preview: None,
        }
    }

    /// The card of a repository: its own policy, or a line on its namespace's.
    pub async fn of_repository(
        meta: &Meta,
        action: String,
        repository: &str,
    ) -> Result<Card, berth_registry::Error> {
        let own = retention::get(meta, retention::Scope::Repository(repository)).await?;
        let mut card = Card::saved(action, "this repository".into(), own.as_ref());
        if own.is_none() {
            if let Some(s) = retention::effective(meta, repository).await? {
                card.inherited = Some(format!(
                    "The policy of the namespace {} governs this repository ({}). Saving one \
                     here replaces it for this repository.",
                    s.scope,
                    describe(&s.policy)
                ));
            }
        }
        Ok(card)
    }

    /// The card showing what the form posted, with an error or a preview to go with it.
    pub fn entered(mut self, form: &RetentionForm) -> Card {
        self.enabled = form.retention_enabled.is_some();
        self.keep_most_recent = form.keep_most_recent.clone();
        self.keep_patterns = form.keep_patterns.clone();
        self.delete_older_than_days = form.delete_older_than_days.clone();
        self.untagged_days = form.untagged_days.clone();
        self
    }
}

/// Audits a change of the policy of `scope`: the policy as saved, or its removal.
pub async fn audit(
    accounts: &Accounts,
    actor: &str,
    scope: &str,
    policy: Option<&Policy>,
) -> Result<(), PageError> {
    let detail = match policy {
        Some(p) => serde_json::to_string(p).unwrap_or_default(),
        None => "removed".to_owned(),
    };
    log::record(&accounts.db, actor, "retention.update", scope, &detail).await?;
    Ok(())
}
