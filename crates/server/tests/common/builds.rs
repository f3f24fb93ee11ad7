//! Automated builds in page tests, without a Docker Engine: builds switched on with an Engine
//! address nothing answers at (pages only read the database), and builds and their logs
//! written straight into the database as a worker would have left them.

use berth::config::Config;

use super::TestApp;

/// Switches builds on for [`TestApp::start_with`]. Nothing listens at the address (port 1 of
/// loopback, tcpmux, which nobody runs): a build that a worker claims fails, while the pages
/// see builds on.
pub fn on(config: &mut Config) {
    config.builds.docker_host = Some("tcp://127.0.0.1:1".to_owned());
}

/// A build as a worker leaves it.
pub struct Row<'a> {
    pub repository: &'a str,
    /// `queued`, `cloning`, `building`, `pushing`, `success`, `failed` or `cancelled`.
    pub status: &'a str,
    pub ref_name: &'a str,
    pub commit: &'a str,
    pub tag: &'a str,
    pub error: &'a str,
}

impl Row<'_> {
    fn finished(&self) -> bool {
        matches!(self.status, "success" | "failed" | "cancelled")
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// Inserts a build that started a minute ago; a running one is held by a worker of another
/// server under a lease a day long, so no worker here touches it. Returns its id.
pub async fn insert(app: &TestApp, row: Row<'_>) -> i64 {
    let now = now();
    let namespace = row.repository.split('/').next().expect("a namespace");
    let running = !row.finished() && row.status != "queued";
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO builds (repository, namespace, status, trigger_kind, triggered_by, ref_kind,
                             ref_name, commit_sha, tags, dockerfile, context, build_args, error,
                             worker, lease_until, queued_at, started_at, finished_at)
         VALUES ($1, $2, $3, 'push', 'gitea push', 'branch', $4, $5, $6, 'Dockerfile', '.',
                 '{}', $7, $8, $9, $10, $11, $12)
         RETURNING id",
    )
    .bind(row.repository)
    .bind(namespace)
    .bind(row.status)
    .bind(row.ref_name)
    .bind(row.commit)
    .bind(serde_json::json!([row.tag]).to_string())
    .bind(row.error)
    .bind(running.then_some("a-worker-elsewhere"))
    .bind(running.then_some((now + 86_400) * 1000))
    .bind(now - 65)
    .bind((row.status != "queued").then_some(now - 60))
    .bind(row.finished().then_some(now - 5))
    .fetch_one(&app.state.pool)
    .await
    .expect("insert a build");
    id
}

/// Appends `text` to build `id`'s log, as its worker does.
pub async fn append_log(app: &TestApp, id: i64, text: &str) {
    sqlx::query(
        "INSERT INTO build_logs (build_id, seq, data)
         VALUES ($1, (SELECT COALESCE(MAX(seq), -1) + 1 FROM build_logs WHERE build_id = $1), $2)",
    )
    .bind(id)
    .bind(text)
    .execute(&app.state.pool)
    .await
    .expect("append to a build's log");
    sqlx::query("UPDATE builds SET log_bytes = log_bytes + $2 WHERE id = $1")
        .bind(id)
        .bind(text.len() as i64)
        .execute(&app.state.pool)
        .await
        .expect("count a build's log");
}

/// Sets build `id`'s status, as its worker does when it moves on or finishes.
pub async fn set_status(app: &TestApp, id: i64, status: &str, error: &str) {
    let finished = matches!(status, "success" | "failed" | "cancelled");
    sqlx::query(
        "UPDATE builds SET status = $2, error = $3, finished_at = $4,
                worker = CASE WHEN $5 = 1 THEN NULL ELSE worker END,
                lease_until = CASE WHEN $5 = 1 THEN NULL ELSE lease_until END
         WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(error)
    .bind(finished.then_some(now()))
    .bind(i64::from(finished))
    .execute(&app.state.pool)
    .await
    .expect("set a build's status");
}

/// A failing build's log, as Docker prints it.
pub const FAILED_LOG: &[&str] = &[
    "Cloning https://git.example.com/alice/web.git at 3f2c9e1a7b4d\n",
    "Step 1/3 : FROM alpine:3.20\n ---> 9b8f1c2d3e4f\n",
    "Step 2/3 : RUN false\n ---> Running in 1a2b3c4d5e6f\n",
    "The command '/bin/sh -c false' returned a non-zero code: 1\n",
    "\nBuild failed: the Dockerfile's build failed: The command '/bin/sh -c false' returned a non-zero code: 1\n",
];
