//! Fills an empty Berth database with a large, realistic catalogue for the web benchmark
//! (`scripts/bench-web`): users and organizations, repositories with descriptions and READMEs
//! (about 10% private), one OCI image manifest each with its blobs, and tags.
//!
//! ```text
//! cargo run --release -p berth --example seed -- \
//!     --database-url 'sqlite://bench.db?mode=rwc' --repositories 100000
//! ```
//!
//! The schema is brought up to date first, exactly as `berth serve` does. When done it prints
//! `key=value` lines naming what a benchmark should ask for (a common and a rare search word,
//! a public repository). Blob rows are written without blob bytes: pages and the tag APIs read
//! only the database, and a benchmark must not pull these blobs.

mod batch;
mod rng;
mod words;

use std::collections::{HashMap, HashSet};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::Parser;
use sha2::{Digest as _, Sha256};
use sqlx::{AnyConnection, AnyPool, Row};

use batch::{insert, Val};
use rng::Rng;
use words::WORDS;

#[derive(Parser)]
#[command(about = "Seed a Berth database with many repositories and tags for benchmarks")]
struct Args {
    /// Database URL: `sqlite://…` or `postgres://…`. It must hold no repositories yet.
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// How many repositories to create.
    #[arg(long, default_value_t = 100_000)]
    repositories: usize,
    /// How many users and organizations own them.
    #[arg(long, default_value_t = 1_000)]
    namespaces: usize,
    /// Average tags per repository (each has 1 to twice this, less one).
    #[arg(long, default_value_t = 10)]
    tags_per_repository: usize,
    /// Seed of the generator: the same seed gives the same catalogue.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Tags of one more, public repository, `<owner>/big-tags` (0: none): the tags tab and the
    /// dashboard are measured on it.
    #[arg(long, default_value_t = 10_000)]
    big_repository_tags: usize,
    /// The existing account that owns the big repository (default: the first seeded namespace).
    #[arg(long)]
    owner: Option<String>,
}

/// Repositories written per transaction.
const CHUNK: usize = 5_000;
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// Columns later migrations added, filled when present.
struct Optional {
    star_count: bool,
    comment_count: bool,
    pushed_by: bool,
    /// The activity feed's table: one push line per tag.
    activity: bool,
}

struct Namespace {
    name: String,
}

struct Repo {
    name: String,
    namespace: usize,
    private: bool,
    description: String,
    full_description: String,
    pull_count: i64,
    star_count: i64,
    comment_count: i64,
    created_at: i64,
    pushed_at: i64,
    tags: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.namespaces > 0, "--namespaces must be at least 1");
    anyhow::ensure!(
        args.tags_per_repository > 0,
        "--tags-per-repository must be at least 1"
    );
    let started = Instant::now();
    let pool = berth::db::open(&args.database_url).await?;
    let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM repositories")
        .fetch_one(&pool)
        .await?;
    anyhow::ensure!(
        existing == 0,
        "the database already holds {existing} repositories; seed an empty one"
    );
    let optional = Optional {
        star_count: has_column(&pool, "repository_settings", "star_count").await,
        comment_count: has_column(&pool, "repository_settings", "comment_count").await,
        pushed_by: has_column(&pool, "tags", "pushed_by").await,
        activity: has_column(&pool, "activity", "kind").await,
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() as i64;
    let mut rng = Rng::new(args.seed);

    let mut namespaces = seed_namespaces(&pool, &mut rng, args.namespaces, now).await?;
    let base_layer = digest(b"berth seed: the base layer every image shares");
    {
        let mut tx = pool.begin().await?;
        insert(
            &mut tx,
            "blobs (digest, size, created_at)",
            vec![vec![
                Val::Text(base_layer.clone()),
                Val::Int(3_456_789),
                Val::Int(now),
            ]],
            "",
        )
        .await?;
        tx.commit().await?;
    }

    let mut names_taken = vec![HashSet::new(); namespaces.len()];
    let mut tags_total = 0usize;
    let mut showcase: Option<(String, usize)> = None;
    let mut done = 0usize;
    while done < args.repositories {
        let count = CHUNK.min(args.repositories - done);
        let repos: Vec<Repo> = (done..done + count)
            .map(|i| {
                let ns = rng.skewed(namespaces.len(), 2);
                let name = repo_name(&mut rng, &namespaces[ns].name, &mut names_taken[ns]);
                new_repo(&mut rng, i, name, ns, args.tags_per_repository, now)
            })
            .collect();
        for r in &repos {
            tags_total += r.tags;
            if !r.private && showcase.as_ref().is_none_or(|(_, t)| r.tags > *t) {
                showcase = Some((r.name.clone(), r.tags));
            }
        }
        let mut tx = pool.begin().await?;
        seed_chunk(&mut tx, &repos, &namespaces, &optional, &base_layer).await?;
        tx.commit().await?;
        done += count;
        eprintln!(
            "seed: {done}/{} repositories, {tags_total} tags ({:.0?})",
            args.repositories,
            started.elapsed()
        );
    }
    let namespaces_seeded = namespaces.len();
    let mut big = None;
    if args.big_repository_tags > 0 {
        let ns = match &args.owner {
            Some(owner) => {
                namespaces.push(Namespace {
                    name: owner.clone(),
                });
                namespaces.len() - 1
            }
            None => 0,
        };
        let name = format!("{}/big-tags", namespaces[ns].name);
        let mut repo = new_repo(&mut rng, args.repositories, name.clone(), ns, 1, now);
        repo.private = false;
        repo.tags = args.big_repository_tags;
        tags_total += repo.tags;
        let mut tx = pool.begin().await?;
        seed_chunk(&mut tx, &[repo], &namespaces, &optional, &base_layer).await?;
        tx.commit().await?;
        big = Some(name);
    }
    // Planner statistics, as a database that has been in use a while would have.
    sqlx::query("ANALYZE").execute(&pool).await?;
    pool.close().await;

    println!("repositories={}", args.repositories);
    println!("tags={tags_total}");
    println!("namespaces={namespaces_seeded}");
    println!("common_word={}", words::COMMON);
    println!("rare_word={}", words::RARE);
    if let Some((name, tags)) = showcase {
        println!("repository={name}");
        println!("repository_tags={tags}");
    }
    if let Some(name) = big {
        println!("big_repository={name}");
        println!("big_repository_tags={}", args.big_repository_tags);
    }
    println!("seconds={:.1}", started.elapsed().as_secs_f64());
    Ok(())
}

async fn has_column(pool: &AnyPool, table: &str, column: &str) -> bool {
    sqlx::query(&format!("SELECT {column} FROM {table} LIMIT 1"))
        .fetch_optional(pool)
        .await
        .is_ok()
}

fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Users (two in three) and organizations, with names like `swift-harbor-17`.
async fn seed_namespaces(
    pool: &AnyPool,
    rng: &mut Rng,
    count: usize,
    now: i64,
) -> anyhow::Result<Vec<Namespace>> {
    let mut namespaces = Vec::with_capacity(count);
    let mut rows = Vec::with_capacity(count);
    for i in 0..count {
        let name = format!("{}-{}-{i}", rng.pick(WORDS), rng.pick(WORDS));
        let org = rng.chance(1.0 / 3.0);
        rows.push(vec![
            Val::Text(name.clone()),
            Val::Text(if org { "org" } else { "user" }.to_owned()),
            if org {
                Val::NullText
            } else {
                Val::Text(format!("{name}@example.com"))
            },
            Val::Int(now - 86_400 * 1_500 + i as i64),
        ]);
        namespaces.push(Namespace { name });
    }
    let mut tx = pool.begin().await?;
    insert(
        &mut tx,
        "accounts (name, kind, email, created_at)",
        rows,
        "",
    )
    .await
    .context("inserting accounts")?;
    tx.commit().await?;
    Ok(namespaces)
}

/// `ns/word-word`, numbered only when the namespace already has that name.
fn repo_name(rng: &mut Rng, namespace: &str, taken: &mut HashSet<String>) -> String {
    let mut base = format!(
        "{}-{}",
        WORDS[rng.skewed(WORDS.len(), 2)],
        WORDS[rng.skewed(WORDS.len(), 2)]
    );
    if rng.chance(0.3) {
        base = WORDS[rng.skewed(WORDS.len(), 2)].to_owned();
    }
    let mut name = base.clone();
    let mut n = 2;
    while !taken.insert(name.clone()) {
        name = format!("{base}-{n}");
        n += 1;
    }
    format!("{namespace}/{name}")
}

fn new_repo(
    rng: &mut Rng,
    index: usize,
    name: String,
    ns: usize,
    avg_tags: usize,
    now: i64,
) -> Repo {
    let mut w = || WORDS[rng.skewed(WORDS.len(), 2)];
    let (a, b, c, d) = (w(), w(), w(), w());
    let mut description = format!("A {a} {b} image for {c} and {d}");
    if index.is_multiple_of(words::RARE_EVERY) {
        description.push_str(&format!(", with a {} mascot", words::RARE));
    }
    let full_description = format!(
        "# {name}\n\n{description}.\n\n## Usage\n\n```\ndocker run --rm {name}:latest --{e} --{f}\n```\n\n\
         Built on {g} with {h}; see the {i} documentation for the {j} settings. \
         Tags follow the upstream {k} releases.\n",
        e = w(),
        f = w(),
        g = w(),
        h = w(),
        i = w(),
        j = w(),
        k = w(),
    );
    let created_at = now - 86_400 * 1_400 + rng.below(86_400 * 1_000) as i64;
    let pushed_at = created_at + rng.below((now - created_at).max(1) as usize) as i64;
    Repo {
        name,
        namespace: ns,
        private: rng.chance(0.1),
        description,
        full_description,
        pull_count: (rng.unit().powi(4) * 10_000_000.0) as i64,
        star_count: (rng.unit().powi(6) * 5_000.0) as i64,
        comment_count: (rng.unit().powi(6) * 200.0) as i64,
        created_at,
        pushed_at,
        tags: 1 + rng.below(2 * avg_tags - 1),
    }
}

/// Everything for a chunk of repositories, inside the caller's transaction.
async fn seed_chunk(
    tx: &mut AnyConnection,
    repos: &[Repo],
    namespaces: &[Namespace],
    optional: &Optional,
    base_layer: &str,
) -> anyhow::Result<()> {
    let rows = repos
        .iter()
        .map(|r| vec![Val::Text(r.name.clone()), Val::Int(r.created_at)])
        .collect();
    // Neither backend promises RETURNING's order, so ids are matched up by name.
    let returned = insert(
        tx,
        "repositories (name, created_at)",
        rows,
        "RETURNING id, name",
    )
    .await
    .context("inserting repositories")?;
    let mut by_name = HashMap::with_capacity(returned.len());
    for row in &returned {
        by_name.insert(
            row.try_get::<String, _>("name")?,
            row.try_get::<i64, _>("id")?,
        );
    }
    let ids: Vec<i64> = repos
        .iter()
        .map(|r| by_name.get(&r.name).copied())
        .collect::<Option<_>>()
        .context("RETURNING left out a repository")?;

    let mut settings_columns =
        "repository, namespace, private, description, full_description, pull_count, created_at, last_pushed_at".to_owned();
    if optional.star_count {
        settings_columns.push_str(", star_count");
    }
    if optional.comment_count {
        settings_columns.push_str(", comment_count");
    }
    let rows = repos
        .iter()
        .map(|r| {
            let mut row = vec![
                Val::Text(r.name.clone()),
                Val::Text(namespaces[r.namespace].name.clone()),
                Val::Int(i64::from(r.private)),
                Val::Text(r.description.clone()),
                Val::Text(r.full_description.clone()),
                Val::Int(r.pull_count),
                Val::Int(r.created_at),
                Val::Int(r.pushed_at),
            ];
            if optional.star_count {
                row.push(Val::Int(r.star_count));
            }
            if optional.comment_count {
                row.push(Val::Int(r.comment_count));
            }
            row
        })
        .collect();
    insert(
        tx,
        &format!("repository_settings ({settings_columns})"),
        rows,
        "",
    )
    .await
    .context("inserting repository settings")?;

    let mut blobs = Vec::new();
    let mut repository_blobs = Vec::new();
    let mut manifests = Vec::new();
    let mut manifest_blobs = Vec::new();
    let mut tags = Vec::new();
    let mut activity = Vec::new();
    for (r, id) in repos.iter().zip(&ids) {
        let config = digest(format!("config of {}", r.name).as_bytes());
        let layer = digest(format!("layer of {}", r.name).as_bytes());
        let layer_size = 1_000 + (r.pull_count % 50_000_000);
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":1234}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{base_layer}","size":3456789}},{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{layer}","size":{layer_size}}}]}}"#
        );
        let manifest_digest = digest(manifest.as_bytes());
        blobs.push(vec![
            Val::Text(config.clone()),
            Val::Int(1234),
            Val::Int(r.created_at),
        ]);
        blobs.push(vec![
            Val::Text(layer.clone()),
            Val::Int(layer_size),
            Val::Int(r.created_at),
        ]);
        for d in [&config, base_layer, &layer] {
            repository_blobs.push(vec![
                Val::Int(*id),
                Val::Text(d.to_string()),
                Val::Int(r.created_at),
            ]);
        }
        manifests.push(vec![
            Val::Int(*id),
            Val::Text(manifest_digest.clone()),
            Val::Text(OCI_MANIFEST.to_owned()),
            Val::Int(manifest.len() as i64),
            Val::Bytes(manifest.into_bytes()),
            Val::Int(r.pushed_at),
        ]);
        for t in 0..r.tags {
            let name = match t {
                0 => "latest".to_owned(),
                t if t % 2 == 1 => format!("1.{t}"),
                t => format!("1.{t}-slim"),
            };
            let mut row = vec![
                Val::Int(*id),
                Val::Text(name.clone()),
                Val::Text(manifest_digest.clone()),
                Val::Int(r.pushed_at - (t as i64) * 3_600),
            ];
            if optional.pushed_by {
                row.push(Val::Text(namespaces[r.namespace].name.clone()));
            }
            if optional.activity {
                activity.push(vec![
                    Val::Int(r.pushed_at - (t as i64) * 3_600),
                    Val::Text("push".to_owned()),
                    Val::Text(r.name.clone()),
                    Val::Text(namespaces[r.namespace].name.clone()),
                    Val::Text(namespaces[r.namespace].name.clone()),
                    Val::Text(name),
                    Val::Text(manifest_digest.clone()),
                ]);
            }
            tags.push(row);
        }
    }
    insert(tx, "blobs (digest, size, created_at)", blobs, "")
        .await
        .context("inserting blobs")?;
    insert(
        tx,
        "repository_blobs (repository_id, digest, created_at)",
        repository_blobs,
        "",
    )
    .await
    .context("inserting repository blobs")?;
    let manifest_ids = insert(
        tx,
        "manifests (repository_id, digest, media_type, size, content, created_at)",
        manifests,
        "RETURNING id, repository_id",
    )
    .await
    .context("inserting manifests")?;
    let mut manifest_of = HashMap::with_capacity(manifest_ids.len());
    for row in &manifest_ids {
        manifest_of.insert(
            row.try_get::<i64, _>("repository_id")?,
            row.try_get::<i64, _>("id")?,
        );
    }
    for (r, repository_id) in repos.iter().zip(&ids) {
        let id = *manifest_of
            .get(repository_id)
            .context("RETURNING left out a manifest")?;
        for d in [
            digest(format!("config of {}", r.name).as_bytes()),
            base_layer.to_owned(),
            digest(format!("layer of {}", r.name).as_bytes()),
        ] {
            manifest_blobs.push(vec![Val::Int(id), Val::Text(d)]);
        }
    }
    insert(
        tx,
        "manifest_blobs (manifest_id, digest)",
        manifest_blobs,
        "",
    )
    .await
    .context("inserting manifest blobs")?;
    let tag_columns = if optional.pushed_by {
        "tags (repository_id, name, manifest_digest, updated_at, pushed_by)"
    } else {
        "tags (repository_id, name, manifest_digest, updated_at)"
    };
    insert(tx, tag_columns, tags, "")
        .await
        .context("inserting tags")?;
    insert(
        tx,
        "activity (created_at, kind, repository, namespace, actor, tag, digest)",
        activity,
        "",
    )
    .await
    .context("inserting activity")?;
    Ok(())
}
