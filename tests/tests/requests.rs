//! The request service with the real adapters: moto (orders, request records) and the sandbox
//! (short ships through tracking-upload, refunds), each message delivered three times.

use chrono::{Duration, Utc};
use serde_json::json;
use shared::domain::OrderNumber;
use shared::domain::SystemClock;
use shared::domain::cancellation::ShortShip;
use shared::domain::order::{LocalStatus, PaymentStatus};
use shared::domain::shipment::ShipmentRequest;
use shared::services::requests::{MessageResult, RequestService};
use shared::store::{OrderStore, RequestState, RequestStore};
use tests::{World, up};

fn num(s: &str) -> OrderNumber {
    OrderNumber::parse(s).unwrap_or_else(|e| panic!("{e}"))
}

async fn deliver(w: &World, body: &str) -> MessageResult {
    let svc = RequestService {
        store: &w.store,
        overstock: &w.overstock,
        credentials: &w.credentials,
        clock: &SystemClock,
        config: Default::default(),
    };
    svc.handle_message(body).await
}

#[tokio::test]
async fn cancel_then_refund_each_delivered_three_times_have_one_effect_on_overstock() {
    let two: &[(&str, u32, &str)] = &[("A", 2, "10.00"), ("B", 1, "5.50")];
    let (w, id) = World::with_orders(&[("Q-1", two), ("Q-2", two)]).await;

    // Q-1: line 2 cancelled before shipping.
    let cancel = json!({"type": "cancel", "version": 1, "request_id": "erp-c-1", "company_id": id.as_str(), "order_number": "Q-1",
                        "lines": ["2"], "reason": "OUT_OF_STOCK", "requested_by": "erp"})
    .to_string();
    for _ in 0..3 {
        assert!(matches!(deliver(&w, &cancel).await, MessageResult::Finished(o) if o.status == "done"));
    }
    // Q-1 line 1 and all of Q-2 ship; the upload sends the short ship with the confirmations.
    let at = Utc::now() - Duration::minutes(5);
    for (n, lines) in [("Q-1", vec![("1".to_owned(), 2)]), ("Q-2", vec![("1".to_owned(), 2), ("2".to_owned(), 1)])] {
        let req = ShipmentRequest {
            lines,
            carrier_code: None,
            shipping_method: None,
            tracking_number: format!("1Z{}", n.replace('-', "")),
            ship_date: at,
        };
        shared::services::shipping::record_shipment(&w.store, &id, &num(n), &req, Utc::now())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let run = w.upload("up").await;
    assert_eq!((up(&run, &id).short_ships, up(&run, &id).accepted), (1, 3), "{:?}", up(&run, &id));
    let q1 = w.order(&id, "Q-1").await;
    assert!(matches!(q1.cancellations[0].lines[0].short_ship, ShortShip::Accepted { .. }));
    assert_eq!(q1.local_status, LocalStatus::ShipConfirmed, "the rest of the order confirmed");
    let short_ships: usize = w
        .sandbox
        .received(id.as_str(), "/shipments")
        .await
        .iter()
        .flat_map(|m| m["elements"].as_array().cloned().unwrap_or_default())
        .filter(|e| e["kind"] == "short_ship")
        .count();
    assert_eq!(short_ships, 1, "one short ship for three deliveries");

    // a refund, three times; then one above what is left, refused here (never sent).
    let refund = json!({"type": "refund", "version": 1, "request_id": "hd-r-1", "company_id": id.as_str(), "order_number": "Q-2",
                        "lines": [{"line": "1", "amount": "15.00", "quantity": 1}], "reason": "DAMAGED", "requested_by": "helpdesk"})
    .to_string();
    for _ in 0..3 {
        let r = deliver(&w, &refund).await;
        assert!(matches!(&r, MessageResult::Finished(o) if o.status == "done"), "{r:?}");
    }
    let too_much = refund.replace("hd-r-1", "hd-r-2").replace("15.00", "5.01");
    assert!(
        matches!(deliver(&w, &too_much).await, MessageResult::Finished(o) if o.status == "rejected" && o.detail.contains("above what was charged"))
    );
    let posted = w.sandbox.received(id.as_str(), "/refunds").await;
    assert_eq!(posted.len(), 1, "one POST /refunds");
    let sandbox_q2 = w.sandbox.orders(id.as_str()).await.into_iter().find(|o| o["number"] == "Q-2").unwrap_or_default();
    assert_eq!(sandbox_q2["lines"][0]["refunded"], "15.00");
    let q2 = w.order(&id, "Q-2").await;
    assert_eq!(q2.payment_status, PaymentStatus::PartiallyRefunded);
    let rec =
        w.store.get_request(&id, "hd-r-1").await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("record"));
    assert!(matches!(rec.state, RequestState::Done { .. }), "{rec:?}");
}

/// A message SQS did not take says whether sending it again may work: a queue that is gone
/// (moto over HTTP) refuses it again; no connection may pass.
#[tokio::test]
async fn a_failed_send_says_whether_sending_again_may_work() {
    use shared::queue::sqs_error;
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let url = tests::queue(&sqs, "gone").await;
    sqs.delete_queue().queue_url(&url).send().await.unwrap_or_else(|e| panic!("{e}"));
    let gone = sqs.send_message().queue_url(&url).message_body("{}").send().await;
    let gone = sqs_error("send", gone.err().unwrap_or_else(|| panic!("a deleted queue took a message")));
    assert!(!gone.is_retryable(), "{gone}");

    // A port nobody listens on (bound, then closed), without the SDK's own retries.
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port());
    let port = port.unwrap_or_else(|e| panic!("{e}"));
    let closed = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&config)
            .endpoint_url(format!("http://127.0.0.1:{port}"))
            .retry_config(aws_sdk_sqs::config::retry::RetryConfig::disabled())
            .build(),
    );
    let down = closed.send_message().queue_url(&url).message_body("{}").send().await;
    let down = sqs_error("send", down.err().unwrap_or_else(|| panic!("a closed port took a message")));
    assert!(down.is_retryable(), "{down}");
}

/// Outcomes reach the outcomes queue as JSON (moto's SQS over HTTP), and a batch's item failures
/// name only the messages to retry.
#[tokio::test]
async fn outcomes_are_published_on_the_outcomes_queue() {
    use shared::queue::SqsOutcomes;
    use shared::services::requests::{CANCEL_QUEUE, OutcomeSink, RequestOutcome};
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let name = tests::unique("outcomes");
    let url = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .queue_url
        .unwrap_or_default();
    let dlq = sqs
        .create_queue()
        .queue_name(tests::unique("dlq"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .queue_url
        .unwrap_or_default();
    let sink = SqsOutcomes::new(sqs.clone(), Some(url.clone())).with_dead_letter_queue(Some(dlq.clone()));
    let outcome = RequestOutcome {
        request_id: Some("erp-1".into()),
        company_id: Some("acme".into()),
        order_number: Some("O-1".into()),
        kind: Some("cancel".into()),
        status: "done",
        detail: "cancelled line(s) 2".into(),
    };
    sink.publish(&outcome).await.unwrap_or_else(|e| panic!("{e}"));
    let got = sqs.receive_message().queue_url(&url).wait_time_seconds(1).send().await.unwrap_or_else(|e| panic!("{e}"));
    let body = got.messages.unwrap_or_default().first().and_then(|m| m.body.clone()).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(
        v,
        json!({"request_id": "erp-1", "company_id": "acme", "order_number": "O-1", "type": "cancel", "status": "done", "detail": "cancelled line(s) 2"})
    );

    // The batch: a malformed message is finished (published, not retried).
    let w = World::new().await;
    let svc = RequestService {
        store: &w.store,
        overstock: &w.overstock,
        credentials: &w.credentials,
        clock: &SystemClock,
        config: CANCEL_QUEUE,
    };
    let event: aws_lambda_events::event::sqs::SqsEvent =
        serde_json::from_value(json!({"Records": [{"messageId": "m-1", "body": "{not json"}]}))
            .unwrap_or_else(|e| panic!("{e}"));
    let response = svc.handle_batch(&sink, event).await;
    assert!(response.batch_item_failures.is_empty());
    let got = sqs.receive_message().queue_url(&url).wait_time_seconds(1).send().await.unwrap_or_else(|e| panic!("{e}"));
    let body = got.messages.unwrap_or_default().first().and_then(|m| m.body.clone()).unwrap_or_default();
    assert!(body.contains("\"status\":\"rejected\"") && body.contains("not JSON"), "{body}");
    // ...and kept on the dead-letter queue, not dropped.
    let got = sqs.receive_message().queue_url(&dlq).wait_time_seconds(1).send().await.unwrap_or_else(|e| panic!("{e}"));
    let kept = got.messages.unwrap_or_default().first().and_then(|m| m.body.clone()).unwrap_or_default();
    assert_eq!(kept, "{not json");
}

/// The local pump with moto's SQS: a finished message is deleted; one the service asks to
/// retry comes back after the visibility timeout and, after `maxReceiveCount`, sits in the DLQ
/// with its reason on the request record, as with Lambda's event source mapping in AWS.
#[tokio::test]
async fn the_pump_deletes_what_finished_and_a_message_that_keeps_waiting_lands_in_the_dlq() {
    use shared::services::requests::CANCEL_QUEUE;
    let (w, id) = World::with_orders(&[("P-1", &[("A", 1, "10.00"), ("B", 1, "5.00")])]).await;
    // Line 1 has a package being sent: a cancel of it waits.
    let req = ShipmentRequest {
        lines: vec![("1".into(), 1)],
        carrier_code: None,
        shipping_method: None,
        tracking_number: "1ZP1".into(),
        ship_date: Utc::now() - Duration::minutes(1),
    };
    shared::services::shipping::record_shipment(&w.store, &id, &num("P-1"), &req, Utc::now())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut o = w.order(&id, "P-1").await;
    assert!(o.begin_sending(&[shared::domain::shipment::PackageLineRef { package: 0, line: 0 }], Utc::now()));
    assert!(w.store.replace_orders(&[o]).await.unwrap_or_else(|e| panic!("{e}")).is_empty());

    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let dlq = sqs
        .create_queue()
        .queue_name(tests::unique("cancel-dlq"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .queue_url
        .unwrap_or_default();
    let dlq_arn = format!("arn:aws:sqs:us-east-1:123456789012:{}", dlq.rsplit('/').next().unwrap_or_default());
    let queue = sqs
        .create_queue()
        .queue_name(tests::unique("cancel"))
        .attributes(aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout, "1")
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy,
            json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}).to_string(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .queue_url
        .unwrap_or_default();
    let send = |body: String| {
        let (sqs, queue) = (sqs.clone(), queue.clone());
        async move { sqs.send_message().queue_url(queue).message_body(body).send().await.unwrap_or_else(|e| panic!("{e}")) }
    };
    let msg = |rid: &str, line: &str| {
        json!({"type": "cancel", "version": 1, "request_id": rid, "company_id": id.as_str(), "order_number": "P-1", "lines": [line], "reason": "OUT_OF_STOCK"}).to_string()
    };
    send(msg("pump-ok", "2")).await;
    send(msg("pump-wait", "1")).await;
    send("{malformed".into()).await;

    let svc = RequestService {
        store: &w.store,
        overstock: &w.overstock,
        credentials: &w.credentials,
        clock: &SystemClock,
        config: CANCEL_QUEUE,
    };
    let sink = shared::queue::SqsOutcomes::new(sqs.clone(), None).with_dead_letter_queue(Some(dlq.clone()));
    let invoke = |event: serde_json::Value| {
        let (svc, sink) = (&svc, &sink);
        async move {
            let event: aws_lambda_events::event::sqs::SqsEvent = serde_json::from_value(event)?;
            Ok(serde_json::to_value(svc.handle_batch(sink, event).await)?)
        }
    };
    let mut total = sqs_pump::Pass::default();
    for _ in 0..6 {
        let p = sqs_pump::pass(&sqs, &queue, 1, invoke).await.unwrap_or_else(|e| panic!("{e}"));
        total.received += p.received;
        total.deleted += p.deleted;
        total.left += p.left;
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }
    assert_eq!(total.deleted, 2, "the done cancel and the malformed message: {total:?}");
    assert_eq!(total.left, 2, "the waiting cancel, twice (maxReceiveCount): {total:?}");
    let in_dlq = sqs
        .receive_message()
        .queue_url(&dlq)
        .max_number_of_messages(10)
        .message_attribute_names("All")
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .messages
        .unwrap_or_default();
    assert_eq!(in_dlq.len(), 2, "{in_dlq:?}");
    let body = |m: &aws_sdk_sqs::types::Message| m.body.clone().unwrap_or_default();
    let waiting = in_dlq.iter().find(|m| body(m).contains("pump-wait"));
    assert!(waiting.is_some(), "the waiting cancel, moved by the redrive policy: {in_dlq:?}");
    // The malformed message was never retried: kept at once, with its reason.
    let malformed = in_dlq.iter().find(|m| body(m) == "{malformed").unwrap_or_else(|| panic!("{in_dlq:?}"));
    let reason = malformed
        .message_attributes
        .as_ref()
        .and_then(|a| a.get(shared::queue::REJECTED_REASON))
        .and_then(|v| v.string_value.clone())
        .unwrap_or_default();
    assert!(reason.contains("not JSON"), "{reason}");
    let rec = w
        .store
        .get_request(&id, "pump-wait")
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("record"));
    assert_eq!((rec.state, rec.failures), (RequestState::Received, 2));
    assert!(rec.last_failure.unwrap_or_default().contains("being sent"), "the reason is on the record");
    let p1 = w.order(&id, "P-1").await;
    assert_eq!(p1.cancellations.len(), 1, "only the line without a package in flight");
}

/// Refund messages under 20 % Overstock faults (500s, 429s, `null` bodies), each redelivered
/// until it finishes: every request ends done, none lost, and Overstock applied each refund
/// exactly once however often it was sent.
#[tokio::test]
async fn refunds_under_overstock_faults_all_finish_and_apply_once() {
    let numbers: Vec<String> = (0..12).map(|i| format!("F-{i:02}")).collect();
    let one: &[(&str, u32, &str)] = &[("A", 1, "20.00")];
    let seeds: Vec<tests::SeedOrder> = numbers.iter().map(|n| (n.as_str(), one)).collect();
    let (w, id) = World::with_orders(&seeds).await;
    w.ship_all(&id, &numbers.iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert_eq!(up(&w.upload("up").await, &id).accepted, numbers.len());
    w.sandbox.faults(id.as_str(), json!({"share_500": 0.1, "share_429": 0.05, "share_null": 0.05})).await;
    let mut deliveries = 0;
    for n in &numbers {
        let body = json!({"type": "refund", "version": 1, "request_id": format!("rf-{n}"), "company_id": id.as_str(), "order_number": n,
                          "lines": [{"line": "1", "amount": "7.25"}], "reason": "PRICE_ADJUSTMENT"})
        .to_string();
        let mut finished = None;
        for _ in 0..10 {
            deliveries += 1;
            match deliver(&w, &body).await {
                MessageResult::Finished(o) => {
                    finished = Some(o);
                    break;
                }
                MessageResult::Unprocessable(o) => panic!("{o:?}"),
                MessageResult::Retry(_) => {}
            }
        }
        let o = finished.unwrap_or_else(|| panic!("{n} never finished"));
        assert_eq!(o.status, "done", "{o:?}");
    }
    w.sandbox.faults(id.as_str(), json!({})).await;
    assert!(deliveries > numbers.len(), "the faults did make some deliveries retry ({deliveries})");
    for o in w.sandbox.orders(id.as_str()).await {
        assert_eq!(o["lines"][0]["refunded"], "7.25", "applied once: {o}");
    }
}

/// A crash between `POST /refunds` and the write of its answer (injected: the refund is left
/// `sending` on the order, the request `received`, and Overstock already applied it): the
/// redelivery sends the same refund id again, Overstock answers it as the first, and the refund
/// is applied once.
#[tokio::test]
async fn a_crash_after_the_refund_was_posted_never_refunds_twice() {
    use shared::domain::requests::{Money, RefundLine, RefundRequest, RequestId};
    use shared::overstock::refunds::{RefundItem, RefundLineItem};
    let (w, id) = World::with_orders(&[("X-1", &[("A", 1, "30.00")])]).await;
    w.ship_all(&id, &["X-1"]).await;
    assert_eq!(up(&w.upload("up").await, &id).accepted, 1);

    let body = json!({"type": "refund", "version": 1, "request_id": "crash-1", "company_id": id.as_str(), "order_number": "X-1",
                      "lines": [{"line": "1", "amount": "12.00"}], "reason": "DAMAGED"})
    .to_string();
    // The killed delivery: recorded, refund written `sending`, POST applied by Overstock.
    let parsed = shared::domain::requests::parse_request(&body).unwrap_or_else(|e| panic!("{e}"));
    let record = shared::store::RequestRecord {
        company_id: id.clone(),
        request_id: "crash-1".into(),
        kind: "refund".into(),
        order_number: "X-1".into(),
        body_digest: format!("{:016x}", shared::overstock::xml::fnv1a(body.as_bytes())),
        received_at: Utc::now(),
        state: RequestState::Received,
        failures: 0,
        last_failure: None,
    };
    w.store.record_request(&record).await.unwrap_or_else(|e| panic!("{e}"));
    let mut o = w.order(&id, "X-1").await;
    let rid = RequestId::parse("crash-1").unwrap_or_else(|e| panic!("{e}"));
    let refund = RefundRequest {
        lines: vec![RefundLine {
            line: "1".into(),
            amount: Money::parse("12.00").unwrap_or_else(|e| panic!("{e}")),
            quantity: None,
        }],
        shipping_amount: None,
        reason: "DAMAGED".into(),
        notes: None,
        returning: false,
    };
    assert!(matches!(parsed.kind, shared::domain::requests::RequestKind::Refund(_)));
    o.refund(&rid, &refund, shared::domain::settings::default_shipping_refund_limit(), None, Utc::now())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(o.begin_refund(&rid, Utc::now()));
    assert!(w.store.replace_orders(&[o]).await.unwrap_or_else(|e| panic!("{e}")).is_empty());
    let item = RefundItem {
        refund_id: "crash-1".into(),
        sales_channel_name: "OSTK".into(),
        order_number: "X-1".into(),
        reason_code: "DAMAGED".into(),
        lines: vec![RefundLineItem {
            line_number: "1".into(),
            quantity: None,
            amount: Money::parse("12.00").unwrap_or_else(|e| panic!("{e}")),
        }],
        shipping_amount: None,
        notes: None,
    };
    let account = w.account(&id).await;
    assert!(
        shared::overstock::OverstockApi::post_refunds(&w.overstock, &account, &[item])
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty()
    );

    // The redelivery.
    let r = deliver(&w, &body).await;
    assert!(matches!(&r, MessageResult::Finished(o) if o.status == "done"), "{r:?}");
    let posts = w.sandbox.received(id.as_str(), "/refunds").await;
    assert_eq!(posts.len(), 2, "sent again with the same id");
    assert!(posts.iter().all(|m| m["elements"][0]["refund_id"] == "crash-1"));
    let sandbox_x1 = w.sandbox.orders(id.as_str()).await.into_iter().find(|o| o["number"] == "X-1").unwrap_or_default();
    assert_eq!(sandbox_x1["lines"][0]["refunded"], "12.00", "applied once");
    let x1 = w.order(&id, "X-1").await;
    assert_eq!(x1.payment_status, PaymentStatus::PartiallyRefunded);
}

/// Eight refund messages for one order handled at once (each 5.00 on a line charged 20.00):
/// version-checked writes serialise them (one that meets too many concurrent writes is retried,
/// as SQS would redeliver it), so exactly four are done and four refused over the cap, and
/// Overstock applied only the four.
#[tokio::test]
async fn concurrent_refunds_on_one_order_never_exceed_what_was_charged() {
    let (w, id) = World::with_orders(&[("C-1", &[("A", 1, "20.00")])]).await;
    w.ship_all(&id, &["C-1"]).await;
    assert_eq!(up(&w.upload("up").await, &id).accepted, 1);
    let bodies: Vec<String> = (0..8)
        .map(|i| {
            json!({"type": "refund", "version": 1, "request_id": format!("cc-{i}"), "company_id": id.as_str(), "order_number": "C-1",
                   "lines": [{"line": "1", "amount": "5.00"}], "reason": "PRICE_ADJUSTMENT"})
            .to_string()
        })
        .collect();
    // All at once; a message that meets too many concurrent writes is retried (SQS redelivers
    // it), so redeliver those until every message has finished.
    let mut results = futures::future::join_all(bodies.iter().map(|b| deliver(&w, b))).await;
    for _ in 0..10 {
        let pending: Vec<usize> =
            (0..results.len()).filter(|i| matches!(results[*i], MessageResult::Retry(_))).collect();
        if pending.is_empty() {
            break;
        }
        let again = futures::future::join_all(pending.iter().map(|i| deliver(&w, &bodies[*i]))).await;
        for (i, r) in pending.into_iter().zip(again) {
            results[i] = r;
        }
    }
    let mut done = 0;
    for r in &results {
        match r {
            MessageResult::Finished(o) if o.status == "done" => done += 1,
            MessageResult::Finished(o) => assert!(o.detail.contains("above what was charged"), "{o:?}"),
            MessageResult::Unprocessable(o) => panic!("{o:?}"),
            MessageResult::Retry(reason) => panic!("still retrying after ten redeliveries: {reason}"),
        }
    }
    assert_eq!(done, 4, "{results:?}");
    let c1 = w.order(&id, "C-1").await;
    assert_eq!(c1.refunded("1"), rust_decimal::Decimal::new(2000, 2));
    assert_eq!(c1.payment_status, PaymentStatus::Refunded);
    let sandbox_c1 = w.sandbox.orders(id.as_str()).await.into_iter().find(|o| o["number"] == "C-1").unwrap_or_default();
    assert_eq!(sandbox_c1["lines"][0]["refunded"], "20.00");
}

/// Delivers `body` until the service finishes it (at most 12 deliveries); returns the outcome
/// and how many deliveries it took.
async fn deliver_until_finished(w: &World, body: &str) -> (shared::services::requests::RequestOutcome, usize) {
    for n in 1..=12 {
        if let MessageResult::Finished(o) | MessageResult::Unprocessable(o) = deliver(w, body).await {
            return (o, n);
        }
    }
    panic!("never finished: {body}")
}

/// An RMA through moto and the sandbox: opened, received in two parts (each receipt delivered
/// three times, under 20 % Overstock faults), a receipt beyond what was expected refused, then
/// closed. Overstock receives one refund per receipt, with the RMA's price of what came back,
/// however often each receipt was delivered or sent; the order ends refunded.
#[tokio::test]
async fn rma_receipts_delivered_three_times_under_faults_refund_once_each() {
    let (w, id) = World::with_orders(&[("M-1", &[("A", 2, "10.00"), ("B", 1, "4.00")])]).await;
    w.ship_all(&id, &["M-1"]).await;
    assert_eq!(up(&w.upload("up").await, &id).accepted, 2);
    let msg = |v: serde_json::Value| {
        let mut base = json!({"version": 1, "company_id": id.as_str(), "order_number": "M-1", "rma_id": "RMA-7"});
        if let (Some(b), Some(extra)) = (base.as_object_mut(), v.as_object()) {
            b.extend(extra.clone());
        }
        base.to_string()
    };
    let open = msg(
        json!({"type": "rma_open", "request_id": "wms-open", "lines": [{"line": "1", "quantity": 2}], "reason": "CUSTOMER_RETURN"}),
    );
    for _ in 0..3 {
        let (o, _) = deliver_until_finished(&w, &open).await;
        assert_eq!(o.status, "done", "{o:?}");
    }
    w.sandbox.faults(id.as_str(), json!({"share_500": 0.1, "share_429": 0.05, "share_null": 0.05})).await;
    let mut deliveries = 0;
    for rid in ["wms-recv-1", "wms-recv-2"] {
        let receive = msg(json!({"type": "rma_receive", "request_id": rid, "lines": [{"line": "1", "quantity": 1}]}));
        for _ in 0..3 {
            let (o, n) = deliver_until_finished(&w, &receive).await;
            deliveries += n;
            assert_eq!(o.status, "done", "{rid}: {o:?}");
        }
    }
    w.sandbox.faults(id.as_str(), json!({})).await;
    // A third unit of line 1 was never expected back: refused, nothing sent.
    let beyond =
        msg(json!({"type": "rma_receive", "request_id": "wms-recv-3", "lines": [{"line": "1", "quantity": 1}]}));
    let (o, _) = deliver_until_finished(&w, &beyond).await;
    assert_eq!(o.status, "rejected", "{o:?}");
    let close = msg(json!({"type": "rma_close", "request_id": "wms-close"}));
    for _ in 0..3 {
        assert_eq!(deliver_until_finished(&w, &close).await.0.status, "done");
    }

    let refunds: Vec<serde_json::Value> = w
        .sandbox
        .received(id.as_str(), "/refunds")
        .await
        .into_iter()
        .filter(|m| m["http_status"] == 200)
        .flat_map(|m| m["elements"].as_array().cloned().unwrap_or_default())
        .collect();
    let mut ids: Vec<&str> = refunds.iter().filter_map(|e| e["refund_id"].as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids, ["RMA-7:wms-recv-1", "RMA-7:wms-recv-2"], "one refund id per receipt: {refunds:?}");
    let sandbox = w.sandbox.orders(id.as_str()).await.into_iter().find(|o| o["number"] == "M-1").unwrap_or_default();
    assert_eq!(sandbox["lines"][0]["refunded"], "20.00", "each receipt applied once on Overstock: {sandbox}");
    assert_eq!(sandbox["lines"][1]["refunded"], "0", "{sandbox}");
    let m1 = w.order(&id, "M-1").await;
    assert_eq!(m1.rmas.len(), 1);
    let received: u32 = m1.rmas[0].received.iter().filter(|(l, _)| l == "1").map(|(_, q)| q).sum();
    assert_eq!(received, 2, "{:?}", m1.rmas[0].received);
    assert!(m1.rmas[0].closed_at.is_some());
    assert_eq!(m1.refunds.len(), 2, "{:?}", m1.refunds);
    assert_eq!(m1.payment_status, PaymentStatus::PartiallyRefunded, "line 2 is still charged");
    assert!(deliveries >= 6, "{deliveries}");
}

/// A refund whose sends keep failing (Overstock answers 500) is retried by redelivery; on the
/// queue's last delivery it is recorded as given up and the sender is told (`gave_up`, with the
/// reason), the message left to SQS's redrive (kept on the DLQ). Moved back once Overstock
/// answers again, it is done, refunded once.
#[tokio::test]
async fn a_request_retried_until_its_queue_gives_up_ends_with_a_gave_up_outcome() {
    use shared::services::requests::{REFUND_QUEUE, RequestsConfig};
    let (w, id) = World::with_orders(&[("GU-1", &[("A", 1, "10.00")])]).await;
    let shipped = ShipmentRequest {
        lines: vec![("1".into(), 1)],
        carrier_code: None,
        shipping_method: None,
        tracking_number: "1ZGU1".into(),
        ship_date: Utc::now() - Duration::minutes(5),
    };
    shared::services::shipping::record_shipment(&w.store, &id, &num("GU-1"), &shipped, Utc::now())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(up(&w.upload("gu-up").await, &id).accepted, 1);
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let outcomes = tests::queue(&sqs, "outcomes").await;
    let sink = shared::queue::SqsOutcomes::new(sqs.clone(), Some(outcomes.clone()));
    let svc = RequestService {
        store: &w.store,
        overstock: &w.overstock,
        credentials: &w.credentials,
        clock: &SystemClock,
        config: RequestsConfig { max_receives: 3, ..REFUND_QUEUE },
    };
    let body = json!({"type": "refund", "version": 1, "request_id": "gu-r-1", "company_id": id.as_str(), "order_number": "GU-1",
                      "lines": [{"line": "1", "amount": "4.00"}], "reason": "DAMAGED", "requested_by": "helpdesk"})
    .to_string();
    let delivery = |receives: u32| -> aws_lambda_events::event::sqs::SqsEvent {
        serde_json::from_value(json!({"Records": [{"messageId": format!("m-{receives}"), "body": body,
                                                   "attributes": {"ApproximateReceiveCount": receives.to_string()}}]}))
        .unwrap_or_else(|e| panic!("{e}"))
    };
    let published = || async {
        let got = sqs
            .receive_message()
            .queue_url(&outcomes)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        got.messages
            .unwrap_or_default()
            .iter()
            .filter_map(|m| m.body.as_deref().and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok()))
            .collect::<Vec<_>>()
    };
    w.sandbox.faults(id.as_str(), json!({"share_500": 1.0})).await;
    for receives in [1, 2] {
        let r = svc.handle_batch(&sink, delivery(receives)).await;
        assert_eq!(r.batch_item_failures.len(), 1, "delivery {receives} comes back: {:?}", published().await);
    }
    assert!(published().await.is_empty(), "nothing said while deliveries are left");
    let last = svc.handle_batch(&sink, delivery(3)).await;
    assert_eq!(last.batch_item_failures.len(), 1, "left to SQS's redrive: kept on the DLQ");
    let said = published().await;
    assert_eq!(said.len(), 1, "{said:?}");
    assert_eq!((said[0]["status"].as_str(), said[0]["request_id"].as_str()), (Some("gave_up"), Some("gu-r-1")));
    assert!(said[0]["detail"].as_str().is_some_and(|d| d.contains("3 deliveries") && d.contains("500")), "{said:?}");
    let rec = w
        .store
        .get_request(&id, "gu-r-1")
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("recorded"));
    assert!(matches!(&rec.state, RequestState::GaveUp { reason, .. } if reason.contains("500")), "{rec:?}");
    assert_eq!(rec.failures, 3);

    // Overstock answers again; the message is moved back from the DLQ (its count starts over).
    w.sandbox.faults(id.as_str(), json!({})).await;
    let replay = svc.handle_batch(&sink, delivery(1)).await;
    assert!(replay.batch_item_failures.is_empty(), "{replay:?}");
    let said = published().await;
    assert_eq!(said.iter().map(|o| o["status"].as_str().unwrap_or_default()).collect::<Vec<_>>(), ["done"], "{said:?}");
    let rec = w
        .store
        .get_request(&id, "gu-r-1")
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("recorded"));
    assert!(matches!(rec.state, RequestState::Done { .. }), "{rec:?}");
    let applied = w.sandbox.received(id.as_str(), "/refunds").await.iter().filter(|m| m["http_status"] == 200).count();
    assert_eq!(applied, 1, "refunded once");
}

/// A refund's shipping amount is bounded by the company's ceiling over every refund of the order:
/// 9,999,999.99 of shipping is refused with the reason, nothing is sent to Overstock; within the
/// ceiling it is sent; raised by the operator, more goes.
#[tokio::test]
async fn a_shipping_refund_above_the_company_ceiling_is_refused_and_never_sent() {
    let one: &[(&str, u32, &str)] = &[("A", 1, "30.00")];
    let (w, id) = World::with_orders(&[("S-1", one)]).await;
    w.ship_all(&id, &["S-1"]).await;
    let run = w.upload("up").await;
    assert_eq!(up(&run, &id).accepted, 1, "{:?}", up(&run, &id));
    let body = |request: &str, shipping: &str| {
        json!({"type": "refund", "version": 1, "request_id": request, "company_id": id.as_str(), "order_number": "S-1",
               "lines": [{"line": "1", "amount": "1.00"}], "shipping_amount": shipping, "reason": "DAMAGED"})
        .to_string()
    };
    let r = deliver(&w, &body("s-1", "9999999.99")).await;
    assert!(
        matches!(&r, MessageResult::Finished(o) if o.status == "rejected" && o.detail.contains("shipping refund above the company's limit")),
        "{r:?}"
    );
    assert!(w.sandbox.received(id.as_str(), "/refunds").await.is_empty(), "nothing sent");
    let r = deliver(&w, &body("s-2", "12.00")).await;
    assert!(matches!(&r, MessageResult::Finished(o) if o.status == "done"), "{r:?}");
    let r = deliver(&w, &body("s-3", "90.00")).await;
    assert!(
        matches!(&r, MessageResult::Finished(o) if o.status == "rejected" && o.detail.contains("12.00 already refunded")),
        "{r:?}"
    );
    // The operator raises the ceiling for this company: the same amount goes.
    let mut c = shared::store::CompanyStore::get_company(&w.store, &id)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("company"));
    let mut change = shared::domain::settings_change::SettingsChange::default();
    change.set("shipping-refund-limit", "200").unwrap_or_else(|e| panic!("{e}"));
    let policy = shared::domain::endpoint::EndpointPolicy { allowed_hosts: Vec::new(), allow_loopback: true };
    change.apply(&mut c.settings, &policy).unwrap_or_else(|e| panic!("{e}"));
    shared::store::CompanyStore::update_settings(&w.store, &id, &c.settings, Utc::now())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let r = deliver(&w, &body("s-4", "90.00")).await;
    assert!(matches!(&r, MessageResult::Finished(o) if o.status == "done"), "{r:?}");
    assert_eq!(w.sandbox.received(id.as_str(), "/refunds").await.len(), 2, "the two within the ceiling");
}
