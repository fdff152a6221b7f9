//! The Overstock client against the sandbox over HTTP: transport, failure classes, messages.

use chrono::{Duration, Utc};
use serde_json::json;
use shared::credentials::{Credentials, Secret};
use shared::domain::OrderNumber;
use shared::domain::window::Window;
use shared::overstock::acknowledgements::Acknowledgement;
use shared::overstock::{Account, OverstockApi, OverstockError, RetryPolicy};
use tests::{Sandbox, WAREHOUSE, client, fast_retry, unique};

async fn account(sandbox: &Sandbox, shape: &str) -> (String, Account) {
    let user = unique("acct");
    sandbox.create_account(&user, "secret-pw", WAREHOUSE, shape).await;
    let account = Account {
        base_url: tests::base_url(&sandbox.base),
        credentials: Credentials { username: user.clone(), password: Secret::new("secret-pw") },
        deadline: None,
        accepted: Default::default(),
        trail: Default::default(),
        dry_run: Default::default(),
    };
    (user, account)
}

fn last_hours(h: i64) -> Window {
    let now = Utc::now();
    Window {
        start: shared::domain::window::floor_second(now - Duration::hours(h)),
        end: shared::domain::window::floor_second(now + Duration::seconds(1)),
    }
}

#[tokio::test]
async fn fetches_orders_in_both_shapes_with_the_true_total() {
    let sb = Sandbox::from_env();
    for shape in ["current", "old"] {
        let (user, acct) = account(&sb, shape).await;
        let now = Utc::now();
        sb.generate(&user, 25, now - Duration::minutes(50), now - Duration::minutes(1), json!({})).await;
        let page = client().fetch_orders(&acct, &last_hours(1)).await.unwrap_or_else(|e| panic!("{shape}: {e}"));
        assert_eq!((page.total_count, page.orders.len()), (25, 25), "{shape}");
        assert!(page.orders.iter().all(|o| o.warehouse_code.as_deref() == Some(WAREHOUSE) && !o.lines.is_empty()));
        assert!(
            page.orders.iter().any(|o| o.shipping.service_level.as_ref().is_some_and(|s| s.freight)),
            "{shape}: an LTL order"
        );
        sb.faults(&user, json!({"max_orders_per_response": 10})).await;
        let capped = client().fetch_orders(&acct, &last_hours(1)).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((capped.total_count, capped.orders.len()), (25, 10));
        assert!(!capped.is_complete());
    }
}

#[tokio::test]
async fn window_bounds_are_half_open() {
    let sb = Sandbox::from_env();
    let (user, acct) = account(&sb, "current").await;
    let t = shared::domain::window::floor_second(Utc::now() - Duration::minutes(30));
    let line = json!([{"partner_sku": "S", "quantity": 1, "item_price": "1.00"}]);
    sb.seed(&user, json!({"order_number": "AT-START", "created": t, "service_level_code": "GROUND", "lines": line}))
        .await;
    sb.seed(&user, json!({"order_number": "AT-END", "created": t + Duration::minutes(1), "service_level_code": "GROUND", "lines": line})).await;
    let page = client()
        .fetch_orders(&acct, &Window { start: t, end: t + Duration::minutes(1) })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let numbers: Vec<&str> = page.orders.iter().map(|o| o.order_number.as_str()).collect();
    assert_eq!(numbers, vec!["AT-START"]);
}

#[tokio::test]
async fn bad_credentials_are_unauthorized_and_not_retried() {
    let sb = Sandbox::from_env();
    let (user, mut acct) = account(&sb, "current").await;
    acct.credentials.password = Secret::new("wrong");
    let err = client().fetch_orders(&acct, &last_hours(1)).await.err();
    assert!(matches!(err, Some(OverstockError::Unauthorized)), "{err:?}");
    assert_eq!(sb.stats(&user).await["requests"]["GET /salesorders"], 1);
}

#[tokio::test]
async fn persistent_server_errors_give_up_with_a_retryable_error_after_the_budget() {
    let sb = Sandbox::from_env();
    let (user, acct) = account(&sb, "current").await;
    sb.faults(&user, json!({"share_500": 1.0})).await;
    let c = tests::client_with(RetryPolicy { max_retries: 3, ..fast_retry() });
    let err = c.fetch_orders(&acct, &last_hours(1)).await.err().unwrap_or_else(|| panic!("must fail"));
    assert!(matches!(err, OverstockError::Server { status: 500 }), "{err:?}");
    assert!(err.is_retryable());
    assert_eq!(sb.stats(&user).await["requests"]["GET /salesorders"], 4, "one try and three retries");
    sb.faults(&user, json!({"share_null": 1.0})).await;
    let err = c.fetch_orders(&acct, &last_hours(1)).await.err();
    assert!(matches!(err, Some(OverstockError::NullBody)), "{err:?}");
}

#[tokio::test]
async fn throttling_is_retried_to_success() {
    let sb = Sandbox::from_env();
    let (user, acct) = account(&sb, "current").await;
    sb.faults(&user, json!({"share_429": 0.5, "retry_after_secs": 1})).await;
    for _ in 0..4 {
        client().fetch_orders(&acct, &last_hours(1)).await.unwrap_or_else(|e| panic!("{e}"));
    }
    let stats = sb.stats(&user).await;
    // Every second request is throttled: calls 2-4 each meet one 429 and succeed on retry.
    assert_eq!(stats["faults_injected"]["429"], 3, "{stats}");
    assert_eq!(stats["requests"]["GET /salesorders"], 7);
}

#[tokio::test]
async fn slow_answers_time_out_and_are_retried() {
    let sb = Sandbox::from_env();
    let (user, acct) = account(&sb, "current").await;
    sb.faults(&user, json!({"latency_ms": 400})).await;
    let c = tests::client_with(RetryPolicy {
        request_timeout: std::time::Duration::from_millis(100),
        max_retries: 2,
        ..fast_retry()
    });
    let err = c.fetch_orders(&acct, &last_hours(1)).await.err();
    assert!(matches!(err, Some(OverstockError::Timeout)), "{err:?}");
    assert_eq!(sb.stats(&user).await["requests"]["GET /salesorders"], 3);
}

#[tokio::test]
async fn acknowledgements_pass_strict_validation_and_unknown_orders_are_named() {
    let sb = Sandbox::from_env();
    let (user, acct) = account(&sb, "current").await;
    let now = Utc::now();
    let numbers = sb.generate(&user, 2, now - Duration::minutes(10), now, json!({})).await;
    let ack = |n: &str| Acknowledgement {
        sales_channel_name: "OSTK".into(),
        order_number: OrderNumber::parse(n).unwrap_or_else(|e| panic!("{e}")),
        accepted: true,
    };
    let rejected = client()
        .acknowledge(&acct, &[ack(&numbers[0]), ack("NO-SUCH"), ack(&numbers[1])])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].order_number, "NO-SUCH");
    assert_eq!(rejected[0].message, "unknown order");
    let received = sb.received(&user, "/acknowledgements").await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0]["http_status"], 400);
    assert_eq!(received[0]["elements"].as_array().map(|a| a.len()), Some(3));
    let orders = sb.orders(&user).await;
    assert!(
        orders.iter().all(|o| o["status"] == "ACKNOWLEDGED" && o["action_required"] == false),
        "the others were applied"
    );
}

/// `POST /refunds` (provisional) against the sandbox's strict reading: accepted, a repeat of the
/// same refund id answered as the first and applied once, a refund above what was charged named.
#[tokio::test]
async fn refunds_pass_strict_validation_repeat_as_the_first_and_name_the_capped_line() {
    use shared::domain::requests::Money;
    use shared::overstock::refunds::{RefundItem, RefundLineItem};
    use shared::overstock::shipments::ShipConfirmation;
    let sb = Sandbox::from_env();
    let (user, acct) = account(&sb, "current").await;
    sb.seed(
        &user,
        json!({"order_number": "RF-1", "created": Utc::now() - Duration::minutes(20), "service_level_code": "GROUND",
        "lines": [{"partner_sku": "A", "quantity": 2, "item_price": "10.00"}]}),
    )
    .await;
    let ship = ShipConfirmation {
        sales_channel_name: "OSTK".into(),
        order_number: "RF-1".into(),
        line_number: "1".into(),
        warehouse_code: WAREHOUSE.into(),
        quantity: 2,
        carrier_code: "UPS".into(),
        tracking_number: "1ZRF1".into(),
        ship_date: Utc::now() - Duration::minutes(5),
        service_level_code: "GROUND".into(),
    };
    assert!(client().post_shipments(&acct, &[ship.into()]).await.unwrap_or_else(|e| panic!("{e}")).is_empty());
    let refund = |id: &str, amount: &str| RefundItem {
        refund_id: id.into(),
        sales_channel_name: "OSTK".into(),
        order_number: "RF-1".into(),
        reason_code: "DAMAGED".into(),
        lines: vec![RefundLineItem {
            line_number: "1".into(),
            quantity: Some(1),
            amount: Money::parse(amount).unwrap_or_else(|e| panic!("{e}")),
        }],
        shipping_amount: None,
        notes: Some("scratched".into()),
    };
    let c = client();
    assert!(c.post_refunds(&acct, &[refund("r-1", "15.00")]).await.unwrap_or_else(|e| panic!("{e}")).is_empty());
    assert!(
        c.post_refunds(&acct, &[refund("r-1", "15.00")]).await.unwrap_or_else(|e| panic!("{e}")).is_empty(),
        "answered as the first"
    );
    let rejected = c.post_refunds(&acct, &[refund("r-2", "5.01")]).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!((rejected[0].order_number.as_str(), rejected[0].line_number.as_deref()), ("RF-1", Some("1")));
    assert!(rejected[0].message.contains("exceed"), "{rejected:?}");
    let orders = sb.orders(&user).await;
    assert_eq!(orders[0]["lines"][0]["refunded"], "15.00", "applied once: {}", orders[0]);
}
