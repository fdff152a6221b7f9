//! Each function's flows run with clients that record every AWS call (moto over HTTP), and every
//! call is looked up in the statements `template.yaml` gives that function's role: a call the
//! role lacks fails here, before `sam deploy` and a real account find it.

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use shared::domain::SystemClock;
use shared::domain::shipment::ShipmentRequest;
use shared::domain::work::{Flow, WorkItem};
use shared::queue::{Announcer, SqsOutcomes};
use shared::services::fanout::{Dispatcher, work_batch};
use shared::services::inventory::{IntakeService, PushConfig};
use shared::services::requests::{CANCEL_QUEUE, REFUND_QUEUE, RequestService};
use std::collections::BTreeMap;
use tests::iam::{Recorder, Roles, recorded_sqs, recorded_store};
use tests::{World, of};

fn event(bodies: &[String]) -> aws_lambda_events::event::sqs::SqsEvent {
    let records: Vec<Value> =
        bodies.iter().enumerate().map(|(i, b)| json!({"messageId": format!("m-{i}"), "body": b})).collect();
    serde_json::from_value(json!({ "Records": records })).unwrap_or_else(|e| panic!("{e}"))
}

/// A tick of `flow` through its work queue with recorded clients: the dispatcher puts the
/// company's item on the queue, the worker frame runs it with `run` and keeps a malformed item on
/// the DLQ. Returns the queues as the function's environment names them.
async fn fan_out<T, F, Fut>(
    store: &shared::store::DynamoStore,
    rec: &Recorder,
    plain: &aws_sdk_sqs::Client,
    id: &shared::domain::CompanyId,
    flow: Flow,
    run: F,
) -> BTreeMap<String, String>
where
    T: shared::services::fanout::Worked + std::fmt::Debug,
    F: Fn(WorkItem, chrono::DateTime<Utc>) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let work = tests::queue(plain, &format!("work-{}", flow.as_str())).await;
    let dlq = tests::queue(plain, &format!("work-{}-dlq", flow.as_str())).await;
    let queue = shared::queue::SqsWorkQueue::new(recorded_sqs(rec).await, [(flow, work.clone())]);
    let dispatcher = Dispatcher { store, queue: &queue, clock: &SystemClock, config: Default::default() };
    let tick = Utc::now();
    let dispatched = dispatcher.dispatch(flow, tick).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(dispatched.dispatched, 1, "{flow:?}: {dispatched:?}");
    let item = WorkItem { flow, company_id: id.clone(), tick }.to_json();
    let keep = SqsOutcomes::new(recorded_sqs(rec).await, None).with_dead_letter_queue(Some(dlq.clone()));
    let (response, worked) = work_batch(
        store,
        &SystemClock,
        &keep,
        flow,
        event(&[item, "{not json".to_owned()]),
        Utc::now() + Duration::minutes(5),
        Duration::seconds(20),
        run,
    )
    .await;
    assert!(response.batch_item_failures.is_empty() && worked.len() == 1, "{flow:?}: {response:?} {worked:?}");
    let name = flow.as_str().to_ascii_uppercase();
    BTreeMap::from([(format!("WORK_QUEUE_{name}_URL"), work), (format!("WORK_QUEUE_{name}_DLQ_URL"), dlq)])
}

/// What each function's role lacks, and what it grants that the flows here never used.
struct Check {
    roles: Roles,
    prefix: String,
    missing: Vec<String>,
}

impl Check {
    fn record(&mut self, function: &str, rec: &Recorder, queues: &BTreeMap<String, String>) {
        let calls = rec.calls();
        assert!(!calls.is_empty(), "{function}: no call recorded");
        self.missing.extend(self.roles.missing(function, &calls, &self.prefix, queues));
        for u in self.roles.unused(function, &calls, &self.prefix, queues) {
            eprintln!("granted, not used by these flows: {u}");
        }
        rec.clear();
    }
}

#[tokio::test]
async fn every_aws_call_of_each_function_is_granted_by_its_role() {
    let mut w = World::new().await;
    let id = w
        .company("current", |s| {
            s.fulfillment_upload = true;
            s.inventory_upload = true;
            s.send_backorder_info = true;
        })
        .await;
    w.standard_mappings(&id).await;
    let prefix = w.store.tables().orders.strip_suffix("orders").unwrap_or_default().to_owned();
    let mut check = Check { roles: Roles::load(), prefix, missing: Vec::new() };
    let plain = aws_sdk_sqs::Client::new(&aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await);
    let outcomes = tests::queue(&plain, "outcomes").await;
    let created = Utc::now() - Duration::minutes(40);
    for (n, at, poison) in [
        ("I-1", created, None),
        ("I-2", created + Duration::seconds(30), None),
        ("I-3", created + Duration::seconds(60), Some(json!(["quantity", "-3"]))),
        ("I-4", created + Duration::seconds(90), Some(json!(["contactName", "a<b"]))),
    ] {
        let mut o = json!({"order_number": n, "created": at, "service_level_code": "GROUND",
                           "lines": [{"partner_sku": "SKU-1", "quantity": 2, "item_price": "10.00"}]});
        if let Some(p) = poison {
            o["wire_override"] = p;
        }
        w.sandbox.seed(id.as_str(), o).await;
    }
    let plain_store = w.store.clone();

    // order-download: new orders, a quarantined order, an unreadable second, an acknowledgement
    // left pending, then a run that reads them all again, the status sync and an announcement.
    let rec = Recorder::default();
    w.store = recorded_store(&plain_store, &rec).await;
    w.sandbox.hostile(id.as_str(), json!({"mode": "html400", "times": 1, "endpoint": "POST /acknowledgements"})).await;
    let first = w.download("iam-1").await;
    assert!(!of(&first, &id).unreadable_seconds.is_empty(), "{:?}", of(&first, &id));
    let r = reqwest::Client::new()
        .post(format!("{}/admin/accounts/{}/orders/I-2/cancel", w.sandbox.base, id.as_str()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(r.status().is_success());
    let second = w.download("iam-2").await;
    let announcer = SqsOutcomes::new(recorded_sqs(&rec).await, Some(outcomes.clone()));
    announcer.announce_cancellations(second.cancelled_by_overstock()).await;
    // The fan-out: a tick dispatches the company's work item on the download work queue; the
    // worker takes it (and a malformed one, kept on the work queue's DLQ).
    let deps = shared::services::order_download::Deps {
        store: &w.store,
        overstock: &w.overstock,
        credentials: &w.credentials,
        clock: &SystemClock,
        config: w.config.clone(),
    };
    let mut queues = fan_out(&w.store, &rec, &plain, &id, Flow::Download, |i: WorkItem, d| {
        let deps = &deps;
        async move { deps.run_one(&i.company_id, &i.run_id(), d).await }
    })
    .await;
    queues.insert("OUTCOMES_QUEUE_URL".into(), outcomes.clone());
    check.record("OrderDownloadFunction", &rec, &queues);

    // tracking-upload: a shipment sent, and the announcement of a cancellation.
    w.store = plain_store.clone();
    let request = ShipmentRequest {
        lines: vec![("1".into(), 2)],
        carrier_code: None,
        shipping_method: None,
        tracking_number: "1ZIAM0001".into(),
        ship_date: Utc::now() - Duration::minutes(5),
    };
    let number = shared::domain::OrderNumber::parse("I-1").unwrap_or_else(|e| panic!("{e}"));
    shared::services::shipping::record_shipment(&w.store, &id, &number, &request, Utc::now())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    w.store = recorded_store(&plain_store, &rec).await;
    let run = w.upload("iam-up").await;
    announcer.announce_cancellations(run.cancelled_by_overstock()).await;
    let uploader = shared::services::tracking_upload::Uploader {
        store: &w.store,
        overstock: &w.overstock,
        credentials: &w.credentials,
        clock: &SystemClock,
        config: w.upload_config.clone(),
    };
    let mut queues = fan_out(&w.store, &rec, &plain, &id, Flow::Upload, |i: WorkItem, d| {
        let uploader = &uploader;
        async move { uploader.run_one(&i.company_id, &i.run_id(), d).await }
    })
    .await;
    queues.insert("OUTCOMES_QUEUE_URL".into(), outcomes.clone());
    check.record("TrackingUploadFunction", &rec, &queues);

    // inventory-intake: a count and a purchase order applied, a malformed message kept on the DLQ.
    let intake_dlq = tests::queue(&plain, "intake-dlq").await;
    let at = (Utc::now() - Duration::minutes(1)).to_rfc3339();
    let bodies = [
        json!({"type": "inventory_update", "version": 1, "company_id": id.as_str(), "sku": "SKU-1", "available": 0, "counted_at": at}).to_string(),
        json!({"type": "purchase_order", "version": 1, "company_id": id.as_str(), "po_number": "PO-1", "status": "open",
               "updated_at": at, "lines": [{"sku": "SKU-1", "quantity": 5, "expected_date": (Utc::now() + Duration::days(20)).format("%Y-%m-%d").to_string()}]}).to_string(),
        "{not json".to_owned(),
    ];
    let store = recorded_store(&plain_store, &rec).await;
    let dead_letters =
        SqsOutcomes::new(recorded_sqs(&rec).await, None).with_dead_letter_queue(Some(intake_dlq.clone()));
    let response =
        IntakeService { store: &store, clock: &SystemClock }.handle_batch(&dead_letters, event(&bodies)).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    check.record("InventoryIntakeFunction", &rec, &BTreeMap::from([("INVENTORY_INTAKE_DLQ_URL".into(), intake_dlq)]));

    // inventory-push: the values sent, the daily comparison with Overstock.
    w.store = recorded_store(&plain_store, &rec).await;
    let pushed = w.push("iam-push", PushConfig::default()).await;
    assert!(pushed.companies.iter().any(|c| c.sent > 0), "{pushed:?}");
    let pusher = shared::job::Ports {
        store: &w.store,
        overstock: &w.overstock,
        credentials: &w.credentials,
        clock: &SystemClock,
        config: PushConfig::default(),
    };
    let queues = fan_out(&w.store, &rec, &plain, &id, Flow::Inventory, |i: WorkItem, d| {
        let pusher = &pusher;
        async move { pusher.run_one(&i.company_id, &i.run_id(), d).await }
    })
    .await;
    check.record("InventoryPushFunction", &rec, &queues);

    // reconcile: a company with inventory upload on (its inventory compared too).
    let store = recorded_store(&plain_store, &rec).await;
    let checks = shared::services::reconcile::reconcile_all(&store, &w.overstock, &w.credentials, &SystemClock, 7)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(checks.iter().all(|c| c.error.is_none()), "{checks:?}");
    let (overstock, credentials) = (&w.overstock, &w.credentials);
    let queues = fan_out(&store, &rec, &plain, &id, Flow::Reconcile, |i: WorkItem, _| {
        let store = &store;
        async move {
            shared::services::reconcile::reconcile_one(store, overstock, credentials, &SystemClock, 7, &i.company_id)
                .await
        }
    })
    .await;
    check.record("ReconcileFunction", &rec, &queues);

    // cancel-request and refund-request: one request done, one malformed kept on the DLQ.
    for (function, kind, dlq_var) in [
        ("CancelRequestFunction", "cancel", "CANCEL_REQUESTS_DLQ_URL"),
        ("RefundRequestFunction", "refund", "REFUND_REQUESTS_DLQ_URL"),
    ] {
        let dlq = tests::queue(&plain, "req-dlq").await;
        let store = recorded_store(&plain_store, &rec).await;
        let sink = SqsOutcomes::new(recorded_sqs(&rec).await, Some(outcomes.clone()))
            .with_dead_letter_queue(Some(dlq.clone()));
        let body = match kind {
            "cancel" => json!({"type": "cancel", "version": 1, "request_id": "iam-c", "company_id": id.as_str(),
                               "order_number": "I-4", "lines": ["1"], "reason": "OUT_OF_STOCK", "requested_by": "erp"}),
            _ => json!({"type": "refund", "version": 1, "request_id": "iam-r", "company_id": id.as_str(),
                         "order_number": "I-1", "lines": [{"line": "1", "amount": "5.00", "quantity": 1}],
                         "reason": "DAMAGED", "requested_by": "helpdesk"}),
        };
        let svc = RequestService {
            store: &store,
            overstock: &w.overstock,
            credentials: &w.credentials,
            clock: &SystemClock,
            config: if kind == "cancel" { CANCEL_QUEUE } else { REFUND_QUEUE },
        };
        // Delivered twice: the redelivery is answered from the record.
        for _ in 0..2 {
            let response = svc.handle_batch(&sink, event(&[body.to_string(), "{not json".to_owned()])).await;
            assert!(response.batch_item_failures.is_empty(), "{function}: {response:?}");
        }
        check.record(
            function,
            &rec,
            &BTreeMap::from([("OUTCOMES_QUEUE_URL".into(), outcomes.clone()), (dlq_var.into(), dlq)]),
        );
    }

    assert!(check.missing.is_empty(), "calls the template's roles do not allow:\n{}", check.missing.join("\n"));
}

/// Every inline policy says which policy language it is written in.
#[test]
fn every_inline_policy_names_its_version() {
    let roles = Roles::load();
    let policies = roles.policies();
    assert!(!policies.is_empty());
    for (function, p) in policies {
        if p.get("Statement").is_some() {
            assert_eq!(p["Version"], "2012-10-17", "{function}: {p}");
        }
    }
}
