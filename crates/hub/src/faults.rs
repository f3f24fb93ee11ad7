//! Fault points: named places in a multi-step write where a test can freeze the server, to
//! kill it there and show that the write happened completely or not at all after a restart.
//!
//! Built only with the `fault-points` feature (tests); otherwise [`point`] does nothing. With
//! it, `BERTH_FAULT_POINT=<name>` makes the first request that reaches `<name>` log
//! `fault point reached: <name>` and wait forever, holding whatever it holds (its transaction).

/// Marks a fault point.
pub async fn point(name: &str) {
    #[cfg(feature = "fault-points")]
    if std::env::var("BERTH_FAULT_POINT").is_ok_and(|wanted| wanted == name) {
        tracing::warn!(point = name, "fault point reached: {name}");
        std::future::pending::<()>().await;
    }
    #[cfg(not(feature = "fault-points"))]
    let _ = name;
}
