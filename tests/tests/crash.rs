//! A run killed mid-way (its future dropped: no lease released, no more renewals, as when
//! Lambda kills the process) blocks its company for at most the lease (90 s), and the next run
//! finishes its work exactly once. Real adapters: moto and the sandbox over HTTP. The next runs
//! use a clock moved ahead, so nothing waits in real time.

use chrono::{Duration, Utc};
use serde_json::json;
use shared::domain::FixedClock;
use shared::services::order_download::Outcome;
use shared::store::OrderStore;
use std::collections::HashMap;
use tests::{World, of, up};

/// How many times the sandbox received each order in `endpoint`'s messages.
async fn received_per_order(w: &World, id: &str, endpoint: &str) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for m in w.sandbox.received(id, endpoint).await.iter().filter(|m| m["http_status"] == 200) {
        for e in m["elements"].as_array().into_iter().flatten() {
            *out.entry(e["order_number"].as_str().unwrap_or_default().to_owned()).or_default() += 1;
        }
    }
    out
}

#[tokio::test]
async fn a_download_killed_mid_window_frees_its_company_within_the_lease_and_the_next_run_finishes_once() {
    let mut w = World::new().await;
    let id = w.company("current", |_| {}).await;
    w.standard_mappings(&id).await;
    let now = Utc::now();
    let numbers =
        w.sandbox.generate(id.as_str(), 120, now - Duration::hours(5), now - Duration::minutes(5), json!({})).await;
    // Slow answers: the run is killed after a few windows.
    w.sandbox.faults(id.as_str(), json!({"latency_ms": 400})).await;
    let killed = tokio::time::timeout(std::time::Duration::from_millis(1500), w.download("killed")).await;
    assert!(killed.is_err(), "killed mid-way");
    w.sandbox.faults(id.as_str(), json!({})).await;

    // 60 s later the company is still held (the lease was renewed or is fresh)...
    let early = FixedClock(Utc::now() + Duration::seconds(60));
    let busy = w.download_with("early", &early, early.0 + Duration::minutes(5)).await;
    assert_eq!(of(&busy, &id).outcome, Outcome::Busy);
    // ...91 s later it is free, and the next run stores and acknowledges each order once.
    let later = FixedClock(Utc::now() + Duration::seconds(91));
    let next = w.download_with("next", &later, later.0 + Duration::minutes(5)).await;
    assert_eq!(of(&next, &id).outcome, Outcome::Completed, "{:?}", of(&next, &id));
    let stored = w.store.list_orders(&id, 1000).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stored.len(), numbers.len());
    let acks = received_per_order(&w, id.as_str(), "/acknowledgements").await;
    assert_eq!(acks.len(), numbers.len(), "every order acknowledged");
    assert!(acks.values().all(|n| *n == 1), "none twice: {acks:?}");
}

#[tokio::test]
async fn an_upload_killed_mid_message_frees_its_company_within_the_lease_and_each_line_is_confirmed_once() {
    let numbers: Vec<String> = (0..30).map(|i| format!("K-{i:02}")).collect();
    let one: &[(&str, u32, &str)] = &[("A", 1, "10.00")];
    let seeds: Vec<tests::SeedOrder> = numbers.iter().map(|n| (n.as_str(), one)).collect();
    let (mut w, id) = World::with_orders(&seeds).await;
    w.upload_config.batch = 5;
    w.ship_all(&id, &numbers.iter().map(String::as_str).collect::<Vec<_>>()).await;
    w.sandbox.faults(id.as_str(), json!({"latency_ms": 400})).await;
    let killed = tokio::time::timeout(std::time::Duration::from_millis(1000), w.upload("killed")).await;
    assert!(killed.is_err(), "killed mid-way");
    w.sandbox.faults(id.as_str(), json!({})).await;

    let early = FixedClock(Utc::now() + Duration::seconds(60));
    let busy = w.upload_with("early", &early, early.0 + Duration::minutes(5)).await;
    assert_eq!(up(&busy, &id).outcome, Outcome::Busy);
    let later = FixedClock(Utc::now() + Duration::seconds(91));
    let next = w.upload_with("next", &later, later.0 + Duration::minutes(5)).await;
    assert_eq!(up(&next, &id).outcome, Outcome::Completed, "{:?}", up(&next, &id));
    let confirmed = received_per_order(&w, id.as_str(), "/shipments").await;
    assert_eq!(confirmed.len(), numbers.len(), "every line confirmed: {confirmed:?}");
    assert!(confirmed.values().all(|n| *n == 1), "none twice: {confirmed:?}");
}
