//! The DynamoDB adapter against moto over HTTP.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{Duration, Utc};
use shared::domain::mapping::{MappingTable, ShippingMethodMapping};
use shared::domain::order::{AckState, Order, OverstockStatus, SalesOrder, ShippingSpecifications};
use shared::domain::settings::{Company, CompanySettings, CredentialsHealth, CredentialsRef, LeadTimeMonths};
use shared::domain::{CompanyId, OrderNumber, ServiceLevelCode};
use shared::store::{CompanyStore, MappingStore, OrderStore, PutOutcome, StoreError, SyncStateStore};
use tests::{fresh_store, unique};

fn company(id: &CompanyId, download: bool) -> Company {
    let mut settings = CompanySettings::new(
        "ACME MAIN".into(),
        tests::base_url("http://127.0.0.1:1"),
        CredentialsRef::parse("ref").unwrap_or_else(|e| panic!("{e}")),
    );
    settings.order_download = download;
    let now = Utc::now();
    Company {
        company_id: id.clone(),
        name: "Acme".into(),
        settings,
        credentials_health: CredentialsHealth::Ok,
        created_at: now,
        updated_at: now,
    }
}

fn order(company: &CompanyId, n: &str, code: &str, ack: bool) -> Order {
    let so = SalesOrder {
        order_number: OrderNumber::parse(n).unwrap_or_else(|e| panic!("{e}")),
        sales_channel_name: Some("OSTK".into()),
        order_date: None,
        sofs_created_date: Some(Utc::now()),
        warehouse_code: Some("ACME MAIN".into()),
        ship_to: None,
        return_address: None,
        shipping: ShippingSpecifications {
            service_level: ServiceLevelCode::parse(code)
                .ok()
                .map(|code| shared::domain::order::ServiceLevel { code, freight: false }),
            ..Default::default()
        },
        overstock_order_id: None,
        status: Some(OverstockStatus::Entered),
        action_required: Some(true),
        lines: vec![],
        expected_ship_date: None,
        wire_notes: Vec::new(),
    };
    let table = MappingTable::new([ShippingMethodMapping {
        code_to_receive: ServiceLevelCode::parse("GROUND").unwrap_or_else(|e| panic!("{e}")),
        shipping_method: "Ground".into(),
        code_to_send: "FEDEX".into(),
        rush: false,
    }]);
    Order::from_download(company.clone(), so, &table, ack, Utc::now())
}

fn cid() -> CompanyId {
    CompanyId::parse(&unique("c")).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn companies_are_listed_through_the_index_and_created_once() {
    let store = fresh_store().await;
    let (a, b) = (cid(), cid());
    store.create_company(&company(&a, true)).await.unwrap_or_else(|e| panic!("{e}"));
    store.create_company(&company(&b, false)).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(store.create_company(&company(&a, false)).await, Err(StoreError::Conflict(_))));
    let rows = store.list_companies().await.unwrap_or_else(|e| panic!("{e}"));
    let mut listed: Vec<String> =
        rows.into_iter().map(|c| c.map(|c| c.company_id.to_string()).unwrap_or_else(|e| panic!("{e}"))).collect();
    listed.sort();
    let mut expected = vec![a.to_string(), b.to_string()];
    expected.sort();
    assert_eq!(listed, expected);
    let got = store.get_company(&a).await.ok().flatten().unwrap_or_else(|| panic!("company"));
    assert!(got.settings.order_download, "the first create won");
}

/// A row edited in the table into something the domain refuses fails that company only.
#[tokio::test]
async fn an_unreadable_company_row_is_listed_as_such_and_the_others_still_read() {
    let store = fresh_store().await;
    let (good, bad) = (cid(), cid());
    store.create_company(&company(&good, true)).await.unwrap_or_else(|e| panic!("{e}"));
    store.create_company(&company(&bad, true)).await.unwrap_or_else(|e| panic!("{e}"));
    for (path, value) in [("settings.time_zone", "Nowhere/Else"), ("settings.initial_lookback_hours", "100000")] {
        let v = if path.ends_with("hours") { AttributeValue::N(value.into()) } else { AttributeValue::S(value.into()) };
        store
            .client()
            .update_item()
            .table_name(&store.tables().companies)
            .key("company_id", AttributeValue::S(bad.to_string()))
            .update_expression(format!("SET {path} = :v"))
            .expression_attribute_values(":v", v)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let rows = store.list_companies().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rows.len(), 2);
        for row in rows {
            match row {
                Ok(c) => assert_eq!(c.company_id, good),
                Err(e) => {
                    assert_eq!(e.company_id, bad.to_string());
                    assert!(!e.reason.is_empty());
                }
            }
        }
    }
}

#[tokio::test]
async fn settings_and_credentials_flag_round_trip() {
    let store = fresh_store().await;
    let a = cid();
    store.create_company(&company(&a, false)).await.unwrap_or_else(|e| panic!("{e}"));
    let mut s = store.get_company(&a).await.ok().flatten().unwrap_or_else(|| panic!("company")).settings;
    s.order_acknowledgement = true;
    s.backorder_lead_time_months = LeadTimeMonths::new(2).unwrap_or_else(|e| panic!("{e}"));
    store.update_settings(&a, &s, Utc::now()).await.unwrap_or_else(|e| panic!("{e}"));
    let flag = CredentialsHealth::Failed { at: Utc::now(), reason: "401".into() };
    store.set_credentials_health(&a, &flag, Utc::now()).await.unwrap_or_else(|e| panic!("{e}"));
    let got = store.get_company(&a).await.ok().flatten().unwrap_or_else(|| panic!("company"));
    assert_eq!(got.settings, s);
    assert!(matches!(got.credentials_health, CredentialsHealth::Failed { ref reason, .. } if reason == "401"));
    store.set_credentials_health(&a, &CredentialsHealth::Ok, Utc::now()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.get_company(&a).await.ok().flatten().map(|c| c.credentials_health), Some(CredentialsHealth::Ok));
    assert!(matches!(store.update_settings(&cid(), &s, Utc::now()).await, Err(StoreError::NotFound(_))));
}

#[tokio::test]
async fn mappings_are_per_company_and_replaced_by_code() {
    let store = fresh_store().await;
    let (a, b) = (cid(), cid());
    let m = |send: &str| ShippingMethodMapping {
        code_to_receive: ServiceLevelCode::parse("next_day").unwrap_or_else(|e| panic!("{e}")),
        shipping_method: "Next Day".into(),
        code_to_send: send.into(),
        rush: true,
    };
    store.put_mapping(&a, &m("UPS")).await.unwrap_or_else(|e| panic!("{e}"));
    store.put_mapping(&a, &m("FEDEX")).await.unwrap_or_else(|e| panic!("{e}"));
    let got = store.list_mappings(&a).await.unwrap_or_default();
    assert_eq!(got, vec![m("FEDEX")]);
    assert!(store.list_mappings(&b).await.unwrap_or_default().is_empty());
    // Removed by its code (any case), once; the other company's is never touched.
    store.put_mapping(&b, &m("UPS")).await.unwrap_or_else(|e| panic!("{e}"));
    let code = ServiceLevelCode::parse("NEXT_DAY").unwrap_or_else(|e| panic!("{e}"));
    assert!(store.remove_mapping(&a, &code).await.unwrap_or_else(|e| panic!("{e}")), "there was one");
    assert!(!store.remove_mapping(&a, &code).await.unwrap_or_else(|e| panic!("{e}")), "gone");
    assert!(store.list_mappings(&a).await.unwrap_or_default().is_empty());
    assert_eq!(store.list_mappings(&b).await.unwrap_or_default(), vec![m("UPS")]);
}

#[tokio::test]
async fn a_flows_last_run_reads_from_its_job_item() {
    use shared::domain::work::Flow;
    use shared::services::fanout::{DispatchStore, RunState};
    let store = fresh_store().await;
    let a = cid();
    let now = Utc::now();
    let run = |f| store.flow_run(&a, f);
    assert_eq!(run(Flow::Download).await.unwrap_or_else(|e| panic!("{e}")).state(now), RunState::Never);
    assert!(store.mark_dispatched(&a, Flow::Download, now, now - Duration::minutes(15)).await.unwrap_or(false));
    assert!(
        store.acquire_lease(&a, Flow::Download.job(), "run-1", now + Duration::minutes(5), now).await.unwrap_or(false)
    );
    assert_eq!(run(Flow::Download).await.unwrap_or_else(|e| panic!("{e}")).state(now), RunState::Running);
    store.release_lease(&a, Flow::Download.job(), "run-1").await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        run(Flow::Download).await.unwrap_or_else(|e| panic!("{e}")).state(now),
        RunState::Unfinished,
        "dispatched, released, never marked finished"
    );
    store.mark_finished(&a, Flow::Download, now + Duration::seconds(20)).await.unwrap_or_else(|e| panic!("{e}"));
    let r = run(Flow::Download).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.state(now + Duration::minutes(1)), RunState::Finished);
    assert_eq!(r.finished_at.map(|t| t.timestamp()), Some((now + Duration::seconds(20)).timestamp()));
    assert_eq!(run(Flow::Upload).await.unwrap_or_else(|e| panic!("{e}")).state(now), RunState::Never, "per flow");
}

#[tokio::test]
async fn orders_round_trip_digests_and_sparse_indexes() {
    let store = fresh_store().await;
    let a = cid();
    let mapped = order(&a, "O-1", "GROUND", true);
    let unmapped = order(&a, "O-2", "WHITE_GLOVE", false);
    store.put_new_orders(&[mapped.clone(), unmapped.clone()]).await.unwrap_or_else(|e| panic!("{e}"));
    let numbers = [
        mapped.order_number.clone(),
        unmapped.order_number.clone(),
        OrderNumber::parse("NOPE").unwrap_or_else(|e| panic!("{e}")),
    ];
    let got = store.get_orders(&a, &numbers).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got.len(), 2);
    assert_eq!(got[&mapped.order_number], mapped, "an order reads back exactly");
    let digests = store.order_digests(&a, &numbers).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(digests.len(), 2);
    assert_eq!(digests[&mapped.order_number].ostk_fingerprint, "ENTERED|1");
    assert!(digests[&mapped.order_number].ack_pending_key.is_some());
    assert!(digests[&unmapped.order_number].unmapped_key.is_some());
    assert_eq!(store.list_unmapped(&a).await.unwrap_or_default().len(), 1);
    assert_eq!(store.list_ack_pending(&a).await.unwrap_or_default().len(), 1);

    // Leaving a state removes the order from the sparse index.
    let mut acked = mapped.clone();
    acked.mark_acknowledged(Utc::now(), true);
    assert!(store.replace_orders(&[acked]).await.unwrap_or_else(|e| panic!("{e}")).is_empty());
    assert!(store.list_ack_pending(&a).await.unwrap_or_default().is_empty());
    let after = store.get_orders(&a, std::slice::from_ref(&mapped.order_number)).await.unwrap_or_default();
    assert_eq!(after[&mapped.order_number].version, 1);
    assert!(matches!(after[&mapped.order_number].ack, AckState::Acknowledged { .. }));
}

#[tokio::test]
async fn replace_with_a_stale_version_loses_and_changes_nothing() {
    let store = fresh_store().await;
    let a = cid();
    let o = order(&a, "O-1", "GROUND", false);
    store.put_new_orders(std::slice::from_ref(&o)).await.unwrap_or_else(|e| panic!("{e}"));
    let mut first = o.clone();
    first.rush = true;
    assert!(store.replace_orders(&[first]).await.unwrap_or_else(|e| panic!("{e}")).is_empty());
    let mut stale = o.clone();
    stale.attention.push("stale writer".into());
    let lost = store.replace_orders(&[stale]).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(lost, vec![o.order_number.clone()]);
    let now = store.get_orders(&a, std::slice::from_ref(&o.order_number)).await.unwrap_or_default();
    assert!(now[&o.order_number].rush);
    assert!(now[&o.order_number].attention.is_empty());
}

/// The lone writer's lost write: the SDK resends a request whose first attempt was applied but whose
/// answer was lost. The resent put finds its own write stored and says so; another writer's
/// put with the same base version still loses.
#[tokio::test]
async fn a_resent_put_recognises_its_own_write_and_another_writer_still_loses() {
    let store = fresh_store().await;
    let a = cid();
    let o = order(&a, "O-1", "GROUND", false);
    store.put_new_orders(std::slice::from_ref(&o)).await.unwrap_or_else(|e| panic!("{e}"));
    let mut ours = o.clone();
    ours.rush = true;
    assert_eq!(store.put_order_version(&ours, "token-a").await.unwrap_or_else(|e| panic!("{e}")), PutOutcome::Written);
    // The same request again (same token, same base version): the retry of an applied write.
    assert_eq!(store.put_order_version(&ours, "token-a").await.unwrap_or_else(|e| panic!("{e}")), PutOutcome::Written);
    // Another write on the same base version: a real lost race.
    let mut theirs = o.clone();
    theirs.attention.push("other writer".into());
    assert_eq!(
        store.put_order_version(&theirs, "token-b").await.unwrap_or_else(|e| panic!("{e}")),
        PutOutcome::VersionChanged
    );
    let stored = store.get_orders(&a, std::slice::from_ref(&o.order_number)).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stored[&o.order_number].version, 1, "written once");
    assert!(stored[&o.order_number].rush);
    assert!(stored[&o.order_number].attention.is_empty());
}

#[tokio::test]
async fn many_orders_batch_write_and_read_back() {
    let store = fresh_store().await;
    let a = cid();
    let orders: Vec<Order> = (0..260).map(|i| order(&a, &format!("B-{i:04}"), "GROUND", false)).collect();
    store.put_new_orders(&orders).await.unwrap_or_else(|e| panic!("{e}"));
    // The same orders again are still one each (same keys).
    store.put_new_orders(&orders[..30]).await.unwrap_or_else(|e| panic!("{e}"));
    let numbers: Vec<OrderNumber> = orders.iter().map(|o| o.order_number.clone()).collect();
    assert_eq!(store.order_digests(&a, &numbers).await.map(|d| d.len()).unwrap_or_default(), 260);
    assert_eq!(store.list_orders(&a, 1000).await.map(|v| v.len()).unwrap_or_default(), 260);
    assert_eq!(store.list_orders(&a, 50).await.map(|v| v.len()).unwrap_or_default(), 50);
}

#[tokio::test]
async fn lease_excludes_a_second_run_until_released_or_expired() {
    let store = fresh_store().await;
    let a = cid();
    let now = Utc::now();
    assert!(store.acquire_lease(&a, "job", "run-1", now + Duration::minutes(5), now).await.unwrap_or(false));
    assert!(!store.acquire_lease(&a, "job", "run-2", now + Duration::minutes(5), now).await.unwrap_or(true));
    assert!(
        store.acquire_lease(&a, "job", "run-1", now + Duration::minutes(6), now).await.unwrap_or(false),
        "re-entrant"
    );
    assert!(
        store.acquire_lease(&a, "other-job", "run-2", now + Duration::minutes(5), now).await.unwrap_or(false),
        "per job"
    );
    // Expired: a later run takes it.
    assert!(
        store
            .acquire_lease(&a, "job", "run-3", now + Duration::minutes(20), now + Duration::minutes(7))
            .await
            .unwrap_or(false)
    );
    store.release_lease(&a, "job", "run-1").await.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !store
            .acquire_lease(&a, "job", "run-4", now + Duration::minutes(30), now + Duration::minutes(8))
            .await
            .unwrap_or(true),
        "run-1 cannot release run-3's lease"
    );
    store.release_lease(&a, "job", "run-3").await.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        store
            .acquire_lease(&a, "job", "run-4", now + Duration::minutes(30), now + Duration::minutes(8))
            .await
            .unwrap_or(false)
    );
}

#[tokio::test]
async fn watermark_moves_forward_only_and_only_for_the_lease_holder() {
    let store = fresh_store().await;
    let a = cid();
    let now = Utc::now();
    assert_eq!(store.get_watermark(&a, "job").await.unwrap_or_else(|e| panic!("{e}")), None);
    assert!(store.acquire_lease(&a, "job", "run-1", now + Duration::minutes(5), now).await.unwrap_or(false));
    let t1 = now - Duration::hours(1);
    store.advance_watermark(&a, "job", "run-1", t1).await.unwrap_or_else(|e| panic!("{e}"));
    store.advance_watermark(&a, "job", "run-1", t1 - Duration::minutes(30)).await.unwrap_or_else(|e| panic!("{e}"));
    let got = store.get_watermark(&a, "job").await.ok().flatten();
    assert_eq!(got.map(|t| t.timestamp_millis()), Some(t1.timestamp_millis()), "never backwards");
    let err = store.advance_watermark(&a, "job", "run-2", now).await;
    assert!(matches!(err, Err(StoreError::Conflict(_))), "{err:?}");
    assert_eq!(
        store.get_watermark(&a, "job").await.ok().flatten().map(|t| t.timestamp_millis()),
        Some(t1.timestamp_millis())
    );
}

fn line(n: usize, name: String) -> shared::domain::order::SalesOrderLine {
    shared::domain::order::SalesOrderLine {
        line_number: n.to_string(),
        partner_sku: Some(name.clone()),
        sales_channel_sku: None,
        barcode: None,
        upc: None,
        quantity: 1,
        item_price: Some(rust_decimal::Decimal::new(1999, 2)),
        item_name: Some(name),
        line_status: None,
        unit_cost: None,
        unit_cost_currency_code: None,
    }
}

/// An order past the compression threshold is stored compressed and reads back exactly, through
/// every read path; one too large even compressed is refused before anything is written.
#[tokio::test]
async fn a_large_order_is_stored_compressed_and_a_too_large_one_is_refused_up_front() {
    let store = fresh_store().await;
    let a = cid();
    let mut big = order(&a, "BIG-1", "GROUND", false);
    big.overstock.lines =
        (1..=3000).map(|i| line(i, format!("ACME sofa, grey, three seats, oak legs, model {i:05}"))).collect();
    assert!(store.check_storable(&big).is_ok());
    store.put_new_orders(std::slice::from_ref(&big)).await.unwrap_or_else(|e| panic!("{e}"));
    let raw = store
        .client()
        .get_item()
        .table_name(&store.tables().orders)
        .key("company_id", AttributeValue::S(a.to_string()))
        .key("order_number", AttributeValue::S("BIG-1".into()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .item
        .unwrap_or_default();
    assert!(raw.contains_key("overstock_gz") && !raw.contains_key("overstock"), "stored compressed");
    let got = store.get_orders(&a, std::slice::from_ref(&big.order_number)).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got[&big.order_number], big, "reads back exactly");
    let listed = store.list_orders(&a, 10).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(listed[0].overstock.lines.len(), 3000);
    assert!(
        store.replace_orders(&[big.clone()]).await.unwrap_or_else(|e| panic!("{e}")).is_empty(),
        "updates go through too"
    );

    // Random names do not compress: beyond the item limit even compressed.
    let mut seed = 0x2545F4914F6CDD1Du64;
    let mut noise = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        format!("{seed:016x}")
    };
    let mut huge = order(&a, "HUGE-1", "GROUND", false);
    huge.overstock.lines = (1..=6000).map(|i| line(i, (0..8).map(|_| noise()).collect())).collect();
    match store.check_storable(&huge) {
        Err(StoreError::TooLarge { bytes, limit, .. }) => assert!(bytes > limit),
        other => panic!("{other:?}"),
    }
}

/// The request records behind the queues' idempotency: the first record wins, a redelivery
/// finds it (with its outcome), and an outcome is written over it.
#[tokio::test]
async fn a_request_is_recorded_once_and_found_again_with_its_outcome() {
    use shared::store::{Recorded, RequestRecord, RequestState, RequestStore};
    let store = fresh_store().await;
    let a = cid();
    let record = RequestRecord {
        company_id: a.clone(),
        request_id: "erp-1".into(),
        kind: "refund".into(),
        order_number: "O-1".into(),
        body_digest: "00ff".into(),
        received_at: Utc::now(),
        state: RequestState::Received,
        failures: 0,
        last_failure: None,
    };
    assert_eq!(store.record_request(&record).await.unwrap_or_else(|e| panic!("{e}")), Recorded::New);
    let mut other = record.clone();
    other.body_digest = "beef".into();
    match store.record_request(&other).await.unwrap_or_else(|e| panic!("{e}")) {
        Recorded::Existing(found) => assert_eq!(found, record, "the first record stands"),
        Recorded::New => panic!("recorded twice"),
    }
    let mut done = record.clone();
    done.state = RequestState::Done { at: Utc::now(), summary: "refunded 44.99".into() };
    store.update_request(&done).await.unwrap_or_else(|e| panic!("{e}"));
    let got = store.get_request(&a, "erp-1").await.unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(got.map(|r| r.state), Some(RequestState::Done { .. })));
    assert_eq!(store.list_requests(&a, 10).await.unwrap_or_else(|e| panic!("{e}")).len(), 1);
    let mut stranger = record.clone();
    stranger.request_id = "never-recorded".into();
    assert!(store.update_request(&stranger).await.is_err(), "an outcome only over a record");
}

/// The job state's contract (lease taken with the item read, release with notes, pokes,
/// records) on DynamoDB, the same suite the in-memory store passes.
#[tokio::test]
async fn dynamodb_keeps_the_job_state_contract() {
    let w = tests::World::new().await;
    let id = shared::domain::CompanyId::parse("acme").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(shared::store::job_state_contract(&w.store, &id).await, Ok(()));
}

/// Keys made from outside text cannot collide: an order numbered like an unreadable second's key,
/// or like an unnamed element's, is a record of its own beside them; releasing one leaves the
/// others. A record written before keys had kinds (the bare order number) reads as the order's and
/// is released with it.
#[tokio::test]
async fn quarantine_keys_from_outside_text_never_collide() {
    use shared::domain::window::Window;
    use shared::store::{QuarantineKey, QuarantineStore, QuarantinedOrder};
    let store = fresh_store().await;
    let id = CompanyId::parse(&unique("q")).unwrap_or_else(|e| panic!("{e}"));
    let t = chrono::DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z").map(|t| t.to_utc()).unwrap_or_default();
    let second = Window { start: t, end: t + Duration::seconds(1) };
    let record = |key: QuarantineKey, number: Option<&str>| {
        QuarantinedOrder::first_sighting(key.as_key(), number.map(Into::into), second, "why".into(), t)
    };
    let second_key = QuarantineKey::Second(t).as_key();
    let unnamed_key = QuarantineKey::Unnamed(0xabc).as_key();
    let records = [
        record(QuarantineKey::Second(t), None),
        record(QuarantineKey::Unnamed(0xabc), None),
        // Orders whose numbers spell the other kinds' keys, and one that spells an order's.
        record(QuarantineKey::Order(second_key.clone()), Some(&second_key)),
        record(QuarantineKey::Order(unnamed_key.clone()), Some(&unnamed_key)),
        record(QuarantineKey::Order("order#X".into()), Some("order#X")),
        record(QuarantineKey::Order("X".into()), Some("X")),
    ];
    store.quarantine(&id, &records).await.unwrap_or_else(|e| panic!("{e}"));
    let listed = store.list_quarantined(&id).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(listed.len(), 6, "six records, none written over: {listed:?}");
    store.release_quarantined(&id, &second_key).await.unwrap_or_else(|e| panic!("{e}"));
    store.release_quarantined(&id, &QuarantineKey::Order("X".into()).as_key()).await.unwrap_or_else(|e| panic!("{e}"));
    let mut left: Vec<Option<String>> = store
        .list_quarantined(&id)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|q| q.order_number)
        .collect();
    left.sort();
    assert_eq!(left, [None, Some("order#X".into()), Some(second_key.clone()), Some(unnamed_key.clone())]);

    // A record of the old spelling: the bare number as its key.
    store
        .client()
        .put_item()
        .table_name(&store.tables().sync_state)
        .item("company_id", AttributeValue::S(id.to_string()))
        .item("job", AttributeValue::S("quarantine#OLD-1".into()))
        .item("quarantine_key", AttributeValue::S("OLD-1".into()))
        .item("order_number", AttributeValue::S("OLD-1".into()))
        .item("window_start", AttributeValue::S(shared::domain::utc_key(t)))
        .item("window_end", AttributeValue::S(shared::domain::utc_key(t + Duration::seconds(1))))
        .item("reason", AttributeValue::S("why".into()))
        .item("first_seen", AttributeValue::S(shared::domain::utc_key(t)))
        .item("last_seen", AttributeValue::S(shared::domain::utc_key(t)))
        .item("sightings", AttributeValue::N("3".into()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let old_key = QuarantineKey::Order("OLD-1".into()).as_key();
    let listed = store.list_quarantined(&id).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(listed.iter().any(|q| q.key == old_key && q.sightings == 3), "{listed:?}");
    // Seen again under the new spelling: still one record.
    store
        .quarantine(&id, &[record(QuarantineKey::Order("OLD-1".into()), Some("OLD-1"))])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let listed = store.list_quarantined(&id).await.unwrap_or_else(|e| panic!("{e}"));
    let merged: Vec<_> = listed.iter().filter(|q| q.key == old_key).collect();
    assert_eq!(merged.len(), 1, "{listed:?}");
    assert_eq!(
        (merged[0].sightings, merged[0].first_seen),
        (4, t),
        "both records' reads, the first sighting: {merged:?}"
    );
    store.release_quarantined(&id, &old_key).await.unwrap_or_else(|e| panic!("{e}"));
    let listed = store.list_quarantined(&id).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(!listed.iter().any(|q| q.order_number.as_deref() == Some("OLD-1")), "both spellings released: {listed:?}");
}
