//! The `berth` binary's library half: configuration, database set-up and wiring, so that tests
//! can boot exactly what `berth serve` runs.

pub mod app;
pub mod config;
pub mod db;
pub mod gc;
pub mod metrics;
pub mod tls;
