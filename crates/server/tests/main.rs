//! Berth's integration tests, in one binary: each module is one area (its own doc says which),
//! and `common` boots the real server for them. One binary links once, which keeps a clean test
//! build small and quick; nextest still runs every test in a process of its own.
//!
//! Run one area with a filter on the module, e.g. `cargo nextest run -p berth -E 'test(/^auth::/)'`.

mod common;

mod auth;
mod builds_api;
mod community_api;
mod credentials;
mod deletion_faults;
mod e2e_browser;
mod e2e_browser_smoke;
mod e2e_builds;
mod e2e_docker;
mod e2e_scale;
mod e2e_signing;
mod e2e_skopeo;
mod e2e_trust;
mod error_bodies;
mod faults;
mod gc;
mod git_server;
mod hostile_input;
mod immutable_tags;
mod metrics;
mod migrations;
mod namespaces;
mod openapi;
mod orgs;
mod pages_accounts;
mod pages_builds;
mod pages_repository;
mod protocol_strict;
mod quotas;
mod registry_blobs;
mod registry_manifests;
mod replicas;
mod repositories_api;
mod restart;
mod retention;
mod sessions;
mod signing;
mod tls;
mod trust;
mod ui_accounts;
mod ui_admin;
mod ui_content;
mod ui_home;
mod ui_password_reset;
mod ui_tags;
mod webhooks;
