//! The "Send test" button: a `ping` posted to a webhook now, signed with its secret, through the
//! same guarded sender as every delivery (so a test can never reach what a delivery may not).
//! The answer is shown to whoever pressed the button; pings are not kept in the delivery log.

use serde_json::json;

use berth_accounts::audit;

use crate::deliveries::{now_ms, Attempt};
use crate::hooks::Owner;
use crate::sender::Sender;
use crate::{Error, Result, Webhooks};

/// Pings webhook `id` of `owner` for `actor` (already allowed to manage it), and audits it.
pub async fn ping(hooks: &Webhooks, actor: &str, owner: &Owner, id: i64) -> Result<Attempt> {
    let hook = crate::hooks::get(hooks, owner, id).await?;
    let secret: String = sqlx::query_scalar("SELECT secret FROM webhooks WHERE id = $1")
        .bind(id)
        .fetch_optional(&hooks.pool)
        .await?
        .ok_or_else(|| Error::NotFound(format!("webhook {id}")))?;
    let delivery = uuid::Uuid::new_v4().to_string();
    let body = json!({
        "event": "ping",
        "zen": "Berth can reach this webhook.",
        "webhook": {
            "id": hook.id,
            "name": hook.name,
            "events": hook.events.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
        },
        "sent_by": actor,
        "sent_at": now_ms() / 1000,
    })
    .to_string();
    let sender = Sender::new(&hooks.config)?;
    let attempt = sender.ping(&hook.url, &secret, &delivery, &body).await;
    let outcome = match attempt.response_status {
        Some(status) => format!("ping answered {status}"),
        None => format!("ping failed: {}", attempt.error),
    };
    audit::record(
        &hooks.accounts,
        actor,
        "webhook.ping",
        &owner.label(),
        &format!("{} -> {}: {outcome}", hook.name, hook.url),
    )
    .await?;
    Ok(attempt)
}
